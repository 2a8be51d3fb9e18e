"""The one place that delivers a released quarantine item, exactly once.

    claim_release (atomic: held/release_failed -> releasing; a second claimant gets Conflict)
      -> deliver by the original channel and envelope, with a trace header
      -> finish_release: released, or release_failed (retriable, visible, last_error set)

Delivery and the final bookkeeping run shielded, so a reviewer closing the browser tab
mid-delivery cannot leave an item stuck in `releasing`. SMTP items go through the SMTP
adapter's `build_forwarder` (to `smtp.upstream`, or the local Maildir when none is set);
chat items are POSTed byte-for-byte to their route's upstream (plus the caller's path tail
and query, as the chat proxy forwards). Errors recorded on the item name the error class and
reply code only.

Envelope keys read here (set by the adapters when they quarantine):
    smtp: mail_from, mail_options (recipients from the item)    chat: route, tail, query, content_type
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING

import aiohttp

from guard.chat.forwarder import join_upstream
from guard.errors import DeliveryError, PermanentDeliveryError, TemporaryDeliveryError
from guard.smtp.forwarder import Forwarder, Mail, build_forwarder
from guard.store.audit import now_iso
from guard.store.base import Item, ItemSummary, QuarantineStore

if TYPE_CHECKING:
    import logging

    from guard.config import Settings
    from guard.metrics import Metrics

TRACE_HEADER = "X-Guard-Released"
_PASSED_MAIL_OPTIONS = ("SMTPUTF8", "BODY=8BITMIME")  # SIZE is recomputed by the forwarder


@dataclass(frozen=True, slots=True)
class Outcome:
    summary: ItemSummary
    delivered: bool
    error: str = ""


def trace_value(item_id: str, actor: str) -> str:
    safe_actor = "".join(c for c in actor if c.isprintable() and c not in "\r\n;")[:80]
    return f"{item_id}; by={safe_actor}; at={now_iso()}"


def _error_text(exc: DeliveryError) -> str:
    """Value-free: the error class and the reply code (upstream reply texts can echo content)."""
    return f"{type(exc).__name__}" + (f" (upstream code {exc.code})" if exc.code else "")


class Releaser:
    """Claims, delivers and settles released items; also sends reject notices."""

    def __init__(
        self,
        settings: Settings,
        store: QuarantineStore,
        *,
        log: logging.Logger | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.log = log
        self.metrics = metrics
        self._forwarder: Forwarder | None = None

    async def release(self, item_id: str, actor: str, *, reason: str = "") -> Outcome:
        """Raises NotFound/Conflict when the item cannot be claimed; delivery errors become the outcome."""
        return await asyncio.shield(asyncio.ensure_future(self._release(item_id, actor, reason)))

    async def _release(self, item_id: str, actor: str, reason: str) -> Outcome:
        item = await self.store.claim_release(item_id, actor, reason=reason)
        item_id = item.summary.id
        error, note = "", ""
        try:
            note = await self.deliver(item, actor)
        except DeliveryError as exc:
            error = _error_text(exc)
        except Exception as exc:  # an unexpected bug must not leave the item stuck in `releasing`
            error = f"{type(exc).__name__} during delivery"
        await self.store.finish_release(item_id, actor, ok=not error, error=error or note)
        self._count("release" if not error else "release_failed")
        self._log("released" if not error else "release failed", item_id, item.summary.channel, error)
        return Outcome(await self.store.summary(item_id), delivered=not error, error=error)

    async def deliver(self, item: Item, actor: str) -> str:
        """Send the original bytes by the original channel; returns a value-free note (may be empty)."""
        channel = item.summary.channel
        if channel == "smtp":
            return await self._deliver_mail(item, actor)
        if channel == "chat":
            await self._deliver_chat(item, actor)
            return ""
        raise PermanentDeliveryError(f"{channel} items have no delivery target")

    # -- mail ------------------------------------------------------------------------------
    def _mail_forwarder(self) -> Forwarder:
        if self._forwarder is None:
            self._forwarder = build_forwarder(self.settings)
        return self._forwarder

    async def close(self) -> None:
        if self._forwarder is not None:
            forwarder, self._forwarder = self._forwarder, None
            await forwarder.close()

    async def _deliver_mail(self, item: Item, actor: str) -> str:
        env = item.envelope
        sender = str(env.get("mail_from", item.summary.sender) or "")
        rcpts = tuple(str(r) for r in (env.get("rcpt_tos") or item.summary.recipients))
        if not rcpts:
            raise PermanentDeliveryError("no recipients")
        header = f"{TRACE_HEADER}: {trace_value(item.summary.id, actor)}\r\n".encode()
        options = tuple(
            str(o) for o in (env.get("mail_options") or []) if str(o).upper() in _PASSED_MAIL_OPTIONS
        )
        await self._mail_forwarder().deliver(Mail(sender, rcpts, header + item.content, options))
        return ""

    # -- chat ------------------------------------------------------------------------------
    async def _deliver_chat(self, item: Item, actor: str) -> None:
        env = item.envelope
        name = str(env.get("route") or item.summary.route or "")
        route = next((r for r in self.settings.chat.routes if r.name == name), None)
        if route is None:
            raise PermanentDeliveryError("the item's chat route is no longer configured")
        url = join_upstream(
            route.upstream, str(env.get("tail") or ""), str(env.get("query") or "").lstrip("?")
        )
        headers = {
            "Content-Type": str(env.get("content_type") or "application/json"),
            TRACE_HEADER: trace_value(item.summary.id, actor),
        }
        timeout = aiohttp.ClientTimeout(total=self.settings.http.upstream_timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, data=item.content, headers=headers, allow_redirects=False) as resp,
            ):
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TemporaryDeliveryError(f"upstream unreachable ({type(exc).__name__})") from None
        if 200 <= status < 300:
            return
        if status == 429 or status >= 500:
            raise TemporaryDeliveryError(f"upstream answered {status}", code=status)
        raise PermanentDeliveryError(f"upstream answered {status}", code=status)

    # -- reject notice -----------------------------------------------------------------------
    async def notify_rejected(self, summary: ItemSummary, reason: str) -> bool:
        """Tell the sender of a rejected mail why (no values: id, masked subject, reason)."""
        if summary.channel != "smtp" or not summary.sender or summary.sender == "<>":
            return False
        org = self.settings.org
        domain = org.internal_domains[0] if org.internal_domains else "localhost"
        body = (
            f"Your message was reviewed by the security team and was not sent.\r\n\r\n"
            f"Quarantine id: {summary.id}\r\nSubject: {summary.subject}\r\n"
            f"Recipients: {', '.join(summary.recipients)}\r\nFound: "
            f"{', '.join(f'{n} {t}' for t, n in summary.types.items())}\r\n"
            f"Reason: {reason or '(none given)'}\r\n\r\n"
            "Remove the sensitive data or use the approved channel (e.g. the customer portal), "
            "then send again.\r\n"
        )
        notice = (
            f"From: Outbound Guard <postmaster@{domain}>\r\nTo: {summary.sender}\r\n"
            f"Subject: Not sent: {summary.subject or summary.id}\r\nDate: {formatdate(localtime=False)}\r\n"
            f"Auto-Submitted: auto-replied\r\nMessage-ID: <{uuid.uuid4().hex}@{domain}>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            f"\r\n{body}"
        ).encode()
        try:
            await self._mail_forwarder().deliver(
                Mail("", (summary.sender,), notice, ("SMTPUTF8",) if not notice.isascii() else ())
            )
        except DeliveryError as exc:
            self._log("reject notice failed", summary.id, summary.channel, _error_text(exc))
            return False
        return True

    # -- observability -------------------------------------------------------------------------
    def _count(self, action: str) -> None:
        if self.metrics is not None:
            self.metrics.review_actions.labels(action).inc()

    def _log(self, msg: str, item_id: str, channel: str, error: str) -> None:
        if self.log is not None:
            extra = {"event": "quarantine_release", "id": item_id, "channel": channel}
            if error:
                extra["error"] = error
            self.log.log(30 if error else 20, msg, extra=extra)
