"""After the verdict, one place: relay, redact, quarantine, refuse; audit, metrics, decision log.

Adapters translate their protocol into an `OutboundMessage` plus an origin (where it came
from, how it goes on) and call, once per message:

    inspect(message)                  -> Verdict     (the one rule for leaving the event loop)
    act(verdict, message, origin)     -> Outcome     (never raises)

and turn the `Outcome` into their protocol's answer with `origin.answer(outcome)`, which
`act` calls itself so the one decision-log line can say what the client was told.

    origin         ALLOW / REDACT             QUARANTINE         BLOCK     also
    MailOrigin     relay per audience group   store.put per grp  nothing   metrics, audit, log
    ChatOrigin     POST to the route          store.put          nothing   metrics, audit, log
    CheckOrigin    nothing (dry run): the redacted version the caller could send instead
    ReleaseOrigin  deliver the held bytes by the original channel; finish_release (audit)

One severity rule (`Inspector.severity`, levels from the rules data), one quarantine-item
builder (`new_item`), one rule for inspecting and redacting off the event loop (`leaves_loop`,
`inspect_timeout_s`). A redaction is inspected once more before it leaves (`redact.recheck`);
anything of the masked types still found turns it into a hold (fail closed).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import formatdate
from functools import partial
from typing import TYPE_CHECKING, Any

from guard.chat.dialects import dialect_for
from guard.delivery.base import Mail, MailForwarder, Post, Receipt, UpstreamReply
from guard.delivery.webhook import WebhookForwarder, join_upstream
from guard.errors import (
    DeliveryError,
    GuardError,
    InspectionError,
    PermanentDeliveryError,
    Reason,
    RedactionError,
    StoreError,
    TemporaryDeliveryError,
    UpstreamTimeout,
)
from guard.inspection import redact
from guard.model import Action, Audience, Channel, Decision, OutboundMessage, Verdict
from guard.store.audit import now_iso
from guard.store.base import Item, NewItem, QuarantineStore
from guard.store.records import ChatEnvelope, MailEnvelope, StoredFinding, StoredSegment

if TYPE_CHECKING:
    import logging

    from guard.api.drafts import Draft
    from guard.chat.dialects import Dialect
    from guard.chat.payload import Parsed
    from guard.config import ChatRoute, Settings
    from guard.inspection import Inspector
    from guard.metrics import Metrics

#: Messages larger than this (text plus raw bytes) are inspected and redacted in a worker thread.
THREAD_THRESHOLD = 64 * 1024
#: Content that can cost seconds of CPU for a few KiB (PDFs, archives, compressed data, anything
#: base64-encoded, images sent unencoded: OCR takes seconds per image) also leaves the loop,
#: whatever its size, so one such message cannot stall every other session, webhook and health check.
COSTLY_CONTENT = re.compile(
    rb"(?i)content-transfer-encoding:[ \t]*base64|%PDF-|PK\x03\x04|\x1f\x8b|\x89PNG|\xff\xd8\xff|GIF8[79]a"
)
#: Released items carry this header, so the recipient's side can tell a reviewed release.
TRACE_HEADER = "X-Guard-Released"
_PASSED_MAIL_OPTIONS = ("SMTPUTF8", "BODY=8BITMIME")  # SIZE is recomputed by the forwarder
_ORDER = (Action.ALLOW, Action.REDACT, Action.QUARANTINE, Action.BLOCK)


# -- the one rule for each ---------------------------------------------------------------------
def leaves_loop(message: OutboundMessage) -> bool:
    """Whether inspecting or redacting `message` runs in a worker thread (with a timeout)."""
    raw = message.raw or b""
    if len(message.text or "") + len(raw) > THREAD_THRESHOLD:
        return True
    return bool(raw) and COSTLY_CONTENT.search(raw) is not None


def inspect_timeout_s(settings: Settings) -> float:
    """How long inspection in a thread may take before the message fails closed."""
    s = settings.smtp
    return min(s.inspect_timeout_s, max(1.0, s.session_timeout_s * 0.25))


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


def trace_value(item_id: str, actor: str) -> str:
    safe_actor = "".join(c for c in actor if c.isprintable() and c not in "\r\n;")[:80]
    return f"{item_id}; by={safe_actor}; at={now_iso()}"


def error_text(exc: BaseException) -> str:
    """Value-free: the error class and the reply code (upstream reply texts can echo content)."""
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}" + (f" (upstream code {code})" if code else "")


# -- where a message came from ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MailOrigin:
    """One SMTP transaction: envelope, the trace header to prepend, and facts for the log."""

    queue_id: str
    sender: str  # "<>" for the null reverse-path
    recipients: tuple[str, ...]
    raw: bytes  # as received (dot-unstuffed, CRLF), without our trace header
    trace: bytes  # the Received: header to prepend to every relayed copy
    mail_options: tuple[str, ...]
    peer: str
    authenticated: bool
    tls: bool
    answer: Callable[[Outcome], str]  # the SMTP reply for an outcome
    inspect_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ChatOrigin:
    """One webhook request: its route, how its body reads and re-encodes, where it goes on."""

    route: ChatRoute
    dialect: Dialect
    parsed: Parsed
    body: bytes  # the original request body
    tail: str
    query: str
    headers: Mapping[str, str]  # the caller's request headers (the forwarder picks what may pass)
    remote: str
    request_texts: tuple[str, ...]  # the path tail and query as the upstream reads them
    answer: Callable[[Outcome], Any]  # the HTTP response for an outcome
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True, slots=True)
class CheckOrigin:
    """A dry run from `/api/v1/check`: nothing is sent or stored."""

    caller: str
    draft: Draft
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True, slots=True)
class ReleaseOrigin:
    """A held item a reviewer released (already claimed: `releasing`)."""

    item: Item
    actor: str


Origin = MailOrigin | ChatOrigin | CheckOrigin | ReleaseOrigin


# -- what was done -------------------------------------------------------------------------------
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
    """Everything an adapter needs to answer; `error` set means not (fully) done."""

    id: str  # queue id, route, caller or item id
    verdict: Verdict
    deliveries: tuple[Delivery, ...] = ()
    error: BaseException | None = None
    upstream: UpstreamReply | None = None  # a webhook upstream's reply, passed back as is
    redacted: Any = None  # chat: the masked payload for a held reply; check: the redacted draft
    answer: Any = None  # what the adapter told the client (`origin.answer(outcome)`)

    @property
    def queue_id(self) -> str:
        return self.id

    @property
    def reason(self) -> Reason | None:
        if self.error is None:
            return None
        return self.error.reason if isinstance(self.error, GuardError) else Reason.INTERNAL

    @property
    def item_id(self) -> str | None:
        return next((d.quarantine_id for d in self.deliveries if d.quarantine_id), None)


def release_verdict(item: Item, actor: str) -> Verdict:
    """A reviewer's release as a verdict: allow, for the item's audience, by the review row."""
    decision = Decision(Action.ALLOW, ("review-release",), f"released by {actor} after review")
    return Verdict(Action.ALLOW, Audience.EXTERNAL, {Audience.EXTERNAL: decision}, (), ())


def plan(
    recipients: tuple[str, ...], verdict: Verdict
) -> list[tuple[Action, tuple[Audience, ...], tuple[str, ...]]]:
    """Group recipients by the action their audience's decision asks for, mildest first.

    A recipient the verdict did not classify counts as external (fail closed).
    """
    audience_of = {rc.address.lower(): rc.audience for rc in verdict.recipients}
    groups: dict[Action, tuple[list[Audience], list[str]]] = {}
    for rcpt in recipients:
        audience = audience_of.get(rcpt.lower(), Audience.EXTERNAL)
        decision = verdict.decisions.get(audience) or verdict.decision
        audiences, rcpts = groups.setdefault(decision.action, ([], []))
        if audience not in audiences:
            audiences.append(audience)
        rcpts.append(rcpt)
    return [(a, tuple(groups[a][0]), tuple(groups[a][1])) for a in _ORDER if a in groups]


def reason_of(verdict: Verdict, route: str | None = None, item_id: str | None = None) -> dict[str, Any]:
    """The machine-readable, value-free reason: types, counts, rows, explanation."""
    reason = verdict.summary()
    reason["types"] = sorted(reason["counts"])
    if verdict.decision.advice:
        reason["advice"] = verdict.decision.advice
    if route is not None:
        reason["route"] = route
    if item_id is not None:
        reason["id"] = item_id
    return reason


class Actions:
    """Carries out verdicts. Built once by `guard.services`; shared by every adapter and the release."""

    def __init__(
        self,
        settings: Settings,
        inspector: Inspector | None,  # None: release only (the review CLI, which inspects nothing)
        store: QuarantineStore,
        metrics: Metrics,
        log: logging.Logger,
        *,
        mail: MailForwarder,
        webhook: WebhookForwarder,
        record: Callable[..., None] | None = None,
    ) -> None:
        self.settings = settings
        self._inspector = inspector
        self.store = store
        self.metrics = metrics
        self.log = log
        self.mail = mail
        self.webhook = webhook
        self._record = record
        self.timeout_s = inspect_timeout_s(settings)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        """A metric's labelled child, resolved once: `labels()` takes a lock and builds a key on
        every call, which shows on the chat proxy's hot path."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    @property
    def inspector(self) -> Inspector:
        if self._inspector is None:
            raise InspectionError("this Actions was built for releases only")
        return self._inspector

    # -- inspection (before the verdict, but one rule for every adapter) ------------------------
    async def inspect(self, message: OutboundMessage, channel: str) -> Verdict:
        """Inspect on the loop or in a thread (`leaves_loop`), bounded; any failure is raised as
        `InspectionError` after counting it, so the adapter fails closed."""
        started = time.perf_counter()
        try:
            if leaves_loop(message):
                verdict = await asyncio.wait_for(
                    asyncio.to_thread(self.inspector.inspect, message), self.timeout_s
                )
            else:
                verdict = self.inspector.inspect(message)
        except Exception as exc:
            self._child(self.metrics.inspection_errors, channel).inc()
            self.log.warning(
                f"{channel} inspection failed; failing closed",
                extra={"event": f"{channel}_inspection_failed", "error": type(exc).__name__},
            )
            raise InspectionError("inspection failed") from exc
        self._child(self.metrics.inspection_seconds, channel).observe(time.perf_counter() - started)
        return verdict

    async def _off_loop(self, message: OutboundMessage, fn: Callable[[], Any]) -> Any:
        if leaves_loop(message):
            return await asyncio.wait_for(asyncio.to_thread(fn), self.timeout_s)
        return fn()

    # -- the one entry point ----------------------------------------------------------------------
    async def act(self, verdict: Verdict, message: OutboundMessage, origin: Origin) -> Outcome:
        """Carry out `verdict` for `message`; never raises (failures are in `Outcome.error`)."""
        if isinstance(origin, MailOrigin):
            return await self._mail(verdict, message, origin)
        if isinstance(origin, ChatOrigin):
            return await self._chat(verdict, message, origin)
        if isinstance(origin, CheckOrigin):
            return await self._check(verdict, message, origin)
        return await self._release(verdict, origin)

    def _audit(self, channel: str, verdict: Verdict, message_id: str, size: int = 0) -> None:
        if self._record is not None:
            self._record(channel, verdict, message_id=message_id, size=size)

    # -- the one quarantine-item builder ----------------------------------------------------------
    def new_item(
        self,
        verdict: Verdict,
        decision: Decision,
        *,
        channel: str,
        sender: str,
        recipients: tuple[str, ...],
        route: str | None,
        content: bytes,
        envelope: MailEnvelope | ChatEnvelope,
        subject: str = "",
        explanation: str | None = None,
    ) -> NewItem:
        counts = verdict.counts()
        if subject:
            subject = self.inspector.redact_text(subject, self.inspector.scan_text(subject))
        return NewItem(
            channel=channel,
            sender=sender,
            recipients=recipients,
            route=route,
            content=content,
            envelope=envelope,
            findings=[StoredFinding.of(f) for f in verdict.findings],
            segments=[StoredSegment.of(s) for s in verdict.segments],
            types=counts,
            severity=self.inspector.severity(counts),
            action=Action.QUARANTINE.value,
            rows=list(decision.rows),
            explanation=explanation or decision.explanation,
            subject=subject,
        )

    # -- upstream bookkeeping (same metrics for every channel) -----------------------------------
    def _upstream_ok(self, channel: str, klass: str, up: bool, seconds: float) -> None:
        self._child(self.metrics.upstream_seconds, channel).observe(seconds)
        self._child(self.metrics.upstream_replies, channel, klass).inc()
        self._child(self.metrics.upstream_up, channel).set(1 if up else 0)

    def _upstream_failed(self, channel: str, exc: DeliveryError, seconds: float | None) -> None:
        if seconds is not None:
            self._child(self.metrics.upstream_seconds, channel).observe(seconds)
        klass = "error" if exc.code is None else ("5xx" if isinstance(exc, PermanentDeliveryError) else "4xx")
        self._child(self.metrics.upstream_replies, channel, klass).inc()
        self._child(self.metrics.upstream_up, channel).set(0 if exc.code is None else 1)

    # -- SMTP ---------------------------------------------------------------------------------------
    async def _mail(self, verdict: Verdict, message: OutboundMessage, o: MailOrigin) -> Outcome:
        started = time.perf_counter()
        counts = verdict.counts()
        self._count_mail(o, verdict, counts)
        self._audit("smtp", verdict, o.queue_id, len(o.raw))
        deliveries: list[Delivery] = []
        error: BaseException | None = None
        try:
            for action, audiences, rcpts in plan(o.recipients, verdict):
                if action is Action.ALLOW:
                    receipt = await self._relay(Mail(o.sender, rcpts, o.trace + o.raw, o.mail_options))
                    deliveries.append(Delivery(action, audiences, rcpts, receipt=receipt))
                elif action is Action.REDACT:
                    work = partial(self._redacted_mail, o, verdict, audiences, rcpts)
                    masked, check = await self._off_loop(message, work)
                    if check.clean and masked != o.raw and redact.has_signature(o.raw):
                        self.log.info(
                            "redacted message relayed; its DKIM/ARC signature no longer verifies",
                            extra={"event": "smtp_redacted_signature", "queue_id": o.queue_id},
                        )
                    if not check.clean:  # something of the masked types is still there: hold it instead
                        item = self._mail_item(o, verdict, audiences, rcpts, check.explanation())
                        item_id = await self.store.put(item)
                        deliveries.append(
                            Delivery(Action.QUARANTINE, audiences, rcpts, quarantine_id=item_id)
                        )
                        continue
                    receipt = await self._relay(Mail(o.sender, rcpts, o.trace + masked, o.mail_options))
                    deliveries.append(Delivery(action, audiences, rcpts, receipt=receipt))
                elif action is Action.QUARANTINE:
                    item_id = await self.store.put(self._mail_item(o, verdict, audiences, rcpts))
                    deliveries.append(Delivery(action, audiences, rcpts, quarantine_id=item_id))
                else:
                    deliveries.append(Delivery(action, audiences, rcpts))
        except Exception as exc:
            error = exc
            if not isinstance(exc, GuardError):
                self.log.exception(
                    "smtp delivery failed", extra={"event": "smtp_error", "queue_id": o.queue_id}
                )
        outcome = Outcome(o.queue_id, verdict, tuple(deliveries), error=error)
        reply = o.answer(outcome)
        self._log_mail(o, verdict, counts, outcome, reply, time.perf_counter() - started)
        return Outcome(o.queue_id, verdict, outcome.deliveries, error=error, answer=reply)

    def _redacted_mail(
        self, o: MailOrigin, verdict: Verdict, audiences: tuple[Audience, ...], rcpts: tuple[str, ...]
    ) -> tuple[bytes, redact.Recheck]:
        """The masked message and its one re-inspection (a DKIM signature no longer verifies
        after a change; re-signing is left to the upstream)."""
        types = tuple(sorted({t for a in audiences for t in redact.types_to_redact(verdict, a)}))
        masked = redact.redact_message(o.raw, verdict, types)
        again = OutboundMessage(channel=Channel.SMTP, sender=o.sender, recipients=rcpts, raw=masked)
        return masked, self.inspector.recheck(again, types)

    def _mail_item(
        self,
        o: MailOrigin,
        verdict: Verdict,
        audiences: tuple[Audience, ...],
        rcpts: tuple[str, ...],
        explanation: str | None = None,
    ) -> NewItem:
        return self.new_item(
            verdict,
            verdict.decisions.get(audiences[0]) or verdict.decision,
            channel="smtp",
            sender=o.sender,
            recipients=rcpts,
            route=None,
            content=o.trace + o.raw,
            envelope=MailEnvelope(
                mail_from=o.sender,
                mail_options=o.mail_options,
                queue_id=o.queue_id,
                peer=o.peer,
                authenticated=o.authenticated,
                tls=o.tls,
            ),
            subject=header_subject(o.raw),
            explanation=explanation,
        )

    async def _relay(self, mail: Mail) -> Receipt:
        started = time.perf_counter()
        try:
            receipt = await self.mail.deliver(mail)
        except DeliveryError as exc:
            self._upstream_failed("smtp", exc, time.perf_counter() - started)
            raise
        self._upstream_ok("smtp", "2xx", True, time.perf_counter() - started)
        return receipt

    def _count_mail(self, o: MailOrigin, verdict: Verdict, counts: dict[str, int]) -> None:
        """guard_messages_total once per audience present; findings once per message."""
        rcpts = {r.lower() for r in o.recipients}
        present = {rc.audience for rc in verdict.recipients if rc.address.lower() in rcpts} or {
            verdict.audience
        }
        types: dict[str, int] = counts
        for audience in (Audience.INTERNAL, Audience.EXTERNAL):
            if audience in present:
                decision = verdict.decisions.get(audience) or verdict.decision
                self.metrics.count_verdict("smtp", audience.value, decision.action.value, types)
                types = {}

    def _log_mail(
        self,
        o: MailOrigin,
        verdict: Verdict,
        counts: dict[str, int],
        outcome: Outcome,
        reply: str,
        deliver_s: float,
    ) -> None:
        facts: dict[str, Any] = {
            "event": "smtp_decision",
            "queue_id": o.queue_id,
            "peer": o.peer,
            "tls": o.tls,
            "authenticated": o.authenticated,
            "size": len(o.raw),
            "recipients": len(o.recipients),
            "action": verdict.action.value,
            "actions": {a.value: d.action.value for a, d in verdict.decisions.items()},
            "counts": counts,
            "rows": list(verdict.rows),
            "reply": reply[:3],
            "status": reply[4:].split(" ", 1)[0],
            "inspect_ms": round(o.inspect_s * 1000, 2),
            "deliver_ms": round(deliver_s * 1000, 2),
        }
        if outcome.error is None:
            facts["deliveries"] = [
                {
                    "action": d.action.value,
                    "audiences": [a.value for a in d.audiences],
                    "recipients": len(d.recipients),
                    **({"quarantine_id": d.quarantine_id} if d.quarantine_id else {}),
                }
                for d in outcome.deliveries
            ]
            self.log.info("smtp decision", extra=facts)
        else:
            facts["error"] = type(outcome.error).__name__
            self.log.warning("smtp message not accepted", extra=facts)

    # -- chat -----------------------------------------------------------------------------------------
    async def _chat(self, verdict: Verdict, message: OutboundMessage, o: ChatOrigin) -> Outcome:
        route = o.route
        self.metrics.count_verdict("chat", verdict.audience.value, verdict.action.value, verdict.counts())
        self._audit("chat", verdict, route.name, len(o.body))
        audience = verdict.audience
        action = verdict.action
        outcome: Outcome
        body = o.body
        if action is Action.REDACT:
            try:
                body, check = await self._off_loop(message, lambda: self._redacted_body(o, verdict))
            except Exception as exc:
                return self._chat_done(o, Outcome(route.name, verdict, error=_as_redaction_error(exc)))
            if not check.clean:  # fail closed: what masking could not reach is held
                verdict, action = redact.held_instead(verdict, check), Action.QUARANTINE
        if action in (Action.ALLOW, Action.REDACT):
            outcome = await self._post(o, verdict, body)
        elif action is Action.QUARANTINE:
            item = self.new_item(
                verdict,
                verdict.decision,
                channel="chat",
                sender=o.remote,
                recipients=(),
                route=route.name,
                content=o.body,
                envelope=ChatEnvelope(
                    route=route.name,
                    format=route.format,
                    dialect=o.dialect.name,
                    tail=o.tail,
                    query=o.query,
                    content_type=o.headers.get("Content-Type", ""),
                    audience=route.audience,
                ),
            )
            try:
                item_id = await self.store.put(item)
            except Exception as exc:
                error = exc if isinstance(exc, StoreError) else StoreError(type(exc).__name__)
                return self._chat_done(o, Outcome(route.name, verdict, error=error))
            redacted = None
            if o.dialect.name in {"discord", "googlechat"}:
                try:  # without it their fake success reply carries no text at all
                    masker = redact.Masker(redact.masks(verdict, verdict.counts()))
                    redacted = redact.mask_json(o.parsed.payload, masker)
                except Exception:
                    redacted = None
            held = Delivery(action, (audience,), (), quarantine_id=item_id)
            outcome = Outcome(route.name, verdict, (held,), redacted=redacted)
        else:
            outcome = Outcome(route.name, verdict, (Delivery(action, (audience,), ()),))
        return self._chat_done(o, outcome)

    def _redacted_body(self, o: ChatOrigin, verdict: Verdict) -> tuple[bytes, redact.Recheck]:
        """The payload in its original shape with what the verdict found masked in every field
        (keys and form fields too), and the one re-inspection of it. The path tail and query are
        forwarded as given, so a value there cannot be masked: the recheck finds it and holds."""
        types = redact.types_to_redact(verdict)
        payload = redact.redact_payload(o.parsed.payload, verdict, types)
        fields = tuple((k, v) for k, v in redact.redact_payload(o.parsed.form_fields, verdict, types))
        texts = o.dialect.texts(payload) + [v for _, v in fields if v] + list(o.request_texts)
        again = OutboundMessage(
            channel=Channel.CHAT,
            text="\n".join(texts),
            route=o.route.name,
            audience=Audience(o.route.audience),
            meta={"format": o.dialect.name},
        )
        return o.parsed.encode(payload, fields), self.inspector.recheck(again, types)

    async def _post(self, o: ChatOrigin, verdict: Verdict, body: bytes) -> Outcome:
        url = join_upstream(o.route.upstream, o.tail, o.query)
        started = time.perf_counter()
        sent = Delivery(verdict.action, (verdict.audience,), ())
        try:
            reply = await self.webhook.post(url, body, o.headers)
        except DeliveryError as exc:
            self._child(self.metrics.upstream_replies, "chat", "error").inc()
            self._child(self.metrics.upstream_up, "chat").set(0)
            return Outcome(o.route.name, verdict, error=exc)
        self._upstream_ok("chat", reply.status_class, reply.status < 500, time.perf_counter() - started)
        return Outcome(o.route.name, verdict, (sent,), upstream=reply)

    def _chat_done(self, o: ChatOrigin, outcome: Outcome) -> Outcome:
        response = o.answer(outcome)
        status = int(getattr(response, "status", 0))
        verdict = outcome.verdict
        error = outcome.error
        delivered = False
        if error is not None:
            label = {
                Reason.REDACTION_FAILED: "redaction_failed",
                Reason.STORE_FAILED: "quarantine_failed",
            }.get(outcome.reason or Reason.INTERNAL)
            if label is None:
                label = "upstream_timeout" if isinstance(error, UpstreamTimeout) else "upstream_error"
            else:
                what = "could not be redacted" if label == "redaction_failed" else "could not be held"
                self.log.error(
                    f"chat message {what}; not delivered",
                    extra={"event": f"chat_{label}", "route": o.route.name, "error": _cause_name(error)},
                )
        elif outcome.upstream is not None:
            label = "forwarded"
            delivered = 200 <= outcome.upstream.status < 300
        elif verdict.action is Action.QUARANTINE:
            label = "quarantined"
        else:
            label = "blocked"
        extra: dict[str, Any] = {
            "event": "chat_decision",
            "route": o.route.name,
            "format": o.route.format,
            "outcome": label,
            "status": status,
            "delivered": delivered,
            "ms": round((time.perf_counter() - o.started) * 1000, 2),
            "action": verdict.action.value,
            "audience": verdict.audience.value,
            "counts": verdict.counts(),
            "rows": list(verdict.rows),
        }
        if outcome.item_id is not None:
            extra["id"] = outcome.item_id
        self.log.info("chat message decided", extra=extra)
        return Outcome(
            outcome.id,
            verdict,
            outcome.deliveries,
            error=error,
            upstream=outcome.upstream,
            redacted=outcome.redacted,
            answer=response,
        )

    # -- check API (dry run) ------------------------------------------------------------------------
    async def _check(self, verdict: Verdict, message: OutboundMessage, o: CheckOrigin) -> Outcome:
        try:
            redacted = await self._off_loop(
                message, lambda: redacted_version(self.inspector, o.draft, verdict)
            )
        except Exception as exc:
            self._child(self.metrics.inspection_errors, "api").inc()
            self.log.error(
                "check failed closed", extra={"event": "api_check_failed", "error": type(exc).__name__}
            )
            return Outcome(o.caller, verdict, error=_as_redaction_error(exc))
        self.metrics.count_verdict("api", verdict.audience.value, verdict.action.value, verdict.counts())
        self._audit("api", verdict, o.caller)
        self.log.info(
            "draft checked",
            extra={
                "event": "api_check",
                "caller": o.caller,
                "draft": message.meta.get("draft"),
                "route": message.route,
                "action": verdict.action.value,
                "audience": verdict.audience.value,
                "counts": verdict.counts(),
                "rows": list(verdict.rows),
                "ms": round((time.perf_counter() - o.started) * 1000, 2),
            },
        )
        return Outcome(o.caller, verdict, redacted=redacted)  # (the redacted draft, whether it is clean)

    # -- quarantine release ---------------------------------------------------------------------------
    async def _release(self, verdict: Verdict, o: ReleaseOrigin) -> Outcome:
        item = o.item
        item_id = item.summary.id
        error: BaseException | None = None
        receipt: Receipt | None = None
        try:
            receipt = await self._deliver_item(item, o.actor)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # an unexpected bug must not leave the item stuck in `releasing`
            error = exc
        text = "" if error is None else error_text(error)
        if error is not None and not isinstance(error, DeliveryError):
            text = f"{type(error).__name__} during delivery"
        await self.store.finish_release(item_id, o.actor, ok=error is None, error=text)
        self._child(self.metrics.review_actions, "release" if error is None else "release_failed").inc()
        extra = {"event": "quarantine_release", "id": item_id, "channel": item.summary.channel}
        if error is not None:
            extra["error"] = text
        self.log.log(30 if error else 20, "released" if error is None else "release failed", extra=extra)
        recipients = item.summary.recipients
        done = () if error else (Delivery(Action.ALLOW, (verdict.audience,), recipients, receipt=receipt),)
        return Outcome(item_id, verdict, done, error=error, answer=text)

    async def _deliver_item(self, item: Item, actor: str) -> Receipt | None:
        """The original bytes by the original channel, with a trace header."""
        env = item.envelope
        trace = trace_value(item.summary.id, actor)
        if item.summary.channel == "smtp" and isinstance(env, MailEnvelope):
            sender = env.mail_from or item.summary.sender
            rcpts = env.rcpt_tos or item.summary.recipients
            if not rcpts:
                raise PermanentDeliveryError("no recipients")
            header = f"{TRACE_HEADER}: {trace}\r\n".encode()
            options = tuple(o for o in env.mail_options if o.upper() in _PASSED_MAIL_OPTIONS)
            return await self.mail.deliver(Mail(sender, rcpts, header + item.content, options))
        if item.summary.channel == "chat" and isinstance(env, ChatEnvelope):
            name = env.route or item.summary.route or ""
            route = next((r for r in self.settings.chat.routes if r.name == name), None)
            if route is None:
                raise PermanentDeliveryError("the item's chat route is no longer configured")
            url = join_upstream(route.upstream, env.tail, env.query.lstrip("?"))
            headers = (("Content-Type", env.content_type or "application/json"), (TRACE_HEADER, trace))
            reply = await self.webhook.deliver(Post(url, item.content, headers))
            if 200 <= reply.status < 300:
                return None
            if reply.status == 429 or reply.status >= 500:
                raise TemporaryDeliveryError(f"upstream answered {reply.status}", code=reply.status)
            raise PermanentDeliveryError(f"upstream answered {reply.status}", code=reply.status)
        raise PermanentDeliveryError(f"{item.summary.channel} items have no delivery target")

    async def notify_rejected(self, item_id: str, sender: str, subject: str, body: str) -> bool:
        """Tell the sender of a rejected mail why (the caller writes a value-free body)."""
        org = self.settings.org
        domain = org.internal_domains[0] if org.internal_domains else "localhost"
        notice = (
            f"From: Outbound Guard <postmaster@{domain}>\r\nTo: {sender}\r\n"
            f"Subject: Not sent: {subject or item_id}\r\nDate: {formatdate(localtime=False)}\r\n"
            f"Auto-Submitted: auto-replied\r\nMessage-ID: <{_message_id()}@{domain}>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            f"\r\n{body}"
        ).encode()
        try:
            await self.mail.deliver(
                Mail("", (sender,), notice, ("SMTPUTF8",) if not notice.isascii() else ())
            )
        except DeliveryError as exc:
            self.log.warning(
                "reject notice failed",
                extra={
                    "event": "quarantine_release",
                    "id": item_id,
                    "channel": "smtp",
                    "error": error_text(exc),
                },
            )
            return False
        return True


