"""Every deploy file configures the guard with real settings keys and values that validate.

pydantic-settings silently ignores an unknown top-level `GUARD_…` variable, so the names are
also checked against the Settings model here: a typo in a manifest must fail a test, not be
dropped in production.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ops_helpers import COMPOSE, DEPLOY, K8S, REPO, guard_env_from_k8s
from pydantic import BaseModel

from guard.config import Settings, load_settings
from guard.errors import ConfigError

SYSTEMD_TOML = DEPLOY / "systemd" / "guard.toml"
K8S_TOML = K8S / "guard.toml"


def settings_key_exists(env_name: str) -> bool:
    """True if GUARD_<SECTION>__<KEY> (or GUARD_<KEY>) names a field of Settings."""
    if not env_name.startswith("GUARD_"):
        return False
    model: type[BaseModel] = Settings
    parts = env_name.removeprefix("GUARD_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No GUARD_ variable of the test runner leaks into the settings under test."""
    import os

    for name in list(os.environ):
        if name.startswith("GUARD_"):
            monkeypatch.delenv(name)
    yield monkeypatch


def load_with_env(env: dict[str, str], mp: pytest.MonkeyPatch, path: Path | None = None) -> Settings:
    for key, value in env.items():
        mp.setenv(key, value)
    return load_settings(path)


def compose_guard_env() -> dict[str, str]:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    env: dict[str, Any] = compose["services"]["guard"]["environment"]
    return {k: str(v) for k, v in env.items()}


def dockerfile_env() -> dict[str, str]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    return dict(re.findall(r"\b(GUARD_[A-Z0-9_]+)=(\S+)", text))


def systemd_env() -> dict[str, str]:
    text = (DEPLOY / "systemd" / "guard.service").read_text(encoding="utf-8")
    return dict(re.findall(r"^Environment=(GUARD_[A-Z0-9_]+)=(\S+)$", text, re.M))


def test_key_check_knows_real_and_bogus_names() -> None:
    assert settings_key_exists("GUARD_SMTP__UPSTREAM")
    assert settings_key_exists("GUARD_DATA_DIR")
    assert settings_key_exists("GUARD_STORE__KEYS")
    assert not settings_key_exists("GUARD_DATADIR")
    assert not settings_key_exists("GUARD_SMTP__UPSTREAM__HOST")
    assert not settings_key_exists("GUARD_SMTP__UPSTREAM_URL")


@pytest.mark.parametrize(
    "source",
    [compose_guard_env, dockerfile_env, systemd_env, guard_env_from_k8s],
    ids=["compose", "dockerfile", "systemd", "k8s-secret"],
)
def test_env_names_are_settings_keys(source: Any) -> None:
    env = source()
    assert env, f"{source.__name__} found no GUARD_ variables"
    unknown = sorted(k for k in env if not settings_key_exists(k))
    assert unknown == []


def test_compose_environment_validates(clean_env: pytest.MonkeyPatch) -> None:
    env = {**dockerfile_env(), **compose_guard_env()}
    s = load_with_env(env, clean_env)
    assert s.smtp.upstream == "smtp://mailpit:1025"
    assert s.store.url.startswith("postgresql://")
    assert s.http.listen == "0.0.0.0:8025"


def test_k8s_config_and_secret_validate(clean_env: pytest.MonkeyPatch) -> None:
    env = {**dockerfile_env(), **guard_env_from_k8s()}
    s = load_with_env(env, clean_env, K8S_TOML)
    # The file and the Secret are merged: listeners from the file, secrets from the environment.
    assert s.smtp.listen == "0.0.0.0:2525"
    assert s.smtp.upstream_password == env["GUARD_SMTP__UPSTREAM_PASSWORD"]
    assert s.store.url.startswith("postgresql://")
    assert list(s.store.keys) == ["k1"] and s.store.active_key == "k1"
    assert s.smtp.users and s.smtp.users[0].password_hash.startswith("$argon2id$")
    assert s.rules.local_dir == "/etc/guard/local.d"
    assert s.chat.routes and s.chat.routes[0].name == "support"


def test_k8s_mounts_match_the_paths_in_the_config(clean_env: pytest.MonkeyPatch) -> None:
    from ops_helpers import k8s_documents

    s = load_with_env(guard_env_from_k8s(), clean_env, K8S_TOML)
    deployment = next(d for d in k8s_documents() if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    mounts = [m["mountPath"] for m in container["volumeMounts"]]
    config_arg = container["args"][container["args"].index("--config") + 1]
    for path in (config_arg, s.smtp.tls_cert, s.smtp.tls_key, s.rules.local_dir, s.data_dir):
        assert any(path == m or path.startswith(m + "/") for m in mounts), path
    assert Path(config_arg).name == K8S_TOML.name
    # Prometheus scrapes the port the settings put /metrics on.
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    metrics_port = s.http.metrics_listen.rpartition(":")[2]
    assert annotations["prometheus.io/port"] == metrics_port
    assert {"name": "metrics", "containerPort": int(metrics_port), "protocol": "TCP"} in container["ports"]


def test_systemd_config_validates(clean_env: pytest.MonkeyPatch) -> None:
    s = load_with_env(systemd_env(), clean_env, SYSTEMD_TOML)
    assert s.data_dir == "/var/lib/guard"
    assert s.smtp.listen == "0.0.0.0:25"


def test_a_bad_key_in_a_deploy_config_is_refused(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    """The validation above can fail: a misspelt key in the shipped TOML stops start-up."""
    bad = tmp_path / "guard.toml"
    bad.write_text(K8S_TOML.read_text(encoding="utf-8").replace("relay_networks", "relay_network"))
    with pytest.raises(ConfigError, match=r"smtp\.relay_network: unknown key"):
        load_settings(bad)


def test_docs_config_reference_names_real_keys() -> None:
    """Every GUARD_… variable named in the operations guide is a real settings key."""
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    names = set(re.findall(r"\bGUARD_[A-Z0-9_]+[A-Z0-9]\b", text))
    assert names, "the operations guide names no GUARD_ variables"
    assert sorted(n for n in names if not settings_key_exists(n)) == []


def test_docs_config_reference_covers_every_key() -> None:
    """Each settings key (section.key) appears in the configuration reference."""
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = []
    for section, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys = [f"{section}.{key}" for key in annotation.model_fields]
            missing += [k for k in keys if f"`{k}`" not in text]
        elif f"`{section}`" not in text:
            missing.append(section)
    assert missing == []
