"""`guard audit verify` finds edited and deleted audit rows, on both backends (rows changed with raw SQL)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from quarantine_helpers import mail_item

from guard.cli import main
from guard.store import audit as chain


def write_config(store: Any, path: Path) -> Path:
    s = store.settings
    keys = ", ".join(f'{k} = "{v}"' for k, v in s.store.keys.items())
    path.write_text(
        f'data_dir = "{s.data_dir}"\n[store]\nurl = "{s.store.url}"\nkeys = {{ {keys} }}\n'
        '[log]\nlevel = "WARNING"\n'
    )
    return path


def raw_sql(store: Any, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Bypass the store: what an attacker with database access would do."""
    url = store.settings.store.url
    if url.startswith("sqlite"):
        with sqlite3.connect(store.path) as conn:
            rows = conn.execute(sql.replace("%s", "?"), params).fetchall()
            conn.commit()
            return rows
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


async def verify(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["audit", "verify", "--config", str(config)])
    return code, capsys.readouterr().out


async def _history(store: Any) -> None:
    ids = [await store.put(mail_item(marker=str(i))) for i in range(3)]
    await store.reject(ids[0], "alice", "card numbers go through the portal")
    await store.add_note(ids[1], "bob", "waiting for the customer")
    await store.audit("guard", "verdict", None, {"action": "allow", "channel": "smtp"})


def _rehash_from(store: Any, seq: int) -> None:
    """A careful attacker: after editing entry `seq`, recompute its hash (but not the later links)."""
    row = raw_sql(
        store, "SELECT seq, at, actor, action, item_id, details, prev_hash FROM audit WHERE seq = %s", (seq,)
    )[0]
    digest = chain.entry_hash(row[6], int(row[0]), row[1], row[2], row[3], row[4], row[5])
    raw_sql(store, "UPDATE audit SET hash = %s WHERE seq = %s", (digest, seq))


TAMPERING = {
    "edit-reason": (
        "UPDATE audit SET details = %s WHERE seq = 4",
        (json.dumps({"reason": "approved"}),),
        "entry 4: content does not match its hash",
    ),
    "edit-actor": ("UPDATE audit SET actor = 'mallory' WHERE seq = 2", (), "entry 2: content does not match"),
    "delete-middle": ("DELETE FROM audit WHERE seq = 3", (), "entry 3 missing"),
    "delete-last": ("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)", (), "entries deleted"),
    "edit-and-rehash": (
        "UPDATE audit SET action = 'released' WHERE seq = 4",
        (),
        "entry 5: link to the previous",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
async def test_audit_verify_reports_tampering(store, tmp_path: Path, capsys, case: str) -> None:
    await _history(store)
    config = write_config(store, tmp_path / "guard.toml")
    code, out = await verify(config, capsys)
    assert code == 0 and "audit log ok: 6 entries" in out
    sql, params, expected = TAMPERING[case]
    raw_sql(store, sql, params)
    if case == "edit-and-rehash":
        _rehash_from(store, 4)
    code, out = await verify(config, capsys)
    assert code == 1 and "FAILED" in out and expected in out, out
    assert not (await store.audit_verify()).ok


async def test_head_record_rewritten_with_the_log_is_caught_only_by_the_anchor(
    store, tmp_path, capsys
) -> None:
    """Deleting the last entry AND fixing the head passes the chain check; the printed head hash
    (kept elsewhere) is what shows it. This pins the documented limit of a self-contained chain."""
    await _history(store)
    config = write_config(store, tmp_path / "guard.toml")
    _, before = await verify(config, capsys)
    anchor = before.split("head 6 ")[1].split()[0]
    raw_sql(store, "DELETE FROM audit WHERE seq = 6")
    prev = raw_sql(store, "SELECT hash FROM audit WHERE seq = 5")[0][0]
    raw_sql(store, "UPDATE audit_head SET seq = 5, hash = %s WHERE id = 1", (prev,))
    code, out = await verify(config, capsys)
    assert code == 0 and anchor not in out and "head 5" in out
