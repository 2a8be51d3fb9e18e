"""The review web UI under /review: server-rendered pages (aiohttp-jinja2), forms, no JavaScript.

    GET  /review/login, POST /review/login, POST /review/logout
    GET  /review/queue                    filters, counts by status and type, age
    GET  /review/items/{id}               headers, highlighted text, attachments, verdict, history
    POST /review/items/{id}/release|reject|approve|note
    GET  /review/audit                    (admin) chain verification and recent entries

Mounted as a sub-application so its middleware (session, CSRF, headers) covers only /review.
Pages answer errors themselves (the parent app turns raised HTTP errors into JSON).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from guard.errors import Conflict, Forbidden, NotFound, Reason, StoreError
from guard.review import present
from guard.review.auth import LOGIN_COOKIE, SESSION_COOKIE, Authenticator, Session
from guard.review.service import Actor, ReviewService, role_at_least
from guard.store.base import Status
from guard.store.crypto import Keyring

if TYPE_CHECKING:
    from guard.services import Services

PREFIX = "/review"
PAGE_SIZE = 50
PACKAGE = Path(__file__).resolve().parent.parent
JINJA_KEY: web.AppKey[jinja2.Environment] = web.AppKey("review_jinja", jinja2.Environment)
AUTH_KEY: web.AppKey[Authenticator] = web.AppKey("review_auth", Authenticator)
SERVICE_KEY: web.AppKey[ReviewService] = web.AppKey("review_service", ReviewService)
LOG_KEY: web.AppKey[logging.Logger] = web.AppKey("review_log", logging.Logger)
SESSION_KEY: web.RequestKey[Session] = web.RequestKey("review_session", Session)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

MESSAGES = {
    "released": ("ok", "Released: the message was delivered."),
    "release_failed": (
        "error",
        "Delivery failed. The item is marked release failed and can be released again.",
    ),
    "rejected": ("ok", "Rejected."),
    "rejected_notified": ("ok", "Rejected; the sender was told why."),
    "approved": ("ok", "Approved. Another reviewer can now release it."),
    "noted": ("ok", "Note added."),
    "conflict": (
        "error",
        "Nothing done: the item is no longer waiting for this decision (someone else acted).",
    ),
    "four_eyes": (
        "error",
        "High-severity item: a second reviewer has to approve it before it can be released.",
    ),
    "own": ("error", "Nobody may approve or release their own message."),
    "already_approved": ("error", "You have already approved this item."),
    "logged_out": ("ok", "You are logged out."),
    "expired": ("error", "Your session has ended. Please log in again."),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _auth(request: web.Request) -> Authenticator:
    return request.app[AUTH_KEY]


def _service(request: web.Request) -> ReviewService:
    return request.app[SERVICE_KEY]


def _session(request: web.Request) -> Session:
    return request[SESSION_KEY]


def _actor(request: web.Request) -> Actor:
    s = _session(request)
    return Actor(name=s.user, role=_auth(request).role(s.user) or "viewer")


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _settings_secure(request: web.Request) -> bool:
    """Secure cookies, except on plain HTTP addressed to a loopback host (a first try on a laptop:
    browsers refuse Secure cookies from http://127.0.0.1). Behind a TLS proxy the Host header
    names the public host, so the flag stays on."""
    if not _service(request).settings.review.secure_cookies:
        return False
    host = (
        request.host.rsplit(":", 1)[0]
        if not request.host.startswith("[")
        else request.host.split("]")[0] + "]"
    )
    return request.secure or host not in _LOOPBACK_HOSTS


def _set_cookie(
    request: web.Request, resp: web.StreamResponse, name: str, value: str, max_age: int | None
) -> None:
    resp.set_cookie(
        name,
        value,
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=_settings_secure(request),
        max_age=max_age,
    )


def _age(created: datetime) -> str:
    seconds = int((datetime.now(UTC) - created).total_seconds())
    if seconds < 90:
        return f"{max(seconds, 0)} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    base: dict[str, Any] = {"prefix": PREFIX, "user": None, "role": None, "csrf": ""}
    session = request.get(SESSION_KEY)
    if session is not None:
        actor = _actor(request)
        base.update(
            user=actor.name,
            role=actor.role,
            csrf=_auth(request).csrf_token(session.sid),
            is_reviewer=role_at_least(actor.role, "reviewer"),
            is_admin=role_at_least(actor.role, "admin"),
        )
    msg = request.query.get("msg", "")
    if msg in MESSAGES:
        base["flash"] = MESSAGES[msg]
    return aiohttp_jinja2.render_template(
        template, request, {**base, **context}, status=status, app_key=JINJA_KEY
    )


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "review_error.html", {"status": status, "message": message}, status=status)


# -- middleware ---------------------------------------------------------------------------------
_PUBLIC = (f"{PREFIX}/login", f"{PREFIX}/static/")


@web.middleware
async def review_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers on every page; a valid session on every non-public page; CSRF on every POST."""
    resp = await _guarded(request, handler)
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Frame-Options"] = "DENY"
    # With "no-referrer" (the app-wide default) browsers send `Origin: null` on our own form
    # posts, which the same-origin check must refuse; "same-origin" still leaks nothing outside.
    resp.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith(f"{PREFIX}/static/"):
        resp.headers["Cache-Control"] = "no-store"
    return resp


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and not _same_origin(request):
        return error_page(request, 403, "Cross-site request refused.")
    if request.path.startswith(_PUBLIC) or request.path == PREFIX + "/login":
        return await handler(request)
    auth = _auth(request)
    session = auth.session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        if request.method == "GET":
            target = request.path_qs if request.path != PREFIX else f"{PREFIX}/queue"
            suffix = "&msg=expired" if SESSION_COOKIE in request.cookies else ""
            raise web.HTTPSeeOther(f"{PREFIX}/login?next={quote(target)}{suffix}")
        return error_page(request, 403, "Not logged in, or the session has ended.")
    request[SESSION_KEY] = session
    if request.method == "POST":
        form = await request.post()
        if not auth.check_csrf(session.sid, str(form.get("csrf", "")) or None):
            return error_page(
                request, 403, "The form was refused (missing or wrong CSRF token). Reload the page."
            )
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400:
            raise
        resp = exc
    if SESSION_COOKIE not in resp.cookies:  # sliding expiry; logout sets its own (deleting) cookie
        _set_cookie(
            request,
            resp,
            SESSION_COOKIE,
            auth.issue(session.user, sid=session.sid, issued=session.issued),
            None,
        )
    if isinstance(resp, web.HTTPException):
        raise resp
    return resp


def _same_origin(request: web.Request) -> bool:
    """A browser's Origin (else Referer) must name this host; with neither, the CSRF token decides."""
    origin = request.headers.get("Origin")
    if origin == "null":
        return False
    source = origin or request.headers.get("Referer", "")
    if not source:
        return True
    return source.split("://", 1)[-1].split("/", 1)[0] == request.host


# -- login / logout -------------------------------------------------------------------------------
def _safe_next(value: str) -> str:
    if value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{PREFIX}/queue"


async def login_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    auth = _auth(request)
    pre = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    ctx = {
        "next": _safe_next(request.query.get("next", "")),
        "error": error,
        "login_csrf": auth.csrf_token("login/" + pre),
        "totp_required": auth.settings.require_totp,
        "no_users": not auth.settings.users,
    }
    resp = render(request, "review_login.html", ctx, status=status)
    _set_cookie(request, resp, LOGIN_COOKIE, pre, 600)
    return resp


async def login_get(request: web.Request) -> web.Response:
    return await login_page(request)


async def login_post(request: web.Request) -> web.StreamResponse:
    auth = _auth(request)
    form = await request.post()
    pre = request.cookies.get(LOGIN_COOKIE, "")
    if not pre or not pre.isascii() or not auth.check_csrf("login/" + pre, str(form.get("csrf", ""))):
        return await login_page(request, error="The login form expired. Please try again.", status=403)
    name = str(form.get("username", "")).strip()[:200]
    password = str(form.get("password", ""))[:1000]
    code = str(form.get("code", "")).strip()[:12]
    user, why = await asyncio.to_thread(auth.check_login, name, password, code)
    log = request.app[LOG_KEY]
    if user is None:
        log.warning("review login failed", extra={"event": "review_login_failed", "reason": why})
        messages = {
            "locked": ("Too many failed attempts. This account is locked for 15 minutes.", 429),
            "totp": ("Enter the 6-digit code from your authenticator app.", 401),
            "totp_not_set_up": (
                "A second factor is required but none is set up for this user; ask an admin.",
                403,
            ),
        }
        text, status = messages.get(why, ("Wrong user name, password or code.", 401))
        return await login_page(request, error=text, status=status)
    log.info("review login", extra={"event": "review_login", "user": user.name, "role": user.role})
    target = _safe_next(str(form.get("next", "")))
    resp = web.HTTPSeeOther(target)
    _set_cookie(request, resp, SESSION_COOKIE, auth.issue(user.name), None)
    resp.del_cookie(LOGIN_COOKIE, path=PREFIX)
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    _auth(request).revoke(_session(request))
    resp = web.HTTPSeeOther(f"{PREFIX}/login?msg=logged_out")
    resp.del_cookie(SESSION_COOKIE, path=PREFIX)
    return resp


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(f"{PREFIX}/queue")


# -- queue ---------------------------------------------------------------------------------------
async def queue(request: web.Request) -> web.Response:
    store = _service(request).store
    q = request.query
    status = q.get("status", "held")
    status = status if status in {s.value for s in Status} | {"all"} else "held"
    channel = q.get("channel") if q.get("channel") in {"smtp", "chat", "api"} else None
    etype = (q.get("type") or "").upper()[:40] or None
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    st = None if status == "all" else status
    items = await store.list(
        status=st, channel=channel, type=etype, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    total = await store.count(status=st, channel=channel, type=etype)
    counts = await store.counts()
    type_counts = await store.type_counts(status=st)

    def link(**changes: Any) -> str:
        params = {"status": status, "channel": channel or "", "type": etype or "", "page": str(page)}
        params.update({k: str(v) for k, v in changes.items()})
        return f"{PREFIX}/queue?" + urlencode({k: v for k, v in params.items() if v})

    rows = [{"s": s, "age": _age(s.created)} for s in items]
    return render(
        request,
        "review_queue.html",
        {
            "rows": rows,
            "total": total,
            "counts": counts,
            "type_counts": type_counts,
            "status": status,
            "channel": channel or "",
            "etype": etype or "",
            "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            "link": link,
            "statuses": ["held", "release_failed", "releasing", "released", "rejected", "expired", "all"],
            "oldest": _age(oldest) if (oldest := await store.oldest("held")) else None,
        },
    )


# -- detail --------------------------------------------------------------------------------------
async def detail(request: web.Request) -> web.Response:
    svc = _service(request)
    actor = _actor(request)
    try:
        item = await svc.view(request.match_info["id"], actor)
    except NotFound:
        return error_page(request, 404, "No such quarantine item.")
    except StoreError:
        return error_page(request, 500, "The item could not be read (see the server log).")
    reveal = role_at_least(actor.role, "reviewer")
    history = await svc.store.audit_entries(item_id=item.summary.id)
    s = item.summary
    return render(
        request,
        "review_detail.html",
        {
            "s": s,
            "item": item,
            "reveal": reveal,
            "age": _age(s.created),
            "subject": item.subject if reveal else s.subject,
            "headers": present.mail_headers(item, reveal=reveal),
            "segments": present.segment_views(item, reveal=reveal),
            "findings": present.finding_rows(item),
            "attachments": present.attachments(item),
            "history": history,
            "four_eyes_pending": svc.needs_second_reviewer(s, actor),
            "four_eyes": svc.settings.review.four_eyes and s.severity == "high",
            "releasable": s.status.releasable and not s.purged,
            "own": bool(s.sender) and s.sender.lower() == actor.name.lower(),
        },
    )


def _back(item_id: str, msg: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{PREFIX}/items/{quote(item_id)}?msg={msg}")


#: The flash message for each refusal reason (chosen by `exc.reason`, never by its text).
_REFUSALS = {
    Reason.OWN_MESSAGE: "own",
    Reason.FOUR_EYES: "four_eyes",
    Reason.ALREADY_APPROVED: "already_approved",
}


def _conflict_key(exc: Conflict) -> str:
    return _REFUSALS.get(exc.reason, "conflict")


async def _act(
    request: web.Request, action: Callable[[ReviewService, str, Actor, Any], Awaitable[str]]
) -> web.StreamResponse:
    svc, actor = _service(request), _actor(request)
    item_id = request.match_info["id"].upper()
    form = await request.post()
    try:
        msg = await action(svc, item_id, actor, form)
    except NotFound:
        return error_page(request, 404, "No such quarantine item.")
    except Forbidden as exc:
        if exc.reason is Reason.ROLE:
            return error_page(request, 403, "Your role does not allow this action.")
        raise _back(item_id, _conflict_key(exc)) from None
    except Conflict as exc:
        raise _back(item_id, _conflict_key(exc)) from None
    raise _back(item_id, msg)


def _reason(form: Any, field: str = "reason") -> str:
    return str(form.get(field, "")).strip()[:2000]


async def release(request: web.Request) -> web.StreamResponse:
    async def act(svc: ReviewService, item_id: str, actor: Actor, form: Any) -> str:
        outcome = await svc.release(item_id, actor, _reason(form))
        return "released" if outcome.delivered else "release_failed"

    return await _act(request, act)


async def reject(request: web.Request) -> web.StreamResponse:
    async def act(svc: ReviewService, item_id: str, actor: Actor, form: Any) -> str:
        sent = await svc.reject(item_id, actor, _reason(form), notify=form.get("notify") == "on")
        return "rejected_notified" if sent else "rejected"

    return await _act(request, act)


async def approve(request: web.Request) -> web.StreamResponse:
    async def act(svc: ReviewService, item_id: str, actor: Actor, form: Any) -> str:
        await svc.approve(item_id, actor)
        return "approved"

    return await _act(request, act)


async def note(request: web.Request) -> web.StreamResponse:
    async def act(svc: ReviewService, item_id: str, actor: Actor, form: Any) -> str:
        text = _reason(form, "note")
        if text:
            await svc.note(item_id, actor, text)
        return "noted"

    return await _act(request, act)


# -- audit ---------------------------------------------------------------------------------------
async def audit_page(request: web.Request) -> web.Response:
    svc, actor = _service(request), _actor(request)
    try:
        report = await svc.verify_audit(actor)
    except Forbidden:
        return error_page(request, 403, "The audit log is for admins.")
    entries = list(reversed(await svc.store.audit_entries(limit=200)))
    return render(request, "review_audit.html", {"report": report, "entries": entries})


# -- wiring ----------------------------------------------------------------------------------------
def build_review_app(services: Services) -> web.Application:
    app = web.Application(middlewares=[review_middleware])
    keyring = Keyring.from_settings(services.settings)
    app[AUTH_KEY] = Authenticator(services.settings.review, keyring.derive("review-session"))
    app[SERVICE_KEY] = services.review
    app[LOG_KEY] = services.log
    aiohttp_jinja2.setup(
        app,
        app_key=JINJA_KEY,
        loader=jinja2.FileSystemLoader(str(PACKAGE / "templates")),
        autoescape=True,
        filters={"dt": lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC") if d else ""},
    )
    app.router.add_get("", index)
    app.router.add_get("/", index)
    app.router.add_get("/login", login_get)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout)
    app.router.add_get("/queue", queue)
    app.router.add_get("/items/{id}", detail)
    app.router.add_post("/items/{id}/release", release)
    app.router.add_post("/items/{id}/reject", reject)
    app.router.add_post("/items/{id}/approve", approve)
    app.router.add_post("/items/{id}/note", note)
    app.router.add_get("/audit", audit_page)
    app.router.add_static("/static/", str(PACKAGE / "static"), append_version=True)
    return app


def setup(app: web.Application, services: Services) -> None:
    """Mount the review UI under /review (called by guard.http.app.build_http_app)."""
    app.add_subapp(PREFIX, build_review_app(services))
