"""`POST /hooks/{name}[/{tail}]`: the chat-webhook adapter (protocol in, protocol out).

request -> route (config) -> secret -> body -> dialect texts -> OutboundMessage + ChatOrigin
        -> actions.inspect -> actions.act, which calls `answer(outcome)`:
           forwarded (allow / redact)  -> the upstream's reply, byte for byte
           held (quarantine)           -> the service's success shape, or 202 + id
           blocked                     -> refusal in the caller's dialect: 403 + value-free reason
           failed                      -> 503 (inspection, redaction, store), 502/504 (upstream)
Error bodies are chosen by the error's `Reason`, never its text, so they name no upstream.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from guard.actions import ChatOrigin, Outcome, reason_of
from guard.chat import dialects
from guard.chat.dialects import Dialect, HeldContext, Reply
from guard.chat.payload import PayloadError, parse_body
from guard.config import ChatRoute
from guard.delivery.base import UpstreamReply
from guard.errors import InspectionError, Reason
from guard.http.replies import json_error
from guard.model import Action, Audience, Channel, OutboundMessage

if TYPE_CHECKING:
    from guard.services import Services

SECRET_HEADER = "X-Guard-Secret"
SECRET_PARAM = "guard_secret"
#: The 5xx answer for each failure after the request was read (status, error code, message).
_FAILURES: dict[Reason, tuple[int, str, str]] = {
    Reason.INSPECTION_FAILED: (
        503,
        "inspection_failed",
        "the message could not be inspected and was not delivered",
    ),
    Reason.UNSCANNABLE: (
        503,
        "inspection_failed",
        "the message could not be inspected and was not delivered",
    ),
    Reason.REDACTION_FAILED: (
        503,
        "redaction_failed",
        "the message could not be redacted and was not delivered",
    ),
    Reason.STORE_FAILED: (503, "quarantine_failed", "the message could not be held and was not delivered"),
    Reason.UPSTREAM_TIMEOUT: (
        504,
        "upstream_timeout",
        "upstream did not answer in time; the message was not delivered, retry later",
    ),
}
_FAILURES[Reason.INTERNAL] = (500, "internal_error", "internal error; nothing was delivered")
_UNREACHABLE = (
    502,
    "upstream_unreachable",
    "upstream unreachable; the message was not delivered, retry later",
)


def setup(app: web.Application, services: Services) -> None:
    proxy = ChatProxy(services)
    app.router.add_post("/hooks/{name}", proxy.handle)
    app.router.add_post("/hooks/{name}/{tail:.*}", proxy.handle)


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


class ChatProxy:
    """One instance per HTTP app; holds the route table."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.actions = services.actions
        self.routes: dict[str, ChatRoute] = {r.name: r for r in services.settings.chat.routes}

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
        request_texts = tuple(dialects.request_texts(tail, query))
        texts = [*dialect.texts(parsed.payload), *(v for _, v in parsed.form_fields if v), *request_texts]
        message = OutboundMessage(
            channel=Channel.CHAT,
            text="\n".join(texts),
            route=route.name,
            audience=Audience(route.audience),
            meta={"format": dialect.name},
        )
        origin = ChatOrigin(
            route=route,
            dialect=dialect,
            parsed=parsed,
            body=body,
            tail=tail,
            query=query,
            headers=request.headers,
            remote=request.remote or "",
            request_texts=request_texts,
            answer=lambda outcome: self.answer(route, dialect, query, outcome),
            started=started,
        )
        try:
            verdict = await self.actions.inspect(message, "chat")
        except InspectionError as exc:
            self._log(route, "inspection_failed", started, status=503)
            return failure_response(exc.reason)
        outcome = await self.actions.act(verdict, message, origin)
        answer = outcome.answer
        assert isinstance(answer, web.StreamResponse)
        return answer

    def answer(self, route: ChatRoute, dialect: Dialect, query: str, outcome: Outcome) -> web.StreamResponse:
        """The one HTTP response for an outcome (`actions.act` calls it once)."""
        verdict = outcome.verdict
        if outcome.error is not None:
            return failure_response(outcome.reason or Reason.INTERNAL)
        if outcome.upstream is not None:
            return upstream_response(outcome.upstream)
        item_id = outcome.item_id
        if verdict.action is Action.QUARANTINE and item_id is not None:
            reason = reason_of(verdict, route.name, item_id)
            ctx = HeldContext(
                item_id=item_id,
                message=f"Held for security review as {item_id}",
                reason=reason,
                upstream=route.upstream,
                query=dialects.lower_query(query),
                redacted=outcome.redacted,
            )
            if route.quarantine_reply == "accepted":
                return to_response(dialects.accepted_reply(replace(ctx, redacted=None)))
            held_reply = dialect.held(ctx)
            # The body looks like success for the client library; the header still tells an agent why.
            return to_response(
                replace(held_reply, headers=(*held_reply.headers, dialects.reason_header(reason)))
            )
        return to_response(dialect.refusal(reason_of(verdict, route.name)))

    def _log(self, route: ChatRoute, outcome: str, started: float, *, status: int) -> None:
        """The decision line for a request refused before any verdict (never a value)."""
        extra: dict[str, Any] = {
            "event": "chat_decision",
            "route": route.name,
            "format": route.format,
            "outcome": outcome,
            "status": status,
            "delivered": False,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        }
        self.services.log.info("chat message decided", extra=extra)


def failure_response(reason: Reason) -> web.Response:
    status, error, message = _FAILURES.get(reason, _UNREACHABLE)
    return json_error(status, error, message)
