"""`guard quarantine …`, `guard audit …`, `guard user add`, `guard hash-password`, `guard token add`."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from quarantine_helpers import CARD, mail_item

from guard.cli import main
from guard.config import load_settings
from guard.review.auth import verify_password
from guard.store import open_store
from guard.store.crypto import new_key


@pytest.fixture
def config(tmp_path: Path, smtp_sink: Any) -> Path:
    path = tmp_path / "guard.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "var"}"\n[smtp]\nupstream = "{smtp_sink.url}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path}/var/guard.db"\nkeys = {{ k1 = "{new_key()}" }}\n'
        '[log]\nlevel = "WARNING"\n'
    )
    return path


async def put(config: Path, n: int = 1) -> list[str]:
    store = open_store(load_settings(config))
    await store.open()
    try:
        return [await store.put(mail_item(marker=str(i))) for i in range(n)]
    finally:
        await store.close()


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_list_json_and_table(config: Path, capsys) -> None:
    ids = await put(config, 2)
    code, out, _ = await run(capsys, "quarantine", "list", "--format", "json", "--config", str(config))
    rows = json.loads(out)
    assert code == 0 and sorted(r["id"] for r in rows) == sorted(ids)
    assert {"id", "status", "channel", "created", "types"} <= set(rows[0]) and rows[0]["status"] == "held"
    assert CARD not in out
    code, out, _ = await run(capsys, "quarantine", "list", "--status", "released", "--config", str(config))
    assert code == 0 and ids[0] not in out and out.startswith("ID")


async def test_show_masks_unless_revealed(config: Path, capsys) -> None:
    [item_id] = await put(config)
    code, out, _ = await run(capsys, "quarantine", "show", item_id.lower(), "--config", str(config))
    assert code == 0 and item_id in out and CARD not in out and "**** **** **** 1111" in out
    code, out, _ = await run(capsys, "quarantine", "show", item_id, "--reveal", "--config", str(config))
    assert code == 0 and f"[[{CARD}]]" in out
    code, out, err = await run(capsys, "quarantine", "show", "Q-00000000", "--config", str(config))
    assert code == 2 and "no quarantine item" in err


async def test_release_reject_and_verify(config: Path, smtp_sink: Any, capsys) -> None:
    a, b = await put(config, 2)
    code, out, _ = await run(capsys, "quarantine", "release", a, "--reason", "ok", "--config", str(config))
    assert code == 0 and f"{a} released" in out
    code, _, err = await run(capsys, "quarantine", "release", a, "--config", str(config))
    assert code == 1 and "refused" in err and "released" in err
    await smtp_sink.wait_for(1)
    assert len(smtp_sink.messages) == 1 and str(smtp_sink.messages[0].header("X-Guard-Released")).startswith(
        a
    )
    code, out, _ = await run(capsys, "quarantine", "reject", b, "--reason", "no", "--config", str(config))
    assert code == 0 and "rejected" in out
    code, out, _ = await run(capsys, "audit", "verify", "--config", str(config))
    assert code == 0 and "audit log ok" in out
    code, out, _ = await run(capsys, "audit", "list", "--item", a, "--config", str(config))
    actions = [json.loads(line)["action"] for line in out.splitlines()]
    assert actions == ["quarantine", "release_claimed", "released"]
    assert json.loads(out.splitlines()[1])["actor"].startswith("cli:")


async def test_failed_release_exits_1_and_stays_retriable(config: Path, smtp_sink: Any, capsys) -> None:
    [item_id] = await put(config)
    smtp_sink.fail_with("451 4.3.0 later", times=1)
    code, _, err = await run(capsys, "quarantine", "release", item_id, "--config", str(config))
    assert code == 1 and "release_failed" in err
    code, out, _ = await run(
        capsys, "quarantine", "list", "--status", "release_failed", "--config", str(config)
    )
    assert item_id in out
    code, _, _ = await run(capsys, "quarantine", "release", item_id, "--config", str(config))
    assert code == 0 and len(smtp_sink.messages) == 1


def test_user_add_and_hash_password(capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    assert main(["user", "add", "dana", "--role", "reviewer", "--totp", "--password-stdin"]) == 0
    out, err = capsys.readouterr()
    entry = tomllib.loads(out)["review"]["users"][0]
    assert entry["name"] == "dana" and entry["role"] == "reviewer" and len(entry["totp_secret"]) == 32
    assert verify_password(entry["password_hash"], "correct horse battery")
    assert "otpauth://totp/" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["hash-password", "--password-stdin"]) == 2
    monkeypatch.setattr(sys, "stdin", io.StringIO("long enough pw\n"))
    assert main(["hash-password", "--password-stdin"]) == 0
    assert capsys.readouterr().out.startswith("$argon2id$")


def test_token_add(capsys) -> None:
    assert main(["token", "add", "ci-bot", "--role", "viewer"]) == 0
    out, err = capsys.readouterr()
    token = err.split(": ", 1)[1].strip()
    entry = tomllib.loads(out)["review"]["api_tokens"][0]
    assert entry["token_sha256"] == hashlib.sha256(token.encode()).hexdigest() and entry["role"] == "viewer"
