"""`POST /hooks/{name}[/{tail}]`: the chat-webhook adapter.

request -> route (config) -> secret -> body -> dialect texts -> OutboundMessage -> inspect()
        -> allow: forward the original bytes        -> upstream reply, byte for byte
        -> redact: forward the masked payload       -> upstream reply
        -> quarantine: store.put() first            -> service's success shape or 202 + id
        -> block: refusal in the caller's dialect   -> 403 + value-free reason
Inspection errors fail closed (503); upstream failures are 502/504 and count as not delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from guard.chat import dialects
from guard.chat.dialects import Dialect, HeldContext, Reply
from guard.chat.forwarder import UpstreamReply, UpstreamTimeout, WebhookForwarder, join_upstream
from guard.chat.payload import Parsed, PayloadError, parse_body
from guard.config import ChatRoute
from guard.errors import DeliveryError
from guard.http.app import json_error
from guard.inspection import redact
from guard.model import HIGH_RISK_TYPES, Action, Audience, Channel, OutboundMessage, Verdict
from guard.store.base import NewItem

if TYPE_CHECKING:
    from guard.app import Services

SECRET_HEADER = "X-Guard-Secret"
SECRET_PARAM = "guard_secret"
#: Texts longer than this are inspected in a worker thread so the event loop keeps serving.
_THREAD_THRESHOLD = 64 * 1024


def setup(app: web.Application, services: Services) -> None:
    proxy = ChatProxy(services)
    app.router.add_post("/hooks/{name}", proxy.handle)
    app.router.add_post("/hooks/{name}/{tail:.*}", proxy.handle)


def severity(counts: dict[str, int]) -> str:
    if any(t in HIGH_RISK_TYPES for t in counts):
        return "high"
    return "medium" if counts else "low"


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


def to_response(reply: Reply) -> web.Response:
    resp = web.Response(status=reply.status, body=reply.body or None)
    if reply.content_type:
        resp.headers["Content-Type"] = reply.content_type
    for key, value in reply.headers:
        resp.headers[key] = value
    return resp


def upstream_response(reply: UpstreamReply) -> web.Response:
    resp = web.Response(status=reply.status, reason=reply.reason or None, body=reply.body or None)
    for key, value in reply.headers:
        resp.headers[key] = value
    return resp


def secret_matches(request: web.Request, secret: str) -> bool:
    given = request.headers.get(SECRET_HEADER) or request.query.get(SECRET_PARAM) or ""
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def split_tail(request: web.Request, name: str) -> str:
    """The raw path after /hooks/{name}; dot segments would let a caller walk to another webhook."""
    raw = request.rel_url.raw_path[len("/hooks/") + len(name) :]
    if any(unquote(seg) in {".", ".."} for seg in raw.split("/")):
        raise PayloadError("the path after the route name may not contain '.' or '..' segments")
    return raw.lstrip("/")


def forward_query(raw_query: str) -> str:
    """The caller's query string, unchanged except that the guard's own secret is removed."""
    if SECRET_PARAM not in raw_query:
        return raw_query
    keep = [p for p in raw_query.split("&") if unquote(p.split("=", 1)[0].replace("+", " ")) != SECRET_PARAM]
    return "&".join(keep)


def _message(
    route: ChatRoute,
    dialect: Dialect,
    payload: Any,
    fields: tuple[tuple[str, str], ...],
    request_texts: list[str],
) -> OutboundMessage:
    """What the service will show or read, as one message to inspect."""
    texts = dialect.texts(payload) + [v for _, v in fields if v] + request_texts
    return OutboundMessage(
        channel=Channel.CHAT,
        text="\n".join(texts),
        route=route.name,
        audience=Audience(route.audience),
        meta={"format": dialect.name},
    )


class ChatProxy:
    """One instance per HTTP app; holds the route table and the shared forwarder."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.routes: dict[str, ChatRoute] = {r.name: r for r in services.settings.chat.routes}
        forwarder = services.extras.get("webhook_forwarder")
        if not isinstance(forwarder, WebhookForwarder):
            forwarder = WebhookForwarder(services.settings.http.upstream_timeout_s)
            services.extras["webhook_forwarder"] = forwarder
            services.extras.setdefault("on_close", []).append(forwarder.close)
        self.forwarder = forwarder
        # Label children resolved once: labels() takes a lock and builds a key on every call.
        metrics = services.metrics
        self._inspection_seconds = metrics.inspection_seconds.labels("chat")
        self._upstream_seconds = metrics.upstream_seconds.labels("chat")
        self._upstream_up = metrics.upstream_up.labels("chat")
        self._upstream_replies: dict[str, Any] = {}

    def _upstream_reply(self, klass: str) -> Any:
        child = self._upstream_replies.get(klass)
        if child is None:
            child = self.services.metrics.upstream_replies.labels("chat", klass)
            self._upstream_replies[klass] = child
        return child

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        name = request.match_info["name"]
        route = self.routes.get(name)
        if route is None:
            return json_error(404, "unknown_route", "no chat route with this name is configured")
        if route.secret and not secret_matches(request, route.secret):
            self._log(route, "unauthorized", started, status=401)
            return json_error(401, "unauthorized", f"missing or wrong route secret ({SECRET_HEADER} header)")
        limit = self.settings.http.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return json_error(413, "request_entity_too_large", f"request body larger than {limit} bytes")
        try:
            tail = split_tail(request, name)
            body = await request.read()
            parsed = parse_body(body, request.headers.get("Content-Type"))
        except PayloadError as exc:
            self._log(route, exc.error, started, status=exc.status)
            return json_error(exc.status, exc.error, str(exc))
        query = forward_query(request.rel_url.raw_query_string)
        dialect = dialects.dialect_for(route.format, route.upstream, parsed.payload)
        try:
            verdict = await self._inspect(route, dialect, parsed, dialects.request_texts(tail, query))
        except Exception as exc:
            self.services.metrics.inspection_errors.labels("chat").inc()
            return self._fail(route, started, exc, "inspection_failed", "could not be inspected")
        action = verdict.action
        self.services.metrics.count_verdict("chat", verdict.audience.value, action.value, verdict.counts())
        self.services.record_verdict("chat", verdict, message_id=route.name, size=len(body))
        self._inspection_seconds.observe(verdict.duration_s)
        if action is Action.ALLOW:
            return await self._forward(route, verdict, tail, query, body, request, started)
        if action is Action.REDACT:
            try:
                masked, check = self._redacted_body(route, parsed, dialect, verdict, (tail, query))
            except Exception as exc:
                return self._fail(route, started, exc, "redaction_failed", "could not be redacted", verdict)
            if check.clean:
                return await self._forward(route, verdict, tail, query, masked, request, started)
            verdict, action = redact.held_instead(verdict, check), Action.QUARANTINE  # fail closed
        if action is Action.QUARANTINE:
            held = (dialect, parsed, body, tail, query)
            return await self._quarantine(route, verdict, held, request, started)
        reply = dialect.refusal(reason_of(verdict, route.name))
        self._log(route, "blocked", started, verdict=verdict, status=reply.status)
        return to_response(reply)

    async def _inspect(
        self, route: ChatRoute, dialect: Dialect, parsed: Parsed, request_texts: list[str]
    ) -> Verdict:
        message = _message(route, dialect, parsed.payload, parsed.form_fields, request_texts)
        inspector = self.services.inspector
        if len(message.text or "") > _THREAD_THRESHOLD:
            return await asyncio.to_thread(inspector.inspect, message)
        return inspector.inspect(message)

    def _redacted_body(
        self, route: ChatRoute, parsed: Parsed, dialect: Dialect, verdict: Verdict, request: tuple[str, str]
    ) -> tuple[bytes, redact.Recheck]:
        """The payload in its original shape with what the verdict found masked in every field
        (keys and form fields too), and the one re-inspection of it. The path tail and query are
        forwarded as given, so a value there cannot be masked: the recheck finds it and holds."""
        types = redact.types_to_redact(verdict)
        payload = redact.redact_payload(parsed.payload, verdict, types)
        fields = tuple((k, v) for k, v in redact.redact_payload(parsed.form_fields, verdict, types))
        again = _message(route, dialect, payload, fields, dialects.request_texts(*request))
        return parsed.encode(payload, fields), self.services.inspector.recheck(again, types)

    async def _forward(
        self,
        route: ChatRoute,
        verdict: Verdict,
        tail: str,
        query: str,
        body: bytes,
        request: web.Request,
        started: float,
    ) -> web.StreamResponse:
        url = join_upstream(route.upstream, tail, query)
        t0 = time.perf_counter()
        try:
            reply = await self.forwarder.post(url, body, request.headers)
        except DeliveryError as exc:
            self._upstream_reply("error").inc()
            self._upstream_up.set(0)
            timeout = isinstance(exc, UpstreamTimeout)
            status = 504 if timeout else 502
            self._log(
                route,
                "upstream_timeout" if timeout else "upstream_error",
                started,
                verdict=verdict,
                status=status,
                delivered=False,
            )
            return json_error(
                status,
                "upstream_timeout" if timeout else "upstream_unreachable",
                f"{exc}; the message was not delivered, retry later",
            )
        self._upstream_seconds.observe(time.perf_counter() - t0)
        self._upstream_reply(reply.status_class).inc()
        self._upstream_up.set(1 if reply.status < 500 else 0)
        self._log(
            route,
            "forwarded",
            started,
            verdict=verdict,
            status=reply.status,
            delivered=200 <= reply.status < 300,
        )
        return upstream_response(reply)

    async def _quarantine(
        self,
        route: ChatRoute,
        verdict: Verdict,
        held: tuple[Dialect, Parsed, bytes, str, str],
        request: web.Request,
        started: float,
    ) -> web.StreamResponse:
        dialect, parsed, body, tail, query = held
        counts = verdict.counts()
        item = NewItem(
            channel="chat",
            sender=request.remote or "",
            recipients=(),
            route=route.name,
            content=body,
            envelope={
                "route": route.name,
                "format": route.format,
                "dialect": dialect.name,
                "tail": tail,
                "query": query,
                "content_type": request.headers.get("Content-Type", ""),
                "audience": route.audience,
            },
            findings=[f.as_dict() for f in verdict.findings],
            segments=[{"source": s.source, "kind": s.kind, "text": s.text} for s in verdict.segments],
            types=counts,
            severity=severity(counts),
            action=verdict.action.value,
            rows=list(verdict.rows),
            explanation=verdict.explanation,
        )
        try:
            item_id = await self.services.store.put(item)
        except Exception as exc:
            return self._fail(route, started, exc, "quarantine_failed", "could not be held", verdict)
        reason = reason_of(verdict, route.name, item_id)
        ctx = HeldContext(
            item_id=item_id,
            message=f"Held for security review as {item_id}",
            reason=reason,
            upstream=route.upstream,
            query=dialects.lower_query(query),
            redacted=None,
        )
        if route.quarantine_reply == "accepted":
            reply = dialects.accepted_reply(ctx)
        else:
            if dialect.name in {"discord", "googlechat"}:
                with contextlib.suppress(Exception):  # without it the fake reply carries no text at all
                    ctx = replace(
                        ctx,
                        redacted=redact.mask_json(
                            parsed.payload, redact.Masker(redact.masks(verdict, verdict.counts()))
                        ),
                    )
            held_reply = dialect.held(ctx)
            # The body looks like success for the client library; the header still tells an agent why.
            reply = replace(held_reply, headers=(*held_reply.headers, dialects.reason_header(reason)))
        self._log(route, "quarantined", started, verdict=verdict, status=reply.status, item_id=item_id)
        return to_response(reply)

    def _fail(
        self,
        route: ChatRoute,
        started: float,
        exc: Exception,
        error: str,
        what: str,
        verdict: Verdict | None = None,
    ) -> web.Response:
        """Fail closed: 503, nothing delivered; the log names the exception type only."""
        self.services.log.error(
            f"chat message {what}; not delivered",
            extra={"event": f"chat_{error}", "route": route.name, "error": type(exc).__name__},
        )
        self._log(route, error, started, verdict=verdict, status=503)
        return json_error(503, error, f"the message {what} and was not delivered")

    def _log(
        self,
        route: ChatRoute,
        outcome: str,
        started: float,
        *,
        verdict: Verdict | None = None,
        status: int,
        delivered: bool = False,
        item_id: str | None = None,
    ) -> None:
        """One structured line per decision: route, outcome, types and counts; never a value."""
        extra: dict[str, Any] = {
            "event": "chat_decision",
            "route": route.name,
            "format": route.format,
            "outcome": outcome,
            "status": status,
            "delivered": delivered,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if verdict is not None:
            extra.update(
                action=verdict.action.value,
                audience=verdict.audience.value,
                counts=verdict.counts(),
                rows=list(verdict.rows),
            )
        if item_id is not None:
            extra["id"] = item_id
        self.services.log.info("chat message decided", extra=extra)
