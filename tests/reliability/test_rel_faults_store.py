"""The quarantine store fails under the guard: full disk, read-only file system, data directory
removed, PostgreSQL stopped. A message that must be held is then tempfailed (SMTP 451, chat
503), never acknowledged; once the store is back, the retry is held and kept.

The SQLite cases mount a small tmpfs (root with CAP_SYS_ADMIN; skipped elsewhere), because
root ignores file permissions: a chmod would not make anything read-only for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from guard.errors import StoreError
from guard.store.crypto import new_key
from guard.testing import SmtpSink, build_message
from guard.testing_webhook import FakeWebhook
from tests.reliability.conftest import Guard, GuardFactory
from tests.reliability.relkit import EXTERNAL, Ledger, new_tag, sink_tags, smtp_attempt
from tests.reliability.sensitive_samples import CARD


def _card_mail(tag: str) -> bytes:
    return build_message(to=EXTERNAL, body=f"card {CARD} please refund\n", headers={"X-Test-Id": tag})


def _clean_mail(tag: str) -> bytes:
    return build_message(to=EXTERNAL, body="see you tomorrow\n", headers={"X-Test-Id": tag})


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test only."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


async def _guard_on(
    start_guard: GuardFactory, db: Path, sink: SmtpSink, hook: FakeWebhook | None = None
) -> Guard:
    chat = (
        {
            "routes": [
                {
                    "name": "ext",
                    "format": "slack",
                    "upstream": hook.url("/services/T/B/X"),
                    "audience": "external",
                }
            ]
        }
        if hook
        else {"routes": []}
    )
    return await start_guard(
        smtp={"upstream": sink.url}, store={"url": f"sqlite:///{db}", "keys": {"k1": new_key()}}, chat=chat
    )


async def _post_card(guard: Guard) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(guard.url("/hooks/ext"), json={"text": f"card {CARD}"}) as resp,
    ):
        await resp.read()
        return resp.status


async def _fill(mnt: Path) -> Path:
    """Fill the file system to the last byte."""
    filler = mnt / "filler"
    with filler.open("wb", buffering=0) as fh:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * size)
    return filler


async def test_sqlite_disk_full_tempfails_then_recovers(
    start_guard: GuardFactory, sink: SmtpSink, tmpfs: Path
) -> None:
    async with FakeWebhook("slack") as hook:
        guard = await _guard_on(start_guard, tmpfs / "guard.db", sink, hook)
        warm = new_tag()
        assert (
            await smtp_attempt(guard.smtp_port, _card_mail(warm), tag=warm, kind="card", rcpts=[EXTERNAL])
        ).outcome == "acked"
        ledger = Ledger()
        filler = await _fill(tmpfs)
        tags = [new_tag() for _ in range(3)]
        for tag in tags:
            ledger.add(
                await smtp_attempt(guard.smtp_port, _card_mail(tag), tag=tag, kind="card", rcpts=[EXTERNAL])
            )
        chat_status = await _post_card(guard)
        clean = new_tag()
        relayed = await smtp_attempt(
            guard.smtp_port, _clean_mail(clean), tag=clean, kind="clean", rcpts=[EXTERNAL]
        )

        filler.unlink()  # space again; the clients retry
        retries = [
            await smtp_attempt(guard.smtp_port, _card_mail(t), tag=t, kind="card", rcpts=[EXTERNAL])
            for t in tags
        ]
        chat_after = await _post_card(guard)
        held = {item.id for item in await guard.services.store.list(limit=100)}
    assert [a.outcome for a in ledger.attempts] == ["tempfail"] * 3, ledger.attempts
    assert all(a.code == 451 and "quarantine store is unavailable" in a.text for a in ledger.attempts)
    assert chat_status == 503 and chat_after == 200
    assert relayed.outcome == "acked" and sink_tags(sink.messages)[clean] == 1  # no store needed to relay
    assert [a.outcome for a in retries] == ["acked"] * 3, retries
    ids = {a.text.split(" as ", 1)[1].split()[0] for a in retries}
    assert ids <= held  # every acknowledgement names an item that exists
    assert not any(sink_tags(sink.messages)[t] for t in tags)
    print(
        f"\nFAULT store/sqlite-disk-full: smtp {dict(ledger.counts())} chat={chat_status} "
        f"-> after recovery acked={len(retries)} chat={chat_after} lost=0"
    )


async def test_sqlite_on_a_read_only_file_system_refuses_to_start(
    start_guard: GuardFactory, sink: SmtpSink, tmpfs: Path
) -> None:
    """A running SQLite keeps its files open for writing, so a file system cannot be turned
    read-only under it (EBUSY); a data directory that is read-only from the start stops start-up."""
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True, capture_output=True)
    with pytest.raises(StoreError) as info:
        await _guard_on(start_guard, tmpfs / "guard.db", sink)
    assert "sqlite" in str(info.value)
    print(f"\nFAULT store/sqlite-read-only: start-up refused ({info.value})")


async def _get_status(guard: Guard, path: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(guard.url(path)) as resp:
        return resp.status


async def test_sqlite_data_directory_removed_is_not_acknowledged(
    start_guard: GuardFactory, sink: SmtpSink, tmp_path: Path
) -> None:
    """With its directory deleted, SQLite keeps writing into unlinked files that vanish at the
    next restart: the guard must notice and tempfail instead of acknowledging into the void."""
    db = tmp_path / "store" / "guard.db"
    guard = await _guard_on(start_guard, db, sink)
    shutil.rmtree(db.parent)
    tag = new_tag()
    attempt = await smtp_attempt(guard.smtp_port, _card_mail(tag), tag=tag, kind="card", rcpts=[EXTERNAL])
    assert (attempt.outcome, attempt.code) == ("tempfail", 451), attempt
    assert await _get_status(guard, "/readyz") == 503  # and the instance leaves the load balancer
    print(f"\nFAULT store/sqlite-directory-removed: {attempt.outcome} {attempt.code}, /readyz 503")


# -- PostgreSQL stopped under a running guard -----------------------------------------------------
def _pg_ctl(cluster: Any, *args: str) -> None:
    cluster.run(str(cluster.bindir / "pg_ctl"), "-D", str(cluster.root / "data"), *args)


def _pg_start(cluster: Any) -> None:
    opts = (
        f"-p {cluster.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={cluster.root} "
        "-c max_connections=50"
    )
    _pg_ctl(cluster, "-o", opts, "-l", str(cluster.root / "log"), "-w", "-t", "30", "start")


@pytest.mark.postgres
@pytest.mark.slow
async def test_postgres_stopped_tempfails_then_recovers(start_guard: GuardFactory, sink: SmtpSink) -> None:
    from tests.quarantine_helpers import PgCluster

    cluster = PgCluster.start()  # our own: it is stopped under the guard
    try:
        # The shared helper runs PostgreSQL with fsync and synchronous_commit off (fast, not
        # crash-safe: an immediate stop loses the last commits). Production settings here.
        _pg_ctl(cluster, "-m", "fast", "-w", "stop")
        _pg_start(cluster)
        async with FakeWebhook("slack") as hook:
            url = cluster.new_database()
            guard = await start_guard(
                smtp={"upstream": sink.url},
                store={"url": url, "keys": {"k1": new_key()}},
                chat={
                    "routes": [{"name": "ext", "format": "slack", "upstream": hook.url("/services/T/B/X")}]
                },
            )
            _pg_ctl(cluster, "-m", "immediate", "-w", "stop")  # a crash, not a clean shutdown
            tags = [new_tag() for _ in range(3)]
            t0 = time.monotonic()
            during_task = asyncio.gather(
                *(
                    smtp_attempt(guard.smtp_port, _card_mail(t), tag=t, kind="card", rcpts=[EXTERNAL])
                    for t in tags
                )
            )
            during, chat_status = await asyncio.gather(during_task, _post_card(guard))
            waited = time.monotonic() - t0
            _pg_start(cluster)
            deadline = time.monotonic() + 60
            after = []
            for t in tags:
                while True:
                    a = await smtp_attempt(
                        guard.smtp_port, _card_mail(t), tag=t, kind="card", rcpts=[EXTERNAL]
                    )
                    if a.outcome == "acked" or time.monotonic() > deadline:
                        after.append(a)
                        break
                    assert a.outcome == "tempfail", a
                    await asyncio.sleep(0.5)
            held = {i.id for i in await guard.services.store.list(limit=100)}
            await guard.server.stop()
    finally:
        cluster.stop()
    assert {a.outcome for a in during} == {"tempfail"} and {a.code for a in during} == {451}, during
    assert chat_status == 503
    assert [a.outcome for a in after] == ["acked"] * 3, after
    assert {a.text.split(" as ", 1)[1].split()[0] for a in after} <= held
    print(
        f"\nFAULT store/postgres-stopped: smtp during={[a.code for a in during]} chat={chat_status} "
        f"(answered within {waited:.1f}s) -> after restart acked={len(after)} lost=0"
    )
