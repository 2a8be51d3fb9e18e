"""The HTTP side composed in one visible place: chat routes, /api/v1, /review, /metrics, health."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from guard.http.replies import json_error

if TYPE_CHECKING:
    from guard.services import Services

SERVICES_KEY: web.AppKey[Services] = web.AppKey("services")
STARTED_KEY: web.AppKey[float] = web.AppKey("started", float)  # a str key warns (NotAppKeyWarning)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown routes and wrong methods get JSON; an unexpected error is a 500 with no detail."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        messages = {404: "no such route", 405: "method not allowed", 413: "request body too large"}
        resp = json_error(
            exc.status, exc.reason.lower().replace(" ", "_"), messages.get(exc.status, exc.reason)
        )
        for k, v in exc.headers.items():
            if k.lower() not in ("content-type", "content-length"):
                resp.headers[k] = v
        return resp
    except Exception:
        services = request.app[SERVICES_KEY]
        services.log.exception("http handler failed", extra={"event": "http_error", "path": request.path})
        return json_error(500, "internal_error", "internal error; nothing was delivered")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    resp = await handler(request)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    return resp


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    checks: dict[str, bool] = {}
    try:
        checks["store"] = await services.store.ping()
    except Exception:
        checks["store"] = False
    checks["rules"] = services.inspector.rule_count > 0
    for name, probe in services.ready_probes.items():
        try:
            checks[name] = bool(await probe())
        except Exception:
            checks[name] = False
    ok = all(checks.values())
    return web.json_response(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


async def metrics_view(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    if services.metrics_refresh is not None:
        try:
            await services.metrics_refresh()
        except Exception:
            services.log.warning("metrics refresh failed", extra={"event": "metrics_refresh_failed"})
    body = generate_latest(services.metrics.registry)
    resp = web.Response(body=body)
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


def build_http_app(services: Services) -> web.Application:
    from guard.api import check
    from guard.chat import routes as chat_routes
    from guard.review import api as review_api
    from guard.review import web as review_web

    app = web.Application(
        middlewares=[security_headers, error_middleware],
        client_max_size=services.settings.http.max_body_bytes,
    )
    app[SERVICES_KEY] = services
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if not services.settings.http.metrics_listen:
        app.router.add_get("/metrics", metrics_view)
    chat_routes.setup(app, services)
    check.setup(app, services)
    review_api.setup(app, services)
    review_web.setup(app, services)
    app[STARTED_KEY] = time.time()
    return app
