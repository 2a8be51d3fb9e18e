"""The quarantine JSON API: `Authorization: Bearer <token>` (review.api_tokens), same roles as the UI.

    GET  /api/v1/quarantine                  viewer    ?status=&channel=&type=&limit=&offset=
    GET  /api/v1/quarantine/{id}             viewer    values masked; reviewers get them (audited)
    POST /api/v1/quarantine/{id}/release     reviewer  {"reason"}            200 | 409 | 502 (release_failed)
    POST /api/v1/quarantine/{id}/reject      reviewer  {"reason", "notify_sender"}
    POST /api/v1/quarantine/{id}/approve     reviewer  (four-eyes)
    POST /api/v1/quarantine/{id}/notes       reviewer  {"note"}
    GET  /api/v1/audit/verify                admin
    GET  /api/v1/openapi-quarantine.yaml     (no token) this API's OpenAPI document

Tokens with the `agent` role (for /api/v1/check) get 403 here. No cookies, so no CSRF.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from guard.errors import Conflict, Forbidden, NotFound, Reason
from guard.http.replies import json_error
from guard.review import present
from guard.review.auth import token_lookup
from guard.review.service import Actor, ReviewService, role_at_least
from guard.store.base import Status

if TYPE_CHECKING:
    from guard.services import Services

BASE = "/api/v1/quarantine"
API_SERVICE_KEY: web.AppKey[ReviewService] = web.AppKey("review_api_service", ReviewService)
ApiHandler = Callable[[web.Request, Actor, ReviewService], Awaitable[web.StreamResponse]]


def _unauthorised(message: str) -> web.Response:
    resp = json_error(401, "unauthorized", message)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="guard"'
    return resp


#: What the API says for each refusal reason (chosen by `exc.reason`, never by exception text).
_REFUSALS = {
    Reason.ROLE: "your role does not allow this action",
    Reason.OWN_MESSAGE: "nobody may approve or release their own message",
    Reason.FOUR_EYES: "high severity: a second reviewer must approve it before release",
    Reason.ALREADY_APPROVED: "you have already approved this item",
}


def authorised(role: str) -> Callable[[ApiHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    def wrap(fn: ApiHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            svc = request.app[API_SERVICE_KEY]
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _unauthorised("send Authorization: Bearer <token>")
            found = token_lookup(svc.settings.review.api_tokens, token.strip())
            if found is None:
                return _unauthorised("unknown token")
            actor = Actor(name=found.name, role=found.role, via="api")
            if not role_at_least(found.role, role):
                return json_error(403, "forbidden", f"this needs the {role} role; the token has {found.role}")
            try:
                resp = await fn(request, actor, svc)
                resp.headers["Cache-Control"] = "no-store"  # reviewers get message content: never cached
                return resp
            except NotFound:
                return json_error(404, "not_found", "no such quarantine item")
            except Forbidden as exc:
                return json_error(
                    403, "forbidden", _REFUSALS.get(exc.reason, "not allowed"), reason=exc.reason
                )
            except Conflict as exc:
                message = _REFUSALS.get(exc.reason) or str(exc)  # the store's text: id and state only
                return json_error(409, "conflict", message, reason=exc.reason)

        return handler

    return wrap


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=json.dumps({"error": "bad_request", "message": message}), content_type="application/json"
    )


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object body (empty when there is none); anything else is a 400."""
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, a 5000-digit number, deep nesting
        raise _bad("body must be JSON") from None
    if not isinstance(data, dict):
        raise _bad("body must be a JSON object")
    return data


def _text(body: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    if key not in body and not required:
        return ""
    value = body.get(key)
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise _bad(f"{key} must be a{' non-empty' if required else ''} string of at most {limit} characters")
    return value.strip()


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):  # null too: the schema says boolean
        raise _bad(f"{key} must be true or false")
    return value


