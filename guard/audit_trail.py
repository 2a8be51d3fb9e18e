"""Every verdict goes into the tamper-evident audit log, without values, in small batches.

Writing one synced commit per message would cap throughput at the disk's fsync rate, so
verdicts are queued and written together (at most `batch` entries or `interval_s` apart) in one
transaction. Quarantine and reviewer actions are audited by the store itself, synchronously.
A verdict entry says what was decided and why (channel, audience, action, counts by type, policy
rows, message id, size): never a value, preview or address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from guard.model import Verdict
from guard.store.base import QuarantineStore


class VerdictAudit:
    """Queue verdicts; a background task appends them to the audit chain."""

    def __init__(
        self,
        store: QuarantineStore,
        log: logging.Logger,
        *,
        batch: int = 200,
        interval_s: float = 0.2,
        max_pending: int = 50_000,
    ) -> None:
        self.store = store
        self.log = log
        self.batch = batch
        self.interval_s = interval_s
        self.max_pending = max_pending
        self._pending: list[tuple[str, str | None, dict[str, Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0

    def record(
        self,
        channel: str,
        verdict: Verdict,
        *,
        message_id: str = "",
        size: int = 0,
        quarantine_id: str | None = None,
    ) -> None:
        if len(self._pending) >= self.max_pending:
            self.dropped += 1  # the store is down or far behind; counted and logged, never blocking mail
            return
        details = {
            "channel": channel,
            "audience": verdict.audience.value,
            "action": verdict.action.value,
            "actions": {a.value: d.action.value for a, d in verdict.decisions.items()},
            "counts": verdict.counts(),
            "rows": list(verdict.rows),
            "message_id": message_id,
            "size": size,
        }
        self._pending.append(("verdict", quarantine_id, details))
        if len(self._pending) >= self.batch:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="verdict-audit")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is queued now, in batches; what arrives meanwhile waits for the next round,
        so that under load batches grow instead of every write carrying one entry."""
        queued, self._pending = self._pending, []
        while queued:
            entries, queued = queued[: self.batch], queued[self.batch :]
            try:
                await self.store.audit_many("guard", entries)
                self.written += len(entries)
            except Exception:
                self._pending[:0] = entries + queued  # keep them, in order, for the next attempt
                self.log.warning(
                    "verdict audit write failed; will retry",
                    extra={"event": "audit_write_failed", "pending": len(self._pending)},
                )
                return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self.dropped:
            self.log.warning(
                "verdict audit entries dropped", extra={"event": "audit_dropped", "count": self.dropped}
            )
