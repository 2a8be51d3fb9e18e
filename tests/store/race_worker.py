"""A separate process that releases quarantine items in lock-step with a rival process.

Started by test_store_race.py with multiprocessing (spawn): each round, both processes wait
at a barrier, then release the same item at once through their own store and Releaser.
"""

from __future__ import annotations

import asyncio
from typing import Any

from guard.config import load_settings
from guard.errors import Conflict
from guard.review.release import Releaser
from guard.store import open_store


async def _run(name: str, settings_data: dict[str, Any], ids: list[str], barrier: Any, results: Any) -> None:
    settings = load_settings(None, **settings_data)
    store = open_store(settings)
    await store.open()
    releaser = Releaser(settings, store)
    try:
        for item_id in ids:
            barrier.wait(timeout=30)
            try:
                outcome = await releaser.release(item_id, name, reason="race")
                results.put((name, item_id, "delivered" if outcome.delivered else "failed:" + outcome.error))
            except Conflict:
                results.put((name, item_id, "conflict"))
            except Exception as exc:  # reported, so the test fails with a reason instead of hanging
                results.put((name, item_id, f"error:{type(exc).__name__}:{exc}"))
    finally:
        await releaser.close()
        await store.close()


def run(name: str, settings_data: dict[str, Any], ids: list[str], barrier: Any, results: Any) -> None:
    asyncio.run(_run(name, settings_data, ids, barrier, results))