def _int(value: str | None, default: int, lo: int, hi: int, name: str) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _bad(f"{name} must be an integer") from None
    if not lo <= number <= hi:
        raise _bad(f"{name} must be between {lo} and {hi}")
    return number


@authorised("viewer")
async def list_items(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    q = request.query
    status = q.get("status")
    if status is not None and status not in {s.value for s in Status}:
        return json_error(400, "bad_request", f"status must be one of {[s.value for s in Status]}")
    channel = q.get("channel")
    if channel is not None and channel not in {"smtp", "chat", "api"}:
        return json_error(400, "bad_request", "channel must be smtp, chat or api")
    etype = q.get("type")
    if etype is not None and len(etype) > 40:
        return json_error(400, "bad_request", "type must be at most 40 characters")
    limit, offset = _int(q.get("limit"), 50, 1, 500, "limit"), _int(q.get("offset"), 0, 0, 10**9, "offset")
    kwargs = {"status": status or None, "channel": channel or None, "type": etype or None}
    items = await svc.store.list(**kwargs, limit=limit, offset=offset)
    total = await svc.store.count(**kwargs)
    return web.json_response(
        {
            "items": [s.as_dict() for s in items],
            "total": total,
            "limit": limit,
            "offset": offset,
            "counts": await svc.store.counts(),
        }
    )


@authorised("viewer")
async def show_item(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    item = await svc.view(request.match_info["id"], actor)
    return web.json_response(present.item_dict(item, reveal=role_at_least(actor.role, "reviewer")))


@authorised("reviewer")
async def release_item(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    body = await _body(request)
    outcome = await svc.release(request.match_info["id"], actor, _text(body, "reason", 2000))
    if outcome.delivered:
        return web.json_response({"id": outcome.summary.id, "status": outcome.summary.status.value})
    body = {
        "error": "release_failed",
        "message": "the upstream did not take the message; it can be released again",
        "id": outcome.summary.id,
        "status": outcome.summary.status.value,
        "detail": outcome.error,
    }
    return web.json_response(body, status=502)


@authorised("reviewer")
async def reject_item(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    body = await _body(request)
    item_id = request.match_info["id"].upper()
    sent = await svc.reject(item_id, actor, _text(body, "reason", 2000), notify=_flag(body, "notify_sender"))
    return web.json_response({"id": item_id, "status": Status.REJECTED.value, "sender_notified": sent})


@authorised("reviewer")
async def approve_item(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    s = await svc.approve(request.match_info["id"], actor)
    return web.json_response({"id": s.id, "status": s.status.value, "approvals": list(s.approvals)})


@authorised("reviewer")
async def add_note(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    body = await _body(request)
    await svc.note(request.match_info["id"], actor, _text(body, "note", 4000, required=True))
    return web.json_response({"id": request.match_info["id"].upper(), "noted": True}, status=201)


@authorised("admin")
async def audit_verify(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    report = await svc.verify_audit(actor)
    return web.json_response(
        {
            "ok": report.ok,
            "entries": report.entries,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "problems": report.problems,
        },
        status=200 if report.ok else 409,
    )


SPEC = Path(__file__).resolve().parent.parent / "openapi-quarantine.yaml"


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=SPEC.read_bytes(), content_type="application/yaml")


def setup(app: web.Application, services: Services) -> None:
    """Add the quarantine and audit API routes (called by guard.http.app.build_http_app)."""
    app[API_SERVICE_KEY] = services.review
    app.router.add_get("/api/v1/openapi-quarantine.yaml", openapi)
    app.router.add_get(BASE, list_items)
    app.router.add_get(BASE + "/{id}", show_item)
    app.router.add_post(BASE + "/{id}/release", release_item)
    app.router.add_post(BASE + "/{id}/reject", reject_item)
    app.router.add_post(BASE + "/{id}/approve", approve_item)
    app.router.add_post(BASE + "/{id}/notes", add_note)
    app.router.add_get("/api/v1/audit/verify", audit_verify)
