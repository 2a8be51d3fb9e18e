"""Encryption at rest: raw files and tables hold no sensitive value; keys rotate; tampering is caught."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import psycopg
import pytest
from quarantine_helpers import CARD, SSN, PgCluster, chat_item, mail_item

from guard.errors import ConfigError, StoreError
from guard.store import open_store
from guard.store.crypto import KEY_FILE, new_key

SECRETS = [CARD, CARD.replace(" ", ""), SSN, SSN.replace("-", "")]


def _needles() -> list[bytes]:
    out = []
    for s in SECRETS:
        out += [s.encode("utf-8"), s.encode("utf-16-le"), s.encode("utf-16-be")]
    return out


async def _fill(store: Any) -> list[str]:
    ids = [await store.put(mail_item(marker="raw")), await store.put(chat_item())]
    await store.add_note(ids[0], "alice", f"customer read out {CARD} on the phone")
    await store.reject(ids[1], "alice", "not via chat")
    return ids


def _scan_files(paths: list[Path]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        try:
            data = path.read_bytes()
        except (PermissionError, FileNotFoundError, IsADirectoryError):
            continue
        hits = [n.decode("latin-1") for n in _needles() if n in data]
        if hits:
            found[str(path)] = hits
    return found


async def test_sqlite_files_hold_no_value(make_settings) -> None:
    store = open_store(make_settings(store={"keys": {"k1": new_key()}}))
    await store.open()
    try:
        await _fill(store)
        files = [p for p in store.path.parent.iterdir() if p.name.startswith(store.path.name)]
        assert any(p.name.endswith("-wal") for p in files)  # the WAL is read too, not just the main file
        blob = b"".join(p.read_bytes() for p in files)
        assert b"agent@example.com" in blob  # the scan does see clear metadata...
        assert _scan_files(files) == {}  # ...and no value, in the WAL or the database
    finally:
        await store.close()
    checkpointed = _scan_files([store.path])
    assert checkpointed == {} and b"customer@example.net" in store.path.read_bytes()


@pytest.mark.postgres
async def test_postgres_tables_and_data_files_hold_no_value(pg_cluster: PgCluster, make_settings) -> None:
    store = open_store(make_settings(store={"url": pg_cluster.new_database(), "keys": {"k1": new_key()}}))
    await store.open()
    try:
        await _fill(store)
        url = store.settings.store.url
        with psycopg.connect(url, autocommit=True) as conn:
            dump = []
            for table in ("items", "notes", "audit", "audit_head"):
                dump += [
                    str(r[0]) for r in conn.execute(f"SELECT row_to_json(t)::text FROM {table} t").fetchall()
                ]
            conn.execute("CHECKPOINT")
        text = "\n".join(dump)
        assert "agent@example.com" in text and "CREDIT_CARD" in text
        assert [s for s in SECRETS if s in text] == []
        files = [Path(root) / f for root, _, names in os.walk(pg_cluster.root / "data") for f in names]
        assert _scan_files(files) == {}
    finally:
        await store.close()


async def test_key_rotation_old_rows_still_open(make_settings) -> None:
    old, new = new_key(), new_key()
    first = open_store(make_settings(store={"keys": {"old": old}}))
    await first.open()
    item_id = await first.put(mail_item())
    await first.close()
    rotated = open_store(make_settings(store={"keys": {"old": old, "new": new}, "active_key": "new"}))
    await rotated.open()
    try:
        newer = await rotated.put(mail_item(marker="after"))
        assert (await rotated.get(item_id)).content == mail_item().content
        assert (await rotated.get(newer)).summary.id == newer
        key_ids = dict(await _key_ids(rotated))
        assert key_ids == {item_id: "old", newer: "new"}
    finally:
        await rotated.close()
    dropped = open_store(make_settings(store={"keys": {"new": new}}))
    await dropped.open()
    try:
        with pytest.raises(StoreError, match="key 'old'"):
            await dropped.get(item_id)
        assert (await dropped.summary(item_id)).id == item_id  # metadata stays readable
    finally:
        await dropped.close()


async def _key_ids(store: Any) -> list[tuple[str, str]]:
    async with store._tx() as cur:
        await cur.execute("SELECT id, key_id FROM items")
        return [tuple(r) for r in await cur.fetchall()]


async def test_ciphertext_moved_to_another_row_fails_its_check(make_settings) -> None:
    store = open_store(make_settings(store={"keys": {"k1": new_key()}}))
    await store.open()
    try:
        a = await store.put(mail_item(marker="a"))
        b = await store.put(mail_item(marker="b"))
        async with store._tx() as cur:
            await cur.execute(
                "UPDATE items SET payload = (SELECT payload FROM items WHERE id = %s) WHERE id = %s", (a, b)
            )
        with pytest.raises(StoreError, match="integrity"):
            await store.get(b)
    finally:
        await store.close()


async def test_generated_key_file_is_private_and_reused(make_settings) -> None:
    settings = make_settings()
    store = open_store(settings)
    await store.open()
    item_id = await store.put(mail_item())
    await store.close()
    key_file = settings.data_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = open_store(settings)
    await again.open()
    try:
        assert (await again.get(item_id)).summary.id == item_id
    finally:
        await again.close()
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="must not be readable"):
        await open_store(settings).open()


@pytest.mark.parametrize(
    "keys,error",
    [
        ({"k1": "not base64!"}, "not valid base64"),
        ({"k1": "c2hvcnQ="}, "expected 32 bytes"),
    ],
)
async def test_bad_keys_stop_start_up_naming_the_key(make_settings, keys: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError, match=f"store.keys.k1: {error}"):
        await open_store(make_settings(store={"keys": keys})).open()