def _message_id() -> str:
    import uuid

    return uuid.uuid4().hex


def _cause_name(exc: BaseException) -> str:
    """The type of what really failed (a wrapped error names its cause)."""
    cause = exc.__cause__ or exc.__context__
    return (
        type(cause).__name__ if isinstance(exc, RedactionError) and cause is not None else type(exc).__name__
    )


def _as_redaction_error(exc: BaseException) -> RedactionError:
    if isinstance(exc, RedactionError):
        return exc
    error = RedactionError("the message could not be redacted")
    error.__cause__ = exc
    return error


# -- the check API's redacted version (what the agent may send instead) ---------------------------
def draft_types(verdict: Verdict) -> tuple[str, ...]:
    """What the draft masks: a REDACT decision's types, else every type found (the agent is
    shown what it could send instead)."""
    if verdict.action is Action.REDACT:
        return redact.types_to_redact(verdict)
    return tuple(t for t in verdict.counts() if t != "UNSCANNABLE")


def _text_redaction(verdict: Verdict, text: str, types: tuple[str, ...]) -> str:
    """`text` masked at the offsets of its own segment's findings and wherever else a value the
    verdict found (or its pair partner) appears in it."""
    for index, segment in enumerate(verdict.segments):
        if segment.text == text:
            text = redact.redact_text(text, [f for f in verdict.findings if f.segment == index], types)
            break
    return redact.redact_string(text, verdict, types)


