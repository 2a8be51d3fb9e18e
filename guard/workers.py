"""`guard serve --workers N`: N processes sharing the listening ports via SO_REUSEPORT.

One Python process saturates one core (inspection is CPU-bound) long before the network is
busy, so a box with several cores runs several workers. Each worker is a complete guard
(SMTP + HTTP in one event loop) that binds the same addresses with SO_REUSEPORT; the kernel
spreads new connections across them. They share the store (SQLite WAL or PostgreSQL).

The parent only supervises: it fixes concrete ports first (a configured port 0 is resolved
once, so all workers bind the same one), starts the workers, restarts one that dies, and on
SIGTERM/SIGINT stops them all (each drains its in-flight deliveries). Each worker has its own
metrics registry: scrape each worker, or run one worker per container behind the scraper.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time
from typing import Any

from guard.config import Settings, split_listen
from guard.logs import get_logger

#: A worker that dies sooner than this after starting counts as a crash loop.
QUICK_EXIT_S = 5.0
MAX_QUICK_EXITS = 3
STOP_GRACE_S = 40.0


def _worker_main(settings: Settings, index: int) -> None:
    """Entry point of one worker process (spawned: nothing is inherited but the pickled settings,
    which are not validated against the environment again, so the fixed ports stay)."""
    import asyncio

    from guard.app import build_services, serve_forever

    services = build_services(settings, worker=index)
    asyncio.run(serve_forever(services))


def _reserve(listen: str, held: list[socket.socket]) -> str:
    """Resolve port 0 to a concrete port, holding it (bound, not listening) for the workers."""
    host, port = split_listen(listen)
    if port != 0:
        return listen
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    held.append(sock)
    port = sock.getsockname()[1]
    return f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"


def resolve_ports(settings: Settings, held: list[socket.socket]) -> Settings:
    """A copy of `settings` with every listening port concrete (`model_copy`: the environment
    is not read again, so a `GUARD_SMTP__LISTEN=…:0` cannot undo it)."""
    smtp, http = settings.smtp, settings.http
    if smtp.enabled:
        update = {"listen": _reserve(smtp.listen, held)}
        if smtp.implicit_tls_listen:
            update["implicit_tls_listen"] = _reserve(smtp.implicit_tls_listen, held)
        smtp = smtp.model_copy(update=update)
    if http.enabled:
        http = http.model_copy(update={"listen": _reserve(http.listen, held)})
    return settings.model_copy(update={"smtp": smtp, "http": http})


class _Supervisor:
    def __init__(self, settings: Settings, n: int, log: logging.Logger) -> None:
        self.settings = settings
        self.n = n
        self.log = log
        self.ctx = multiprocessing.get_context("spawn")
        self.procs: dict[int, Any] = {}
        self.started: dict[int, float] = {}
        self.stopping = False
        self.quick_exits = 0

    def spawn(self, index: int) -> None:
        proc = self.ctx.Process(
            target=_worker_main,
            args=(self.settings, index),
            name=f"guard-worker-{index}",
        )
        proc.start()
        self.procs[index] = proc
        self.started[index] = time.monotonic()
        self.log.info("worker started", extra={"event": "worker_start", "worker": index, "pid": proc.pid})

    def run(self) -> int:
        for i in range(self.n):
            self.spawn(i)
        while not self.stopping:
            sentinels = {p.sentinel: i for i, p in self.procs.items()}
            ready = multiprocessing.connection.wait(list(sentinels), timeout=1.0)
            for s in ready:
                if self.stopping:
                    break
                i = sentinels[s]
                proc = self.procs[i]
                proc.join()
                lived = time.monotonic() - self.started[i]
                self.log.error(
                    "worker exited",
                    extra={
                        "event": "worker_exit",
                        "worker": i,
                        "pid": proc.pid,
                        "code": proc.exitcode,
                        "lived_s": round(lived, 1),
                    },
                )
                if lived < QUICK_EXIT_S:
                    self.quick_exits += 1
                    if self.quick_exits >= MAX_QUICK_EXITS:
                        self.log.error(
                            "workers keep failing at start; stopping", extra={"event": "worker_crash_loop"}
                        )
                        self.stop()
                        return 1
                self.spawn(i)
        return self.stop()

    def stop(self) -> int:
        self.stopping = True
        for proc in self.procs.values():
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.procs.values():
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        return 0


def run_workers(settings: Settings, n: int, config_path: str | None = None) -> int:
    """Run `n` guard workers sharing the listening sockets until SIGTERM/SIGINT; return the exit code.

    `config_path` is only logged: workers get the already-validated settings, so a file
    changed after start-up cannot make them disagree.
    """
    log = get_logger("guard", settings.log)
    held: list[socket.socket] = []
    try:
        fixed = resolve_ports(settings, held)
        supervisor = _Supervisor(fixed, n, log)

        def on_signal(signum: int, frame: Any) -> None:
            supervisor.stopping = True

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info(
            "workers starting",
            extra={
                "event": "workers_start",
                "workers": n,
                "config": config_path or "(defaults)",
                "smtp_listen": fixed.smtp.listen if fixed.smtp.enabled else None,
                "http_listen": fixed.http.listen if fixed.http.enabled else None,
            },
        )
        try:
            return supervisor.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        for sock in held:
            sock.close()
