"""Prometheus metrics. The registry is passed in, so tests never collide.

Labels are bounded sets only (channel, audience, action, entity type, reply class, status):
never an address, domain, URL, subject or value. Every known label combination is created
at zero, so `rate()` and alert expressions work from the first scrape (PROTOCOLS.md §4).

Gauges that describe shared state (the quarantine backlog in the one store every instance
uses) are refreshed on scrape by `make_metrics_refresher`; every instance reports the same
value, so dashboards and alerts take `max()` over instances, never `sum()`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from guard import __version__
from guard.model import ENTITY_TYPES, Action, Audience, Channel
from guard.store.base import Status

if TYPE_CHECKING:
    from guard.store.base import QuarantineStore


class _Refreshable(Protocol):
    """What the refresher reads (a `guard.services.Services` has it; this module imports no services)."""

    @property
    def metrics(self) -> Metrics: ...
    @property
    def store(self) -> QuarantineStore: ...
    @property
    def inspector(self) -> Any: ...


_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

#: The bounded value set of every label the guard exports (tests check scrapes against it).
UPSTREAM_CHANNELS: tuple[str, ...] = ("smtp", "chat")
REPLY_CLASSES: tuple[str, ...] = ("2xx", "4xx", "5xx", "error")
TLS_VALUES: tuple[str, ...] = ("yes", "no")
REVIEW_ACTIONS: tuple[str, ...] = ("release", "reject", "note", "release_failed", "purge")
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)

#: Entity types are rule-pack data (more may be added), so the label accepts any UPPER_SNAKE
#: name; anything else (a bug passing a value) is counted as OTHER and never exported.
_ENTITY_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
OTHER_TYPE = "OTHER"

#: `/metrics` must answer even when the store hangs; a slow count is skipped, not awaited.
REFRESH_TIMEOUT_S = 2.0
#: Several scrapers (two Prometheus replicas, a curl) share one store query per interval.
REFRESH_MIN_INTERVAL_S = 5.0


def entity_label(entity: str) -> str:
    """The label value for an entity type: the type itself, or OTHER if it is not a type name."""
    return entity if _ENTITY_NAME.fullmatch(entity) else OTHER_TYPE


class Metrics:
    """Every metric the guard exports, created on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "guard_messages",
            "Messages decided, by channel, audience and action.",
            ["channel", "audience", "action"],
            registry=r,
        )
        self.findings = Counter(
            "guard_findings",
            "Sensitive values found, by channel and entity type.",
            ["channel", "type"],
            registry=r,
        )
        self.inspection_seconds = Histogram(
            "guard_inspection_duration_seconds",
            "Time spent inspecting one message.",
            ["channel"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.inspection_errors = Counter(
            "guard_inspection_errors",
            "Inspections that failed and were failed closed.",
            ["channel"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "guard_upstream_duration_seconds",
            "Upstream round trip (relay or webhook).",
            ["channel"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.upstream_replies = Counter(
            "guard_upstream_replies",
            "Upstream outcomes by reply class (error: no reply at all).",
            ["channel", "class"],
            registry=r,
        )
        self.upstream_up = Gauge(
            "guard_upstream_up",
            "1 if the last upstream attempt got a reply, 0 if it failed or none was made yet.",
            ["channel"],
            registry=r,
        )
        self.smtp_connections = Counter(
            "guard_smtp_connections",
            "SMTP connections accepted, by whether they used TLS.",
            ["tls"],
            registry=r,
        )
        self.smtp_auth_failures = Counter(
            "guard_smtp_auth_failures",
            "Failed SMTP AUTH attempts.",
            registry=r,
        )
        self.smtp_relay_denied = Counter(
            "guard_smtp_relay_denied",
            "Recipients refused because the client may not relay.",
            registry=r,
        )
        self.quarantine_items = Gauge(
            "guard_quarantine_items",
            "Quarantine items by status (shared store: same on every instance).",
            ["status"],
            registry=r,
        )
        self.quarantine_oldest_age = Gauge(
            "guard_quarantine_oldest_held_age_seconds",
            "Age of the oldest held item; 0 when none is held.",
            registry=r,
        )
        self.store_up = Gauge(
            "guard_store_up",
            "1 if the last backlog refresh could read the store.",
            registry=r,
        )
        self.rules_loaded = Gauge(
            "guard_rules_loaded",
            "Detectors compiled into the running inspector.",
            registry=r,
        )
        self.review_actions = Counter(
            "guard_review_actions",
            "Reviewer actions by kind.",
            ["action"],
            registry=r,
        )
        self.build_info = Gauge("guard_build_info", "Build information; always 1.", ["version"], registry=r)
        self.build_info.labels(__version__).set(1)
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, …
        PlatformCollector(registry=r)  # python_info
        self._initialise()

    def _initialise(self) -> None:
        """Create known label combinations at zero so rates exist from the first scrape."""
        for channel in Channel:
            self.inspection_errors.labels(channel.value)
            self.inspection_seconds.labels(channel.value)
            for audience in Audience:
                for action in Action:
                    self.messages.labels(channel.value, audience.value, action.value)
            for entity in ENTITY_TYPES:
                self.findings.labels(channel.value, entity)
        for up in UPSTREAM_CHANNELS:
            self.upstream_seconds.labels(up)
            self.upstream_up.labels(up)
            for klass in REPLY_CLASSES:
                self.upstream_replies.labels(up, klass)
        for tls in TLS_VALUES:
            self.smtp_connections.labels(tls)
        for status in STATUSES:
            self.quarantine_items.labels(status)
        for review in REVIEW_ACTIONS:
            self.review_actions.labels(review)

    def count_verdict(self, channel: str, audience: str, action: str, types: dict[str, int]) -> None:
        self.messages.labels(channel, audience, action).inc()
        for entity, n in types.items():
            self.findings.labels(channel, entity_label(entity)).inc(n)

    def set_backlog(self, counts: dict[str, int], oldest_held_age_s: float | None) -> None:
        """Publish the store's counts; statuses missing from `counts` are 0, unknown ones ignored."""
        for status in STATUSES:
            self.quarantine_items.labels(status).set(int(counts.get(status, 0)))
        if not counts.get(Status.HELD.value):
            self.quarantine_oldest_age.set(0)
        elif oldest_held_age_s is not None:
            self.quarantine_oldest_age.set(max(0.0, float(oldest_held_age_s)))


async def _oldest_held_age(store: Any, counts: dict[str, Any]) -> float | None:
    """The age of the oldest held item, if the store can tell (a key in counts or its own call)."""
    if "oldest_held_age_s" in counts:
        value = counts["oldest_held_age_s"]
        return None if value is None else float(value)
    method = getattr(store, "oldest_held_age_s", None)
    if callable(method):
        value = await method()
        return None if value is None else float(value)
    return None


def make_metrics_refresher(services: _Refreshable) -> Callable[[], Awaitable[None]]:
    """Return the coroutine `/metrics` awaits before rendering: backlog gauges from the store.

    Bounded: a store that does not answer within REFRESH_TIMEOUT_S sets `guard_store_up` 0
    and the error propagates (the HTTP view logs it and still serves the other metrics).
    """
    metrics = services.metrics
    last = {"at": float("-inf")}

    async def refresh() -> None:
        metrics.rules_loaded.set(services.inspector.rule_count)
        now = time.monotonic()
        if now - last["at"] < REFRESH_MIN_INTERVAL_S:
            return
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT_S):
                raw = dict(await services.store.counts())
                oldest = await _oldest_held_age(services.store, raw)
        except BaseException:
            metrics.store_up.set(0)
            raise
        counts = {k: int(v) for k, v in raw.items() if k in STATUSES}
        metrics.set_backlog(counts, oldest)
        metrics.store_up.set(1)
        last["at"] = now

    return refresh
