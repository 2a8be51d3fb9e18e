"""The `guard` CLI and its config file, run as real subprocesses from another working directory:
paths are relative to the config file, only `serve` creates a store or a key, `check-config`
refuses what `serve` refuses, and a busy port is one clear line."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from quarantine_helpers import PgCluster, mail_item, pg_cluster  # noqa: F401  (pg_cluster: a fixture)

from guard.config import load_settings
from guard.inspection.policy import Policy
from guard.inspection.rules import shipped_rules_dir
from guard.store import open_store
from guard.store.crypto import new_key

GUARD = str(Path(sys.executable).with_name("guard"))
REPO = Path(__file__).resolve().parents[2]


def guard(
    *argv: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """Run the installed `guard` command; the environment holds no GUARD_ variable unless given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GUARD_")}
    proc = subprocess.run(
        [GUARD, *argv], cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    return proc.returncode, proc.stdout, proc.stderr


def _write_config(path: Path, body: str, log: str = 'level = "WARNING"') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{body}\n[log]\n{log}\n", encoding="utf-8")
    return path


async def _put_item(config: Path) -> str:
    """What `guard serve` does when it holds a message: open (create) the store, put an item."""
    store = open_store(load_settings(config))
    await store.open()
    try:
        return await store.put(mail_item())
    finally:
        await store.close()


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    d = tmp_path / "elsewhere"
    d.mkdir()
    return d


# -- paths relative to the config file -----------------------------------------------------------
async def test_quarantine_commands_find_the_store_from_another_directory(
    tmp_path: Path, elsewhere: Path
) -> None:
    """data_dir, the default SQLite store and the generated key are found next to the config file,
    not in the working directory (before: a new empty store and new keys appeared in the cwd,
    and the real items could not be decrypted)."""
    config = _write_config(tmp_path / "etc" / "guard.toml", 'data_dir = "var"')
    item_id = await _put_item(config)
    assert (tmp_path / "etc" / "var" / "guard.db").exists() and (
        tmp_path / "etc" / "var" / "store.keys"
    ).exists()

    code, out, err = guard("quarantine", "list", "--format", "json", "--config", str(config), cwd=elsewhere)
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)] == [item_id]
    code, out, err = guard("quarantine", "show", item_id, "--reveal", "--config", str(config), cwd=elsewhere)
    assert code == 0 and item_id in out, err
    # A relative --config works too: paths follow the file, not the directory it was named from.
    code, out, err = guard("audit", "verify", "--config", "../etc/guard.toml", cwd=elsewhere)
    assert code == 0 and "audit log ok" in out, err
    assert _files(elsewhere) == []


def test_relative_rule_and_tls_paths_follow_the_config_file(tmp_path: Path, elsewhere: Path) -> None:
    etc = tmp_path / "etc"
    code, _, err = guard("tls-selfsigned", str(etc / "tls"), cwd=tmp_path)
    assert code == 0, err
    local = etc / "local.d"
    local.mkdir()
    (local / "policy.yaml").write_text("version: 1\nrows:\n  - {id: external-high-risk, enabled: false}\n")
    config = _write_config(
        etc / "guard.toml",
        'data_dir = "var"\n[smtp]\ntls_cert = "tls/cert.pem"\ntls_key = "tls/key.pem"\n'
        '[rules]\nlocal_dir = "local.d"',
    )
    code, out, err = guard("check-config", "--config", str(config), cwd=elsewhere)
    rows = len(Policy.load(shipped_rules_dir() / "policy.yaml").rows)
    assert code == 0 and f"{rows - 1} policy rows" in out, (out, err)  # the local file turned one off


