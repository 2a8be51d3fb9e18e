"""The scrape-time refresher publishes the shared quarantine backlog from a real store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from quarantine_helpers import chat_item, mail_item

import guard.metrics as metrics_module
from guard.config import Settings
from guard.metrics import STATUSES, Metrics, make_metrics_refresher
from guard.store import open_store
from guard.store.crypto import new_key


@pytest.fixture
async def store(make_settings: Callable[..., Settings]) -> AsyncIterator[Any]:
    s = open_store(make_settings(store={"keys": {"k1": new_key()}}))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def services_for(store: Any, rule_count: int = 42) -> Any:
    # The refresher needs only these three attributes of Services.
    return SimpleNamespace(metrics=Metrics(), store=store, inspector=SimpleNamespace(rule_count=rule_count))


def backlog(metrics: Metrics) -> dict[str, float | None]:
    get = metrics.registry.get_sample_value
    return {s: get("guard_quarantine_items", {"status": s}) for s in STATUSES}


@pytest.fixture
def no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_module, "REFRESH_MIN_INTERVAL_S", 0.0)


async def test_backlog_by_status_and_oldest_age(store: Any, no_cache: None) -> None:
    services = services_for(store)
    refresh = make_metrics_refresher(services)
    m: Metrics = services.metrics
    get = m.registry.get_sample_value

    await refresh()
    assert backlog(m) == dict.fromkeys(STATUSES, 0)
    assert get("guard_quarantine_oldest_held_age_seconds") == 0
    assert get("guard_store_up") == 1
    assert get("guard_rules_loaded") == 42

    first = await store.put(mail_item(marker="a"))
    await store.put(chat_item(marker="b"))
    rejected = await store.put(mail_item(marker="c"))
    await store.reject(rejected, "reviewer@example.com", "not needed")
    await asyncio.sleep(1.1)  # so the oldest held item is measurably old
    await refresh()
    assert backlog(m) == {**dict.fromkeys(STATUSES, 0), "held": 2, "rejected": 1}
    age = get("guard_quarantine_oldest_held_age_seconds")
    assert age is not None and 1.0 <= age < 60

    await store.reject(first, "reviewer@example.com", "no")
    for item in await store.list(status="held"):
        await store.reject(item.id, "reviewer@example.com", "no")
    await refresh()
    assert backlog(m) == {**dict.fromkeys(STATUSES, 0), "rejected": 3}
    assert get("guard_quarantine_oldest_held_age_seconds") == 0


async def test_scrapes_within_the_interval_share_one_query(store: Any) -> None:
    services = services_for(store)
    refresh = make_metrics_refresher(services)
    await refresh()
    await store.put(mail_item())
    await refresh()  # within REFRESH_MIN_INTERVAL_S: the cached value stands
    assert services.metrics.registry.get_sample_value("guard_quarantine_items", {"status": "held"}) == 0
    services.inspector.rule_count = 43  # local facts are refreshed on every scrape
    await refresh()
    assert services.metrics.registry.get_sample_value("guard_rules_loaded") == 43


async def test_a_closed_store_sets_store_up_to_zero(store: Any, no_cache: None) -> None:
    services = services_for(store)
    refresh = make_metrics_refresher(services)
    await refresh()
    assert services.metrics.registry.get_sample_value("guard_store_up") == 1
    await store.close()
    with pytest.raises(Exception):  # noqa: B017 - whichever error the backend raises when closed
        await refresh()
    assert services.metrics.registry.get_sample_value("guard_store_up") == 0


async def test_a_hanging_store_does_not_hang_the_scrape(
    store: Any, no_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_module, "REFRESH_TIMEOUT_S", 0.2)

    class Hanging:
        """The real store, except that counting never answers (a locked table, a lost link)."""

        async def counts(self) -> dict[str, int]:
            await asyncio.sleep(30)
            return await store.counts()

    services = services_for(Hanging())
    refresh = make_metrics_refresher(services)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await refresh()
    assert time.monotonic() - started < 2
    assert services.metrics.registry.get_sample_value("guard_store_up") == 0


async def test_a_store_without_an_age_query_still_reports_counts(store: Any, no_cache: None) -> None:
    class CountsOnly:
        async def counts(self) -> dict[str, int]:
            return await store.counts()

    await store.put(mail_item())
    services = services_for(CountsOnly())
    await make_metrics_refresher(services)()
    assert backlog(services.metrics)["held"] == 1
    assert services.metrics.registry.get_sample_value("guard_quarantine_oldest_held_age_seconds") == 0
