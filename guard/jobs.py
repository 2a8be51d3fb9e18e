"""Background jobs of a running guard, started and stopped by `Services` (not by a listener).

    retention       hourly: expire old held items, erase old content (store.retention_days)
    audit flush     `VerdictAudit`'s own writer task (started by Services, flushed at stop)
    metrics refresh on scrape, bounded (`Services.refresh_metrics`): no timer needed

A job is a coroutine that loops until cancelled; a failed round is logged and retried at the
next interval, never allowed to end the job.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guard.review.service import ReviewService

RETENTION_INTERVAL_S = 3600.0


async def retention(
    review: ReviewService, log: logging.Logger, interval_s: float = RETENTION_INTERVAL_S
) -> None:
    """Expire and erase old items now and then every `interval_s` (each instance runs it;
    purging twice is harmless and audited once)."""
    from guard.review.service import Actor

    actor = Actor("retention", "admin", via="system")
    while True:
        try:
            n = await review.purge(actor)
            if n:
                log.info("retention purge", extra={"event": "retention_purge", "items": n})
        except Exception:
            log.exception("retention purge failed", extra={"event": "retention_failed"})
        await asyncio.sleep(interval_s)