def redacted_version(inspector: Inspector, draft: Draft, verdict: Verdict) -> tuple[dict[str, Any], bool]:
    """What the agent could send instead: the draft with every value of the masked types masked,
    and whether its one re-inspection found none of them left."""
    req = draft.request
    if not verdict.findings:
        if draft.route is not None:
            return {"payload": req.payload}, True
        plain = {"subject": req.subject, "text": req.text, "eml": req.eml}
        return {k: v for k, v in plain.items() if v is not None and (k != "subject" or v)}, True
    types = draft_types(verdict)
    out: dict[str, Any] = {}
    if draft.route is not None:
        out["payload"] = redact.redact_payload(req.payload, verdict, types, numbers=True)
        dialect = dialect_for(draft.route.format, draft.route.upstream, out["payload"])
        again = replace(draft.message, text="\n".join(dialect.texts(out["payload"])))
        return out, inspector.recheck(again, types).clean
    if req.subject:
        out["subject"] = _text_redaction(verdict, req.subject, types)
    if req.text is not None:
        out["text"] = _text_redaction(verdict, req.text, types)
    raw = None
    if req.eml is not None:
        raw = redact.redact_message(draft.message.raw or b"", verdict, types, drop_unmaskable=True)
        out["eml"] = raw.decode("utf-8", errors="replace")
    again = replace(draft.message, subject=out.get("subject", req.subject), text=out.get("text"), raw=raw)
    return out, inspector.recheck(again, types).clean
