"""Bad rule files and bad settings stop start-up with a message naming the file, rule or key."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.config import load_settings
from guard.errors import ConfigError, RuleError
from guard.inspection import Inspector
from guard.inspection.rules import load_detectors, shipped_rules_dir


def _pack(tmp_path: Path, body: str, name: str = "local.yaml") -> Path:
    d = tmp_path / "local.d"
    d.mkdir(exist_ok=True)
    (d / name).write_text(body, encoding="utf-8")
    return d


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "detectors:\n"
            "  - id: X1\n    type: API_KEY\n    category: credential\n    patterns: [{regex: '(a'}]\n",
            "rule X1 pattern main",
        ),
        (
            "detectors:\n"
            "  - id: X2\n    type: API_KEY\n    category: credential\n    validator: nope\n"
            "    patterns: [{regex: 'a'}]\n",
            "rule X2: validator",
        ),
        (
            "detectors:\n"
            "  - id: X3\n    type: API_KEY\n    category: nonsense\n    patterns: [{regex: 'a'}]\n",
            "rule X3: category",
        ),
        (
            "detectors:\n"
            "  - id: X4\n    type: API_KEY\n    category: credential\n    colour: red\n"
            "    patterns: [{regex: 'a'}]\n",
            "rule X4: colour: unknown key",
        ),
        ("detectors: [\n", "cannot read rule file"),
        (
            "detectors:\n"
            "  - id: X5\n    type: API_KEY\n    category: credential\n    patterns: [{regex: '(a+)+\\1'}]\n",
            "rule X5",
        ),  # a backreference is not linear-time: RE2 refuses it
    ],
)
def test_bad_rule_files_name_file_and_rule(tmp_path: Path, body: str, message: str) -> None:
    local = _pack(tmp_path, body)
    with pytest.raises(RuleError) as err:
        load_detectors([shipped_rules_dir()], local)
    assert "local.yaml" in str(err.value) and message in str(err.value)


def test_local_override_disables_and_adds(tmp_path: Path) -> None:
    local = _pack(
        tmp_path,
        (
            "detectors:\n"
            "  - id: PERSON_NAME\n    type: PERSON\n    category: contact\n    enabled: false\n"
            "  - id: EMPLOYEE_ID\n    type: EMPLOYEE_ID\n    category: pii\n"
            "    patterns: [{regex: 'EMP-\\d{6}'}]\n"
            "    score: 0.9\n"
        ),
    )
    settings = load_settings(None, data_dir=str(tmp_path), rules={"hash_key": "k", "local_dir": str(local)})
    inspector = Inspector.from_settings(settings)
    found = {f.type for f in inspector.scan_text("Dear Jerome Griffin, your id is EMP-123456")}
    assert found == {"EMPLOYEE_ID"}


def test_bad_policy_names_the_row(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rows:\n  - id: r1\n    when: {}\n    action: explode\n", encoding="utf-8")
    settings = load_settings(None, data_dir=str(tmp_path), rules={"hash_key": "k", "policy": str(policy)})
    with pytest.raises(RuleError) as err:
        Inspector.from_settings(settings)
    assert "policy.yaml" in str(err.value) and "row r1" in str(err.value) and "action" in str(err.value)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[smtp]\nlisten = 'nonsense'\n", "smtp.listen"),
        ("[smtp]\nupstream = 'http://x'\n", "smtp.upstream"),
        ("[store]\nurl = 'mysql://x'\n", "store.url"),
        ("[org]\ninternal_domain = ['x.com']\n", "org.internal_domain: unknown key"),
        ("[[chat.routes]]\nname = 'a b'\nupstream = 'https://x'\n", "chat.routes.0.name"),
        ("[smtp]\nmax_message_bytes = 'big'\n", "smtp.max_message_bytes"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "guard.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert key in str(err.value) and str(path) in str(err.value)


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "guard.toml"
    path.write_text(
        "[smtp]\nlisten = '127.0.0.1:2525'\n[org]\ninternal_domains = ['a.com']\n", encoding="utf-8"
    )
    monkeypatch.setenv("GUARD_SMTP__LISTEN", "127.0.0.1:2600")
    monkeypatch.setenv("GUARD_ORG__INTERNAL_DOMAINS", '["b.com"]')
    s = load_settings(path)
    assert s.smtp.listen == "127.0.0.1:2600" and s.org.internal_domains == ["b.com"]
    monkeypatch.setenv("GUARD_SMTP__LISTEN", "bad")
    with pytest.raises(ConfigError, match=r"smtp\.listen"):
        load_settings(path)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GUARD_DATADIR", "x", "GUARD_DATADIR: unknown setting"),
        ("GUARD_SMTP__LISTN", "x", "GUARD_SMTP__LISTN: unknown setting"),
        ("GUARD_ORG__INTERNAL_DOMAINS", "[not json", "GUARD_ORG__INTERNAL_DOMAINS: not valid JSON"),
        ("GUARD_HTTP__METRICS_LISTEN", "nonsense", "http.metrics_listen"),
    ],
)
def test_bad_environment_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings(None)
    assert message in str(err.value)
