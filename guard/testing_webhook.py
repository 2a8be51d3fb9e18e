"""Fake chat-webhook upstreams that answer like the real services (PROTOCOLS.md §3) and log everything.

For the guard's tests and for rule authors who want to see what a route would deliver:

    async with FakeWebhook("slack") as hook:          # listens on 127.0.0.1, a free port
        route_upstream = hook.url("/services/T0/B0/X")  # put this in [[chat.routes]].upstream
        ...                                            # drive the guard
        assert hook.requests[0].json()["text"] == "hello"

Or from a shell: `python -m guard.testing_webhook slack --port 9000 --log hooks.jsonl`.

Each request is kept as a `Received` (method, path, raw query, headers, body bytes) and,
with `log=`, appended to a JSONL file. `reply_with(...)` scripts the next replies (errors,
rate limits); `delay_s` makes every reply slow (for timeout tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

if TYPE_CHECKING:
    from guard.services import Services

SERVICES = ("slack", "mattermost", "discord", "teams", "teams_workflows", "googlechat", "generic")


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    query: str  # raw query string, as sent
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        """The JSON payload, also when sent as a form `payload=` field."""
        if self.content_type.startswith("application/x-www-form-urlencoded"):
            return json.loads(dict(parse_qsl(self.body.decode("ascii")))["payload"])
        return json.loads(self.body)

    def as_log(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", errors="replace"),
        }


@dataclass(frozen=True, slots=True)
class Canned:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def _json(status: int, body: Any, headers: tuple[tuple[str, str], ...] = ()) -> Canned:
    return Canned(status, json.dumps(body).encode(), "application/json", headers)


def success(service: str, received: Received) -> Canned:
    """The service's own success reply for one request."""
    query = {k.lower(): v for k, v in parse_qsl(received.query, keep_blank_values=True)}
    if service in ("slack", "mattermost"):
        return Canned(200, b"ok", "text/plain; charset=utf-8")
    if service == "discord":
        if query.get("wait", "").lower() not in ("true", "1"):
            return Canned(204)
        payload = received.json()
        return _json(
            200,
            {
                "id": str(int(received.at * 1000) << 22),
                "type": 0,
                "channel_id": "1",
                "content": payload.get("content", ""),
                "embeds": payload.get("embeds", []),
                "author": {"id": "2", "username": "hook", "bot": True},
                "webhook_id": "2",
                "attachments": [],
                "timestamp": "2024-01-01T00:00:00+00:00",
                "flags": 0,
            },
        )
    if service == "teams":
        return Canned(200, b"1", "text/plain; charset=utf-8")
    if service == "teams_workflows":
        return Canned(202)
    if service == "googlechat":
        payload = received.json()
        return _json(
            200,
            {
                "name": "spaces/AAA/messages/BBB.BBB",
                "sender": {"name": "users/1", "type": "BOT"},
                "text": payload.get("text", ""),
                "thread": {"name": "spaces/AAA/threads/BBB"},
                "space": {"name": "spaces/AAA", "type": "ROOM"},
                "createTime": "2024-01-01T00:00:00Z",
            },
        )
    return _json(200, {"ok": True})


_SLACK_ERRORS = {
    400: "invalid_payload",
    403: "action_prohibited",
    404: "no_service",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "rollup_error",
}


def error(service: str, status: int) -> Canned:
    """A realistic error reply (Slack text codes, Discord/Google JSON, Teams text)."""
    if service in ("slack", "mattermost"):
        word = _SLACK_ERRORS.get(status, "error")
        retry = (("Retry-After", "1"),) if status == 429 else ()
        return Canned(status, word.encode(), "text/plain; charset=utf-8", retry)
    if service == "discord":
        if status == 429:
            return _json(
                429,
                {"message": "You are being rate limited.", "retry_after": 0.1, "global": False},
                (("X-RateLimit-Limit", "5"), ("X-RateLimit-Remaining", "0")),
            )
        return _json(status, {"message": "Unknown Webhook" if status == 404 else "error", "code": 10015})
    if service == "googlechat":
        return _json(status, {"error": {"code": status, "message": "error", "status": "INVALID_ARGUMENT"}})
    if service in ("teams", "teams_workflows"):
        return Canned(status, b"Summary or Text is required.", "text/plain; charset=utf-8")
    return _json(status, {"error": status})


def bound_port(site: web.TCPSite) -> int | None:
    """The port a site listens on (aiohttp has no public accessor; port 0 picks a free one)."""
    sockets = getattr(site._server, "sockets", None)
    return int(sockets[0].getsockname()[1]) if sockets else None


class FakeWebhook:
    """One fake upstream service on loopback. Every POST path is accepted."""

    def __init__(
        self,
        service: str = "generic",
        *,
        log: str | Path | None = None,
        delay_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
        self.service = service
        self.log = Path(log) if log else None
        self.delay_s = delay_s
        self.host, self.port = host, port
        self.requests: list[Received] = []
        self._script: deque[Canned] = deque()
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    def reply_with(self, *replies: Canned | int) -> None:
        """Queue the next replies; an int is a realistic error of that status for this service."""
        for r in replies:
            self._script.append(error(self.service, r) if isinstance(r, int) else r)

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        query = request.rel_url.raw_query_string
        got = Received(request.method, request.path, query, dict(request.headers), body)
        self.requests.append(got)
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(got.as_log()) + "\n")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        canned = self._script.popleft() if self._script else success(self.service, got)
        resp = web.Response(status=canned.status, body=canned.body or None)
        if canned.content_type:
            resp.headers["Content-Type"] = canned.content_type
        for k, v in canned.headers:
            resp.headers[k] = v
        return resp

    async def start(self) -> FakeWebhook:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = bound_port(site) or self.port
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeWebhook:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class GuardHttp:
    """The guard's chat routes and /api/v1/check on loopback, with the real middlewares.

    A lighter stand-in for `GuardServer` when a test needs only these adapters:
        async with GuardHttp(services) as guard:
            url = guard.url("/hooks/support")
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.port = 0
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        from guard.api import check
        from guard.chat import routes
        from guard.http.app import SERVICES_KEY, error_middleware, security_headers

        app = web.Application(
            middlewares=[security_headers, error_middleware],
            client_max_size=self.services.settings.http.max_body_bytes,
        )
        app[SERVICES_KEY] = self.services
        routes.setup(app, self.services)
        check.setup(app, self.services)
        return app

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> GuardHttp:
        """Serve on a free loopback port; starts the verdict audit writer like `GuardServer` does."""
        if self.services.audit is not None:
            self.services.audit.start()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = bound_port(site) or self.port
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.services.close_forwarders()
        if self.services.audit is not None:
            await self.services.audit.stop()  # queued verdicts are written before the store closes

    async def __aenter__(self) -> GuardHttp:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake chat-webhook upstream that logs every request.")
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--log", help="append each request as a JSON line to this file")
    args = parser.parse_args(argv)
    hook = FakeWebhook(args.service, log=args.log, host=args.host, port=args.port)
    web.run_app(hook.app(), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()