# -- only serve creates a store or a key -------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ("quarantine", "list"),
        ("quarantine", "show", "Q-00000000"),
        ("quarantine", "release", "Q-00000000"),
        ("quarantine", "purge"),
        ("audit", "verify"),
        ("audit", "list"),
    ],
)
def test_other_commands_refuse_to_create_a_store(
    tmp_path: Path, elsewhere: Path, argv: tuple[str, ...]
) -> None:
    config = _write_config(tmp_path / "etc" / "guard.toml", 'data_dir = "var"')
    code, out, err = guard(*argv, "--config", str(config), cwd=elsewhere)
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith("guard: configuration error: /")
    assert f"{tmp_path / 'etc' / 'var' / 'guard.db'}: no quarantine store there" in line
    assert "only `guard serve` creates one" in line
    assert _files(tmp_path / "etc") == ["guard.toml"] and _files(elsewhere) == []


async def test_a_missing_key_file_is_refused_not_made(tmp_path: Path, elsewhere: Path) -> None:
    """The store exists but its generated key does not (say, data_dir was copied without it)."""
    config = _write_config(tmp_path / "etc" / "guard.toml", 'data_dir = "var"')
    await _put_item(config)
    key_file = tmp_path / "etc" / "var" / "store.keys"
    key_file.unlink()
    code, _, err = guard("quarantine", "list", "--config", str(config), cwd=elsewhere)
    assert code == 2 and f"{key_file}: no store key file there" in err
    assert not key_file.exists()


@pytest.mark.postgres
async def test_an_empty_postgres_database_is_not_given_a_store(
    tmp_path: Path, elsewhere: Path, request: pytest.FixtureRequest
) -> None:
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_database()
    config = _write_config(
        tmp_path / "guard.toml", f'data_dir = "var"\n[store]\nurl = "{url}"\nkeys = {{ k1 = "{new_key()}" }}'
    )
    code, _, err = guard("quarantine", "list", "--config", str(config), cwd=elsewhere)
    assert code == 2 and "no quarantine store in this database" in err and "postgres@" not in err
    import psycopg

    with psycopg.connect(url) as conn:  # nothing was created
        assert conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,)
    item_id = await _put_item(config)  # as serve does
    code, out, err = guard("quarantine", "list", "--format", "json", "--config", str(config), cwd=elsewhere)
    assert code == 0 and [r["id"] for r in json.loads(out)] == [item_id], err


def test_check_config_and_scan_create_nothing(tmp_path: Path, elsewhere: Path) -> None:
    config = _write_config(tmp_path / "etc" / "guard.toml", 'data_dir = "var"')
    code, out, err = guard("check-config", "--config", str(config), cwd=elsewhere)
    assert code == 0 and out.startswith("config ok"), err
    code, out, err = guard("check-config", cwd=elsewhere)
    assert code == 0, err
    sample = elsewhere / "mail.txt"
    sample.write_text("SSN 591-68-1251\n")
    code, out, err = guard("scan", str(sample), cwd=elsewhere)  # offline, no data dir: still scans
    assert code == 1 and "US_SSN" in out, err
    sample.unlink()
    assert _files(tmp_path / "etc") == ["guard.toml"] and _files(elsewhere) == []


# -- check-config runs every check serve runs ----------------------------------------------------------
def _k8s_placeholder_keys() -> str:
    """GUARD_STORE__KEYS as shipped in deploy/k8s/secret.yaml: a placeholder, not base64."""
    docs = list(yaml.safe_load_all((REPO / "deploy" / "k8s" / "secret.yaml").read_text()))
    return str(docs[0]["stringData"]["GUARD_STORE__KEYS"])


