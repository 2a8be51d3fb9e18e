"""Services own the background jobs: retention runs with the HTTP listener off."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable

from quarantine_helpers import mail_item

from guard.app import GuardServer, build_services
from guard.config import Settings
from guard.store import open_store
from guard.store.base import Status
from guard.store.crypto import new_key


async def test_retention_runs_without_the_http_listener(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(http={"enabled": False}, store={"retention_days": 1, "keys": {"k1": new_key()}})
    settings.data_path.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    await store.open()
    item_id = await store.put(mail_item())
    await store.close()
    db = settings.store.url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:  # two days old
        conn.execute("UPDATE items SET created = '2000-01-01T00:00:00.000000Z' WHERE id = ?", (item_id,))

    services = build_services(settings)
    server = GuardServer(services)
    await server.start()
    try:
        assert server.http_runner is None and server.smtp_port
        for _ in range(100):
            if (await services.store.summary(item_id)).status is Status.EXPIRED:
                break
            await asyncio.sleep(0.05)
        assert (await services.store.summary(item_id)).status is Status.EXPIRED
    finally:
        await server.stop()
