"""`/metrics` on its own address (`http.metrics_listen`), away from the public HTTP listener.

Operators often publish the main listener (chat hooks, review UI) through an Ingress but want
metrics reachable only by Prometheus. When `http.metrics_listen` is set, the main app drops
`/metrics` and this small app serves it (plus `/healthz`, handy for a sidecar check), even
when the main HTTP listener is disabled.

Under `guard serve --workers N` every worker has its own registry, and the shared (reuse_port)
main listener would hand a scrape to any one of them. So worker i binds the metrics port
plus i (9125, 9126, …): each worker is a scrape target of its own and no worker fails to bind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from guard.config import split_listen
from guard.http.app import SERVICES_KEY, healthz, metrics_view

if TYPE_CHECKING:
    from guard.services import Services


async def start_metrics_listener(services: Services) -> tuple[web.AppRunner, int]:
    """Start the metrics app; returns its runner (for cleanup) and the bound port."""
    app = web.Application()
    app[SERVICES_KEY] = services
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = split_listen(services.settings.http.metrics_listen)
    worker = services.worker
    if worker is not None and port:
        port += int(worker)
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1] if runner.addresses else port)
    services.log.info("metrics listening", extra={"event": "metrics_listen", "port": bound, "worker": worker})
    return runner, bound
