"""Exactly-once release under races: two processes on one PostgreSQL, and within one SQLite process."""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import race_worker
from quarantine_helpers import PgCluster, mail_item

from guard.config import load_settings
from guard.errors import Conflict
from guard.review.release import TRACE_HEADER, Releaser
from guard.store.crypto import new_key
from guard.store.postgres import PostgresStore
from guard.store.sqlite import SqliteStore
from guard.testing import SmtpSink

ROUNDS = 50


def _released_ids(sink: SmtpSink) -> Counter[str]:
    return Counter(str(m.header(TRACE_HEADER)).split(";")[0] for m in sink.messages)


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_processes_on_postgres_deliver_each_item_once(
    pg_cluster: PgCluster, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    data: dict[str, Any] = {
        "data_dir": str(tmp_path / "var"),
        "store": {"url": pg_cluster.new_database(), "keys": {"k1": new_key()}},
        "smtp": {"upstream": smtp_sink.url, "listen": "127.0.0.1:0"},
    }
    settings = load_settings(None, **data)
    store = PostgresStore(settings)
    await store.open()
    try:
        ids = [await store.put(mail_item(marker=f"race-{i}")) for i in range(ROUNDS)]
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [
            ctx.Process(target=race_worker.run, args=(f"instance-{n}", data, ids, barrier, results))
            for n in ("a", "b")
        ]
        for p in procs:
            p.start()
        outcomes: list[tuple[str, str, str]] = []
        try:
            for _ in range(2 * ROUNDS):
                outcomes.append(await asyncio.to_thread(results.get, True, 60))
        except queue.Empty:
            pytest.fail(f"workers stalled after {len(outcomes)} results")
        finally:
            for p in procs:
                await asyncio.to_thread(p.join, 30)
                if p.is_alive():
                    p.kill()
        await smtp_sink.wait_for(ROUNDS, timeout=20)
        await asyncio.sleep(0.2)  # a duplicate would arrive now
        per_item = {item_id: sorted(r for _, i, r in outcomes if i == item_id) for item_id in ids}
        assert all(r == ["conflict", "delivered"] for r in per_item.values()), per_item
        assert len(smtp_sink.messages) == ROUNDS
        assert _released_ids(smtp_sink) == Counter({i: 1 for i in ids})
        winners = Counter(name for name, _, r in outcomes if r == "delivered")
        assert sum(winners.values()) == ROUNDS
        assert (await store.counts())["released"] == ROUNDS
        assert (await store.audit_verify()).ok
    finally:
        await store.close()


async def _race(releasers: list[Releaser], item_id: str) -> list[Any]:
    return list(
        await asyncio.gather(
            *(r.release(item_id, f"r{n}") for n, r in enumerate(releasers)), return_exceptions=True
        )
    )


@pytest.mark.parametrize("instances", [1, 2], ids=["one-store", "two-stores-one-file"])
async def test_sqlite_race_in_one_process_delivers_each_item_once(
    make_settings: Any, smtp_sink: SmtpSink, instances: int
) -> None:
    settings = make_settings(smtp={"upstream": smtp_sink.url}, store={"keys": {"k1": new_key()}})
    stores = [SqliteStore(settings) for _ in range(instances)]
    for s in stores:
        await s.open()
    releasers = [Releaser(settings, stores[n % instances]) for n in range(2)]
    try:
        ids = [await stores[0].put(mail_item(marker=f"race-{i}")) for i in range(ROUNDS)]
        for item_id in ids:
            results = await _race(releasers, item_id)
            assert sum(isinstance(r, Conflict) for r in results) == 1, results
            assert sum(getattr(r, "delivered", False) for r in results) == 1, results
        await smtp_sink.wait_for(ROUNDS, timeout=20)
        await asyncio.sleep(0.1)
        assert len(smtp_sink.messages) == ROUNDS
        assert _released_ids(smtp_sink) == Counter({i: 1 for i in ids})
    finally:
        for r in releasers:
            await r.close()
        for s in stores:
            await s.close()
