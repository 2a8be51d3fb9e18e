"""The quarantine JSON API: `Authorization: Bearer <token>` (review.api_tokens), same roles as the UI.

    GET  /api/v1/quarantine                  viewer    ?status=&channel=&type=&limit=&offset=
    GET  /api/v1/quarantine/{id}             viewer    values masked; reviewers get them (audited)
    POST /api/v1/quarantine/{id}/release     reviewer  {"reason"}            200 | 409 | 502 (release_failed)
    POST /api/v1/quarantine/{id}/reject      reviewer  {"reason", "notify_sender"}
    POST /api/v1/quarantine/{id}/approve     reviewer  (four-eyes)
    POST /api/v1/quarantine/{id}/notes       reviewer  {"note"}
    GET  /api/v1/audit/verify                admin

Tokens with the `agent` role (for /api/v1/check) get 403 here. No cookies, so no CSRF.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from guard.errors import Conflict, NotFound
from guard.http.app import json_error
from guard.review import present
from guard.review.auth import token_lookup
from guard.review.service import Actor, Forbidden, ReviewService, role_at_least, service_for
from guard.store.base import Status

if TYPE_CHECKING:
    from guard.app import Services

BASE = "/api/v1/quarantine"
API_SERVICE_KEY: web.AppKey[ReviewService] = web.AppKey("review_api_service", ReviewService)
ApiHandler = Callable[[web.Request, Actor, ReviewService], Awaitable[web.StreamResponse]]


def _unauthorised(message: str) -> web.Response:
    resp = json_error(401, "unauthorized", message)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="guard"'
    return resp


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
                return await fn(request, actor, svc)
            except NotFound:
                return json_error(404, "not_found", "no such quarantine item")
            except Forbidden as exc:
                return json_error(403, "forbidden", str(exc))
            except Conflict as exc:
                return json_error(409, "conflict", str(exc))

        return handler

    return wrap


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": "body must be JSON"}), content_type="application/json"
        ) from None
    return data if isinstance(data, dict) else {}


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value))) if value is not None else default
    except ValueError:
        return default


@authorised("viewer")
async def list_items(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    q = request.query
    status = q.get("status") or None
    if status is not None and status not in {s.value for s in Status}:
        return json_error(400, "bad_request", f"status must be one of {[s.value for s in Status]}")
    limit, offset = _int(q.get("limit"), 50, 1, 500), _int(q.get("offset"), 0, 0, 10**9)
    kwargs = {"status": status, "channel": q.get("channel") or None, "type": q.get("type") or None}
    items = await svc.store.list(**kwargs, limit=limit, offset=offset)
    total = await svc.store.count(**kwargs)
    return web.json_response({"items": [s.as_dict() for s in items], "total": total, "limit": limit,
                              "offset": offset, "counts": await svc.store.counts()})


@authorised("viewer")
async def show_item(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    item = await svc.view(request.match_info["id"], actor)
    return web.json_response(present.item_dict(item, reveal=role_at_least(actor.role, "reviewer")))


@authorised("reviewer")
async def release_item(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    body = await _body(request)
    outcome = await svc.release(request.match_info["id"], actor, str(body.get("reason", ""))[:2000])
    if outcome.delivered:
        return web.json_response({"id": outcome.summary.id, "status": outcome.summary.status.value})
    body = {"error": "release_failed", "message": "the upstream did not take the message; it can be released again",
            "id": outcome.summary.id, "status": outcome.summary.status.value, "detail": outcome.error}
    return web.json_response(body, status=502)


@authorised("reviewer")
async def reject_item(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    body = await _body(request)
    item_id = request.match_info["id"].upper()
    sent = await svc.reject(item_id, actor, str(body.get("reason", ""))[:2000],
                            notify=bool(body.get("notify_sender", False)))
    return web.json_response({"id": item_id, "status": Status.REJECTED.value, "sender_notified": sent})


@authorised("reviewer")
async def approve_item(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    s = await svc.approve(request.match_info["id"], actor)
    return web.json_response({"id": s.id, "status": s.status.value, "approvals": list(s.approvals)})


@authorised("reviewer")
async def add_note(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    body = await _body(request)
    text = str(body.get("note", "")).strip()
    if not text:
        return json_error(400, "bad_request", "note must not be empty")
    await svc.note(request.match_info["id"], actor, text[:4000])
    return web.json_response({"id": request.match_info["id"].upper(), "noted": True}, status=201)


@authorised("admin")
async def audit_verify(request: web.Request, actor: Actor, svc: ReviewService) -> web.StreamResponse:
    report = await svc.verify_audit(actor)
    return web.json_response({"ok": report.ok, "entries": report.entries, "head_seq": report.head_seq,
                              "head_hash": report.head_hash, "problems": report.problems},
                             status=200 if report.ok else 409)


def setup(app: web.Application, services: Services) -> None:
    """Add the quarantine and audit API routes (called by guard.http.app.build_http_app)."""
    app[API_SERVICE_KEY] = service_for(services)
    app.router.add_get(BASE, list_items)
    app.router.add_get(BASE + "/{id}", show_item)
    app.router.add_post(BASE + "/{id}/release", release_item)
    app.router.add_post(BASE + "/{id}/reject", reject_item)
    app.router.add_post(BASE + "/{id}/approve", approve_item)
    app.router.add_post(BASE + "/{id}/notes", add_note)
    app.router.add_get("/api/v1/audit/verify", audit_verify)
