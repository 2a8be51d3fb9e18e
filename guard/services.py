"""`Services`: every shared part of a running guard, typed, built once, closed once.

`build_services(settings)` (the one place parts are built) returns it; the composition root
(`guard.app.GuardServer`) calls `start()` before opening listeners and `stop()` after closing
them. `start()` enters each lifecycle into one `AsyncExitStack`, so they close in reverse:

    store.open            -> store.close            (last)
    verdict audit writer  -> flush and stop
    forwarders (lazy)     -> close idle SMTP connections and the webhook client session
    background jobs       -> cancelled              (first)

Adapters and the review take what they need from here; none of them creates a forwarder,
registers a closer or starts a task. This module imports no adapter (no import cycles).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from guard import jobs
from guard.actions import Actions
from guard.audit_trail import VerdictAudit
from guard.delivery.smtp import MaildirForwarder, SmtpForwarder, build_mail_forwarder
from guard.delivery.webhook import WebhookForwarder
from guard.inspection import Inspector
from guard.logs import get_logger
from guard.metrics import Metrics, make_metrics_refresher
from guard.model import Verdict
from guard.store.base import QuarantineStore

if TYPE_CHECKING:
    from guard.config import Settings
    from guard.review.service import ReviewService

Probe = Callable[[], Awaitable[bool]]


@dataclass
class Services:
    """Everything an adapter may use. Tests may build one directly with the first five fields."""

    settings: Settings
    inspector: Inspector
    store: QuarantineStore
    metrics: Metrics
    log: logging.Logger
    audit: VerdictAudit | None = None  # every verdict into the audit chain, batched
    ready_probes: dict[str, Probe] = field(default_factory=dict)  # /readyz beyond store and rules
    reuse_port: bool = False  # `guard serve --workers N`: listeners share ports (SO_REUSEPORT)
    worker: int | None = None  # index of this worker process, if any
    metrics_refresh: Callable[[], Awaitable[None]] | None = None  # backlog gauges on scrape
    _stack: AsyncExitStack | None = field(default=None, init=False, repr=False)

    # -- shared parts, built on first use (building them touches no network) ------------------
    @cached_property
    def mail_forwarder(self) -> SmtpForwarder | MaildirForwarder:
        """The SMTP upstream (or the local Maildir): SMTP relay, release and reject notices."""
        return build_mail_forwarder(self.settings)

    @cached_property
    def webhook_forwarder(self) -> WebhookForwarder:
        """One client session for every chat route and every chat release."""
        return WebhookForwarder(self.settings.http.upstream_timeout_s)

    @cached_property
    def actions(self) -> Actions:
        """After the verdict, one place: every adapter and the release call `actions.act`."""
        return Actions(
            self.settings,
            self.inspector,
            self.store,
            self.metrics,
            self.log,
            mail=self.mail_forwarder,
            webhook=self.webhook_forwarder,
            record=self.record_verdict,
        )

    @cached_property
    def review(self) -> ReviewService:
        """Review rules and release, shared by the web UI, the API and the retention job."""
        from guard.review.release import Releaser
        from guard.review.service import ReviewService

        releaser = Releaser(self.settings, self.store, actions=self.actions)
        return ReviewService(self.settings, self.store, log=self.log, metrics=self.metrics, releaser=releaser)

    async def refresh_metrics(self) -> None:
        """Backlog gauges from the store, bounded; `/metrics` awaits it before rendering."""
        if self.metrics_refresh is not None:
            await self.metrics_refresh()

    def record_verdict(self, channel: str, verdict: Verdict, *, message_id: str = "", size: int = 0) -> None:
        """Queue a decision for the audit chain (written in batches by the audit writer)."""
        if self.audit is not None:
            self.audit.record(channel, verdict, message_id=message_id, size=size)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store, start the audit writer and the background jobs."""
        stack = AsyncExitStack()
        try:
            await self.store.open()
            stack.push_async_callback(self.store.close)
            if self.audit is not None:
                self.audit.start()
                stack.push_async_callback(self.audit.stop)  # queued verdicts written before close
            stack.push_async_callback(self.close_forwarders)
            if self.settings.store.retention_days > 0:
                task = asyncio.create_task(jobs.retention(self.review, self.log), name="guard-retention")
                stack.push_async_callback(_cancel, task)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def close_forwarders(self) -> None:
        """Close the forwarders that were built (idle SMTP connections, the webhook session)."""
        for name in ("mail_forwarder", "webhook_forwarder"):
            forwarder = self.__dict__.get(name)
            if forwarder is not None:
                with contextlib.suppress(Exception):
                    await forwarder.close()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_services(
    settings: Settings, *, metrics: Metrics | None = None, worker: int | None = None
) -> Services:
    """The one place the parts are built (nothing is opened or started here)."""
    from guard.health import ready_probes
    from guard.store import open_store

    settings.data_path.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    log = get_logger("guard", settings.log)
    services = Services(
        settings=settings,
        inspector=Inspector.from_settings(settings),
        store=store,
        metrics=metrics or Metrics(),
        log=log,
        audit=VerdictAudit(store, log),
        ready_probes=ready_probes(settings),
        reuse_port=worker is not None,
        worker=worker,
    )
    services.metrics_refresh = make_metrics_refresher(services)
    return services
