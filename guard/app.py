"""The composition root: starts the parts `guard.services` built, opens the listeners, and
closes everything in reverse order.

One process, one event loop: the SMTP server (aiosmtpd, created inside the running loop)
and the HTTP server (aiohttp: chat routes, /api/v1, /review, /metrics, health) share it.
Adapters import `guard.services`, never this module, so there is no import cycle.

    GuardServer.start:  services.start() -> SMTP listeners -> HTTP app -> metrics listener
    GuardServer.stop:   the same, in reverse (one AsyncExitStack): listeners stop accepting,
                        SMTP deliveries under way drain, then services.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from contextlib import AsyncExitStack
from typing import Any

from guard.config import split_listen
from guard.services import Services, build_services

__all__ = ["GuardServer", "Services", "build_services", "serve_forever"]


def _bound_port(server: asyncio.AbstractServer) -> int | None:
    sockets = getattr(server, "sockets", None)  # asyncio.Server has them; AbstractServer does not say so
    return int(sockets[0].getsockname()[1]) if sockets else None


class GuardServer:
    """Starts and stops both listeners. Tests use it directly on port 0."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.smtp_servers: list[asyncio.AbstractServer] = []
        self.http_runner: Any = None
        self.http_port: int | None = None
        self.metrics_runner: Any = None
        self.metrics_port: int | None = None
        self.smtp_port: int | None = None
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        try:
            await self._start(self._stack)
        except BaseException:
            await self._stack.aclose()
            raise
        self.services.log.info(
            "guard started",
            extra={"event": "start", "smtp_port": self.smtp_port, "http_port": self.http_port},
        )

    async def _start(self, stack: AsyncExitStack) -> None:
        from aiohttp import web

        from guard.http.app import build_http_app
        from guard.smtp.server import start_smtp

        s = self.services.settings
        await self.services.start()
        stack.push_async_callback(self.services.stop)
        if s.smtp.enabled:
            smtp = await start_smtp(self.services)
            stack.push_async_callback(smtp.close)
            self.smtp_servers = smtp.servers
            self.smtp_port = _bound_port(self.smtp_servers[0])
        if s.http.enabled:
            app = build_http_app(self.services)
            self.http_runner = web.AppRunner(app, access_log=None)
            await self.http_runner.setup()
            stack.push_async_callback(self.http_runner.cleanup)
            host, port = split_listen(s.http.listen)
            site = web.TCPSite(self.http_runner, host, port, reuse_port=self.services.reuse_port or None)
            await site.start()
            server = site._server  # aiohttp exposes no public accessor for the bound port
            if server is not None:
                self.http_port = _bound_port(server)
        if s.http.metrics_listen:
            from guard.http.metrics_listener import start_metrics_listener

            self.metrics_runner, self.metrics_port = await start_metrics_listener(self.services)
            stack.push_async_callback(self.metrics_runner.cleanup)

    async def stop(self) -> None:
        stack, self._stack = self._stack, AsyncExitStack()
        await stack.aclose()
        self.services.log.info("guard stopped", extra={"event": "stop"})


async def serve_forever(services: Services) -> None:
    server = GuardServer(services)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
