"""After the verdict: split delivery per recipient audience, in one place.

Each recipient gets the decision for its audience. Recipients with the same action share one
delivery: ALLOW relays the original bytes, REDACT relays the message masked by
`redact.redact_message` once its one re-inspection finds nothing of the masked types (else it
is held: fail closed), QUARANTINE commits one store item, BLOCK sends nothing. Relays run
before the store commit; the first failure stops the rest and becomes the client's 4xx/5xx,
so a message is never acknowledged and dropped (at worst a retry duplicates a copy already relayed).

`process()` never raises: it returns the reply, records metrics and logs one line per
decision. The SMTP handler runs it under `asyncio.shield`, so once relaying has begun a
client disconnect or session timeout cannot cut it off halfway.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import TYPE_CHECKING, Any

from guard.errors import DeliveryError, GuardError, PermanentDeliveryError
from guard.inspection import redact
from guard.model import HIGH_RISK_TYPES, Action, Audience, Channel, OutboundMessage, Verdict
from guard.smtp.forwarder import Forwarder, Mail, Receipt
from guard.smtp.replies import reply_for_error, reply_for_outcome
from guard.store.base import NewItem

if TYPE_CHECKING:
    from guard.app import Services

#: Messages larger than this are inspected and redacted in a worker thread, not on the loop.
THREAD_THRESHOLD = 256 * 1024

_ORDER = (Action.ALLOW, Action.REDACT, Action.QUARANTINE, Action.BLOCK)


@dataclass(frozen=True, slots=True)
class Transaction:
    """One message as received: envelope, bytes and the facts the trace and logs need."""

    queue_id: str
    sender: str  # "<>" for the null reverse-path
    recipients: tuple[str, ...]
    raw: bytes  # as received (dot-unstuffed, CRLF), without our trace header
    trace: bytes  # the Received: header to prepend to every relayed copy
    mail_options: tuple[str, ...]
    peer: str
    authenticated: bool
    tls: bool


@dataclass(frozen=True, slots=True)
class Delivery:
    """What was done for one group of recipients."""

    action: Action
    audiences: tuple[Audience, ...]
    recipients: tuple[str, ...]
    receipt: Receipt | None = None
    quarantine_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    queue_id: str
    verdict: Verdict
    deliveries: tuple[Delivery, ...]


def plan(tx: Transaction, verdict: Verdict) -> list[tuple[Action, tuple[Audience, ...], tuple[str, ...]]]:
    """Group recipients by the action their audience's decision asks for, mildest first.

    A recipient the verdict did not classify counts as external (fail closed).
    """
    audience_of = {rc.address.lower(): rc.audience for rc in verdict.recipients}
    groups: dict[Action, tuple[list[Audience], list[str]]] = {}
    for rcpt in tx.recipients:
        audience = audience_of.get(rcpt.lower(), Audience.EXTERNAL)
        decision = verdict.decisions.get(audience) or verdict.decision
        audiences, rcpts = groups.setdefault(decision.action, ([], []))
        if audience not in audiences:
            audiences.append(audience)
        rcpts.append(rcpt)
    return [(a, tuple(groups[a][0]), tuple(groups[a][1])) for a in _ORDER if a in groups]


def header_subject(raw: bytes) -> str:
    """The decoded Subject header on one line, or "" (malformed headers are tolerated).

    Encoded words can decode to CR, LF or terminal escapes; they become spaces, so a subject
    cannot add lines to the queue listing, the CLI table or anything else that shows it.
    """
    head = raw.split(b"\r\n\r\n", 1)[0][:65536]
    try:
        subject = str(BytesHeaderParser(policy=default_policy).parsebytes(head).get("subject", ""))
    except Exception:  # any header the parser cannot decode: no subject
        return ""
    return "".join(c if c.isprintable() else " " for c in subject)


class Dispatcher:
    """Carries out a verdict: relays, redacts, quarantines or refuses, then replies."""

    def __init__(self, services: Services, forwarder: Forwarder) -> None:
        self.services = services
        self.forwarder = forwarder
        self.inspector = services.inspector
        self.metrics = services.metrics
        self.log = services.log
        self.quarantine_reply = services.settings.smtp.quarantine_reply

    async def process(self, tx: Transaction, verdict: Verdict, *, inspect_s: float) -> str:
        """Deliver per audience and return the one reply; never raises."""
        started = time.perf_counter()
        counts = verdict.counts()
        self._count(tx, verdict, counts)
        self.services.record_verdict("smtp", verdict, message_id=tx.queue_id, size=len(tx.raw))
        outcome: Outcome | None = None
        try:
            outcome = await self.execute(tx, verdict)
            reply = reply_for_outcome(outcome, quarantine_reply=self.quarantine_reply)
            error = None
        except Exception as exc:
            reply = reply_for_error(exc, tx.queue_id)
            error = type(exc).__name__
            if not isinstance(exc, GuardError):
                self.log.exception(
                    "smtp delivery failed", extra={"event": "smtp_error", "queue_id": tx.queue_id}
                )
        self._log(tx, verdict, counts, outcome, reply, error, inspect_s, time.perf_counter() - started)
        return reply

    async def execute(self, tx: Transaction, verdict: Verdict) -> Outcome:
        deliveries: list[Delivery] = []
        for action, audiences, rcpts in plan(tx, verdict):
            if action is Action.ALLOW:
                receipt = await self._relay(Mail(tx.sender, rcpts, tx.trace + tx.raw, tx.mail_options))
                deliveries.append(Delivery(action, audiences, rcpts, receipt=receipt))
            elif action is Action.REDACT:
                masked, check = await self._redact(tx, verdict, audiences, rcpts)
                if not check.clean:  # something of the masked types is still there: hold it instead
                    item = self._new_item(tx, verdict, audiences, rcpts, explanation=check.explanation())
                    item_id = await self.services.store.put(item)
                    deliveries.append(Delivery(Action.QUARANTINE, audiences, rcpts, quarantine_id=item_id))
                    continue
                receipt = await self._relay(Mail(tx.sender, rcpts, tx.trace + masked, tx.mail_options))
                deliveries.append(Delivery(action, audiences, rcpts, receipt=receipt))
            elif action is Action.QUARANTINE:
                item_id = await self.services.store.put(self._new_item(tx, verdict, audiences, rcpts))
                deliveries.append(Delivery(action, audiences, rcpts, quarantine_id=item_id))
            else:
                deliveries.append(Delivery(action, audiences, rcpts))
        return Outcome(tx.queue_id, verdict, tuple(deliveries))

    async def _redact(
        self, tx: Transaction, verdict: Verdict, audiences: tuple[Audience, ...], rcpts: tuple[str, ...]
    ) -> tuple[bytes, redact.Recheck]:
        """The masked message and its one re-inspection (a DKIM signature no longer verifies
        after a change; re-signing is left to the upstream)."""
        types = tuple(sorted({t for a in audiences for t in redact.types_to_redact(verdict, a)}))

        def work() -> tuple[bytes, redact.Recheck]:
            masked = redact.redact_message(tx.raw, verdict, types)
            again = OutboundMessage(channel=Channel.SMTP, sender=tx.sender, recipients=rcpts, raw=masked)
            return masked, self.inspector.recheck(again, types)

        masked, check = await asyncio.to_thread(work) if len(tx.raw) > THREAD_THRESHOLD else work()
        if check.clean and masked != tx.raw and redact.has_signature(tx.raw):
            self.log.info(
                "redacted message relayed; its DKIM/ARC signature no longer verifies",
                extra={"event": "smtp_redacted_signature", "queue_id": tx.queue_id},
            )
        return masked, check

    async def _relay(self, mail: Mail) -> Receipt:
        started = time.perf_counter()
        try:
            receipt = await self.forwarder.deliver(mail)
        except DeliveryError as exc:
            klass = (
                "error" if exc.code is None else ("5xx" if isinstance(exc, PermanentDeliveryError) else "4xx")
            )
            self.metrics.upstream_replies.labels("smtp", klass).inc()
            self.metrics.upstream_up.labels("smtp").set(0 if exc.code is None else 1)
            raise
        finally:
            self.metrics.upstream_seconds.labels("smtp").observe(time.perf_counter() - started)
        self.metrics.upstream_replies.labels("smtp", "2xx").inc()
        self.metrics.upstream_up.labels("smtp").set(1)
        return receipt

    def _new_item(
        self,
        tx: Transaction,
        verdict: Verdict,
        audiences: tuple[Audience, ...],
        rcpts: tuple[str, ...],
        *,
        explanation: str | None = None,
    ) -> NewItem:
        decision = verdict.decisions.get(audiences[0]) or verdict.decision
        counts = verdict.counts()
        subject = header_subject(tx.raw)
        if subject:
            subject = self.inspector.redact_text(subject, self.inspector.scan_text(subject))
        return NewItem(
            channel="smtp",
            sender=tx.sender,
            recipients=rcpts,
            route=None,
            content=tx.trace + tx.raw,
            envelope={
                "mail_from": tx.sender,
                "mail_options": list(tx.mail_options),
                "queue_id": tx.queue_id,
                "peer": tx.peer,
                "authenticated": tx.authenticated,
                "tls": tx.tls,
            },
            findings=[f.as_dict() for f in verdict.findings],
            segments=[{"source": s.source, "kind": s.kind, "text": s.text} for s in verdict.segments],
            types=counts,
            severity="high" if HIGH_RISK_TYPES & set(counts) else "medium",
            action=Action.QUARANTINE.value,
            rows=list(decision.rows),
            explanation=explanation or decision.explanation,
            subject=subject,
        )

    def _count(self, tx: Transaction, verdict: Verdict, counts: dict[str, int]) -> None:
        """guard_messages_total once per audience present; findings once per message."""
        rcpts = {r.lower() for r in tx.recipients}
        present = {rc.audience for rc in verdict.recipients if rc.address.lower() in rcpts} or {
            verdict.audience
        }
        types: dict[str, int] = counts
        for audience in (Audience.INTERNAL, Audience.EXTERNAL):
            if audience in present:
                decision = verdict.decisions.get(audience) or verdict.decision
                self.metrics.count_verdict("smtp", audience.value, decision.action.value, types)
                types = {}

    def _log(
        self,
        tx: Transaction,
        verdict: Verdict,
        counts: dict[str, int],
        outcome: Outcome | None,
        reply: str,
        error: str | None,
        inspect_s: float,
        deliver_s: float,
    ) -> None:
        facts: dict[str, Any] = {
            "event": "smtp_decision",
            "queue_id": tx.queue_id,
            "peer": tx.peer,
            "tls": tx.tls,
            "authenticated": tx.authenticated,
            "size": len(tx.raw),
            "recipients": len(tx.recipients),
            "action": verdict.action.value,
            "actions": {a.value: d.action.value for a, d in verdict.decisions.items()},
            "counts": counts,
            "rows": list(verdict.rows),
            "reply": reply[:3],
            "status": reply[4:].split(" ", 1)[0],
            "inspect_ms": round(inspect_s * 1000, 2),
            "deliver_ms": round(deliver_s * 1000, 2),
        }
        if outcome is not None:
            facts["deliveries"] = [
                {
                    "action": d.action.value,
                    "audiences": [a.value for a in d.audiences],
                    "recipients": len(d.recipients),
                    **({"quarantine_id": d.quarantine_id} if d.quarantine_id else {}),
                }
                for d in outcome.deliveries
            ]
        if error:
            facts["error"] = error
            self.log.warning("smtp message not accepted", extra=facts)
        else:
            self.log.info("smtp decision", extra=facts)