def _serve_refusals(tmp_path: Path) -> list[tuple[str, dict[str, str], str]]:
    tls = tmp_path / "tls"
    tls.mkdir(exist_ok=True)
    (tls / "broken.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"
    )
    return [
        ('[smtp]\ntls_cert = "tls/cert.pem"', {}, "smtp.tls_cert/smtp.tls_key: set both or neither"),
        (
            '[smtp]\ntls_cert = "tls/broken.pem"\ntls_key = "tls/broken.pem"',
            {},
            "smtp.tls_cert/smtp.tls_key: cannot load the pair",
        ),
        ('[smtp]\nimplicit_tls_listen = "127.0.0.1:0"', {}, "smtp.implicit_tls_listen: needs smtp.tls_cert"),
        ("[smtp]\nrequire_starttls = true", {}, "smtp.require_starttls: needs smtp.tls_cert"),
        (
            '[[smtp.users]]\nname = "agents"\npassword_hash = "hunter2-plain"',
            {},
            "smtp.users[0].password_hash: expected an argon2",
        ),
        ("", {"GUARD_STORE__KEYS": _k8s_placeholder_keys()}, "store.keys.k1: not valid base64"),
        (f'[store]\nkeys = {{ k1 = "{new_key()}" }}\nactive_key = "k9"', {}, "store.active_key: 'k9'"),
        (
            '[smtp]\nlisten = "127.0.0.1:2599"\n[http]\nlisten = "127.0.0.1:2599"',
            {},
            "http.listen: port 2599",
        ),
        ('[smtp]\nupstream = "smtp://relay.example.net:99999"', {}, "smtp.upstream: Value error, bad port"),
    ]


def test_check_config_refuses_what_serve_refuses(tmp_path: Path, elsewhere: Path) -> None:
    for i, (body, env, message) in enumerate(_serve_refusals(tmp_path)):
        config = _write_config(tmp_path / f"c{i}.toml", f'data_dir = "var{i}"\n{body}')
        check = guard("check-config", "--config", str(config), cwd=elsewhere, env=env)
        assert check[0] == 2 and message in check[2], (body, check)
        serve = guard("serve", "--config", str(config), cwd=elsewhere, env=env, timeout=120)
        assert serve[0] == 2 and message in serve[2], (body, serve)
        assert "Traceback" not in check[2] + serve[2]
        assert not (tmp_path / f"var{i}").exists()  # serve refused before creating anything


# -- a busy port is one clear line ---------------------------------------------------------------------
@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield int(sock.getsockname()[1])
    sock.close()


@pytest.mark.parametrize(("key", "workers"), [("smtp.listen", 1), ("http.listen", 1), ("http.listen", 2)])
def test_busy_port_is_one_line_naming_key_and_address(
    tmp_path: Path, elsewhere: Path, busy_port: int, key: str, workers: int
) -> None:
    section, _ = key.split(".")
    other = "http" if section == "smtp" else "smtp"
    config = _write_config(
        tmp_path / "guard.toml",
        f'data_dir = "var"\n[{section}]\nlisten = "127.0.0.1:{busy_port}"\n[{other}]\nlisten = "127.0.0.1:0"',
    )
    code, _, err = guard(
        "serve", "--workers", str(workers), "--config", str(config), cwd=elsewhere, timeout=120
    )
    assert code != 0 and "Traceback" not in err
    lines = [x for x in err.splitlines() if not x.startswith("{")]  # JSON log lines aside
    assert lines == [f"guard: {key}: cannot listen on 127.0.0.1:{busy_port}: address already in use"], err


def test_serve_listens_and_stops_from_another_directory(tmp_path: Path, elsewhere: Path) -> None:
    """The happy path of the same run: serve starts from any cwd, its data next to the config."""
    config = _write_config(
        tmp_path / "etc" / "guard.toml",
        'data_dir = "var"\n[smtp]\nlisten = "127.0.0.1:0"\n[http]\nlisten = "127.0.0.1:0"',
        log='format = "json"',
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GUARD_")}
    proc = subprocess.Popen(
        [GUARD, "serve", "--config", str(config)], cwd=elsewhere, env=clean, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        started = None
        for line in proc.stderr:
            if '"guard started"' in line or "guard started" in line:
                started = line
                break
        assert started is not None
        match = re.search(r'"smtp_port": (\d+)', started)
        assert match is not None
        with socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=10) as s:
            assert s.recv(100).startswith(b"220 ")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 0
    assert (tmp_path / "etc" / "var" / "guard.db").exists() and _files(elsewhere) == []
