"""The composition root: builds every part once and owns start-up and shutdown.

One process, one event loop: the SMTP server (aiosmtpd, created inside the running loop)
and the HTTP server (aiohttp: chat routes, /api/v1, /review, /metrics, health) share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from typing import Any

from guard.audit_trail import VerdictAudit
from guard.config import Settings, split_listen
from guard.health import ready_probes
from guard.inspection import Inspector
from guard.logs import get_logger
from guard.metrics import Metrics, make_metrics_refresher
from guard.model import Verdict
from guard.store.base import QuarantineStore


@dataclass
class Services:
    """Everything an adapter may use. Built once in `build_services`, passed down."""

    settings: Settings
    inspector: Inspector
    store: QuarantineStore
    metrics: Metrics
    log: logging.Logger
    extras: dict[str, Any] = field(default_factory=dict)  # per-adapter shared objects (client sessions…)
    audit: VerdictAudit | None = None  # every verdict into the audit chain, batched

    def record_verdict(self, channel: str, verdict: Verdict, *, message_id: str = "", size: int = 0) -> None:
        """The one place adapters report a decision for the audit log (metrics stay in adapters)."""
        if self.audit is not None:
            self.audit.record(channel, verdict, message_id=message_id, size=size)


def build_services(settings: Settings, *, metrics: Metrics | None = None) -> Services:
    from guard.store import open_store

    settings.data_path.mkdir(parents=True, exist_ok=True)
    services = Services(
        settings=settings,
        inspector=Inspector.from_settings(settings),
        store=open_store(settings),
        metrics=metrics or Metrics(),
        log=get_logger("guard", settings.log),
    )
    services.audit = VerdictAudit(services.store, services.log)
    services.extras["metrics_refresh"] = make_metrics_refresher(services)  # backlog gauges on scrape
    services.extras.setdefault("ready_probes", {}).update(ready_probes(settings))  # /readyz: upstream
    return services


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

    async def start(self) -> None:
        from aiohttp import web

        from guard.http.app import build_http_app
        from guard.smtp.server import start_smtp

        s = self.services.settings
        await self.services.store.open()
        if self.services.audit is not None:
            self.services.audit.start()
        if s.smtp.enabled:
            self.smtp_servers = await start_smtp(self.services)
            self.smtp_port = _bound_port(self.smtp_servers[0])
        if s.http.enabled:
            app = build_http_app(self.services)
            self.http_runner = web.AppRunner(app, access_log=None)
            await self.http_runner.setup()
            host, port = split_listen(s.http.listen)
            site = web.TCPSite(
                self.http_runner, host, port, reuse_port=self.services.extras.get("reuse_port")
            )
            await site.start()
            server = site._server  # aiohttp exposes no public accessor for the bound port
            if server is not None:
                self.http_port = _bound_port(server)
        if s.http.metrics_listen:
            from guard.http.metrics_listener import start_metrics_listener

            self.metrics_runner, self.metrics_port = await start_metrics_listener(self.services)
        self.services.log.info(
            "guard started",
            extra={"event": "start", "smtp_port": self.smtp_port, "http_port": self.http_port},
        )

    async def stop(self) -> None:
        for server in self.smtp_servers:
            server.close()
        for server in self.smtp_servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 10)
        if self.http_runner is not None:
            await self.http_runner.cleanup()
        if self.metrics_runner is not None:
            await self.metrics_runner.cleanup()
        for closer in self.services.extras.get("on_close", []):
            with contextlib.suppress(Exception):
                await closer()
        if self.services.audit is not None:
            await self.services.audit.stop()  # write what is queued before the store closes
        await self.services.store.close()
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
