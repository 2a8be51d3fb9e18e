"""The one place that releases a quarantine item, exactly once.

    claim_release (atomic: held/release_failed -> releasing; a second claimant gets Conflict)
      -> actions.act(release verdict, item, ReleaseOrigin): deliver by the original channel and
         envelope with a trace header, then finish_release: released, or release_failed
         (retriable, visible, last_error set), metrics and the log line

The whole of it runs shielded, so a reviewer closing the browser tab mid-delivery cannot
leave an item stuck in `releasing`. Delivery uses the forwarders `guard.services` shares with
the adapters (SMTP to `smtp.upstream` or the local Maildir; chat POSTed byte for byte to the
route's upstream plus the caller's path tail and query). Errors recorded on the item name the
error class and reply code only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from guard.actions import TRACE_HEADER, Actions, ReleaseOrigin, release_verdict, trace_value
from guard.delivery.smtp import build_mail_forwarder
from guard.delivery.webhook import WebhookForwarder
from guard.metrics import Metrics
from guard.model import Channel, OutboundMessage
from guard.store.base import ItemSummary, QuarantineStore

if TYPE_CHECKING:
    from guard.config import Settings

__all__ = ["TRACE_HEADER", "Outcome", "Releaser", "trace_value"]


@dataclass(frozen=True, slots=True)
class Outcome:
    summary: ItemSummary
    delivered: bool
    error: str = ""


class Releaser:
    """Claims and releases items through `Actions`; also sends reject notices."""

    def __init__(
        self,
        settings: Settings,
        store: QuarantineStore,
        *,
        log: logging.Logger | None = None,
        metrics: Metrics | None = None,
        actions: Actions | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        # The server passes the shared Actions (forwarders closed by Services); a CLI run or a
        # test without one gets its own, whose forwarders `close()` closes.
        self._owned = actions is None
        self.actions = actions or Actions(
            settings,
            None,
            store,
            metrics or Metrics(),
            log or logging.getLogger("guard.release"),
            mail=build_mail_forwarder(settings),
            webhook=WebhookForwarder(settings.http.upstream_timeout_s),
        )

    async def close(self) -> None:
        """Close the forwarders this releaser built itself (shared ones belong to Services)."""
        if self._owned:
            await self.actions.mail.close()
            await self.actions.webhook.close()

    async def release(self, item_id: str, actor: str, *, reason: str = "") -> Outcome:
        """Raises NotFound/Conflict when the item cannot be claimed; delivery errors become the outcome."""
        return await asyncio.shield(asyncio.ensure_future(self._release(item_id, actor, reason)))

    async def _release(self, item_id: str, actor: str, reason: str) -> Outcome:
        item = await self.store.claim_release(item_id, actor, reason=reason)
        s = item.summary
        message = OutboundMessage(
            channel=Channel.CHAT if s.channel == "chat" else Channel.SMTP,
            sender=s.sender,
            recipients=s.recipients,
            raw=item.content,
            route=s.route,
        )
        done = await self.actions.act(release_verdict(item, actor), message, ReleaseOrigin(item, actor))
        error = str(done.answer or "") if done.error is not None else ""
        return Outcome(await self.store.summary(s.id), delivered=done.error is None, error=error)

    async def notify_rejected(self, summary: ItemSummary, reason: str) -> bool:
        """Tell the sender of a rejected mail why (no values: id, masked subject, reason)."""
        if summary.channel != "smtp" or not summary.sender or summary.sender == "<>":
            return False
        body = (
            f"Your message was reviewed by the security team and was not sent.\r\n\r\n"
            f"Quarantine id: {summary.id}\r\nSubject: {summary.subject}\r\n"
            f"Recipients: {', '.join(summary.recipients)}\r\nFound: "
            f"{', '.join(f'{n} {t}' for t, n in summary.types.items())}\r\n"
            f"Reason: {reason or '(none given)'}\r\n\r\n"
            "Remove the sensitive data or use the approved channel (e.g. the customer portal), "
            "then send again.\r\n"
        )
        return await self.actions.notify_rejected(summary.id, summary.sender, summary.subject, body)
