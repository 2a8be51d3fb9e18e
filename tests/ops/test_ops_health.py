"""/healthz, /readyz (store, rules, SMTP upstream) and the separate metrics listener, on a
real guard with a real SMTP sink as its upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from ops_helpers import DEPLOY

import guard.health as health
from guard.app import GuardServer, build_services
from guard.config import Settings
from guard.testing import SmtpSink

Start = Callable[..., Awaitable[GuardServer]]


@pytest.fixture
async def start_guard(make_settings: Callable[..., Settings]) -> AsyncIterator[Start]:
    running: list[GuardServer] = []

    async def start(**sections: Any) -> GuardServer:
        server = GuardServer(build_services(make_settings(**sections)))
        await server.start()
        running.append(server)
        return server

    yield start
    for server in running:
        with contextlib.suppress(Exception):
            await server.stop()


async def get(port: int | None, path: str) -> tuple[int, Any]:
    assert port is not None
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


@pytest.fixture
def no_probe_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "PROBE_CACHE_S", 0.0)


async def test_ready_with_store_rules_and_upstream(start_guard: Start) -> None:
    async with SmtpSink() as sink:
        guard = await start_guard(smtp={"upstream": sink.url})
        assert await get(guard.http_port, "/healthz") == (200, {"status": "ok"})
        status, body = await get(guard.http_port, "/readyz")
        assert status == 200
        assert body == {"status": "ok", "checks": {"store": True, "rules": True, "smtp_upstream": True}}
        # The probe is a clean SMTP session (greeting, QUIT), cached across probes.
        connections = sink.connections
        await get(guard.http_port, "/readyz")
        assert sink.connections == connections == 1


async def test_upstream_down_makes_the_guard_unready_but_alive(
    start_guard: Start, no_probe_cache: None
) -> None:
    sink = await SmtpSink().start()
    guard = await start_guard(smtp={"upstream": sink.url})
    assert (await get(guard.http_port, "/readyz"))[0] == 200
    await sink.stop()
    status, body = await get(guard.http_port, "/readyz")
    assert status == 503
    assert body == {"status": "unavailable", "checks": {"store": True, "rules": True, "smtp_upstream": False}}
    assert (await get(guard.http_port, "/healthz"))[0] == 200


async def test_a_silent_upstream_fails_the_probe_within_its_timeout(
    start_guard: Start, no_probe_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upstream that accepts the connection but never greets (hung MTA, black hole)."""
    monkeypatch.setattr(health, "PROBE_TIMEOUT_S", 0.5)
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        guard = await start_guard(smtp={"upstream": f"smtp://127.0.0.1:{port}"})
        started = time.monotonic()
        status, body = await get(guard.http_port, "/readyz")
        elapsed = time.monotonic() - started
        assert status == 503 and body["checks"]["smtp_upstream"] is False
        assert 0.4 < elapsed < 2.0
        assert held, "the probe did connect"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_store_down_makes_the_guard_unready(start_guard: Start) -> None:
    guard = await start_guard()  # no upstream: local Maildir, so no upstream check
    status, body = await get(guard.http_port, "/readyz")
    assert (status, body["checks"]) == (200, {"store": True, "rules": True})
    await guard.services.store.close()
    status, body = await get(guard.http_port, "/readyz")
    assert status == 503 and body["checks"]["store"] is False
    assert (await get(guard.http_port, "/healthz"))[0] == 200


async def test_metrics_on_their_own_listener(start_guard: Start) -> None:
    guard = await start_guard(http={"metrics_listen": "127.0.0.1:0"})
    assert guard.metrics_port is not None and guard.metrics_port != guard.http_port
    status, text = await get(guard.metrics_port, "/metrics")
    assert status == 200 and "guard_messages_total" in text and "guard_store_up 1.0" in text
    assert (await get(guard.metrics_port, "/healthz"))[0] == 200
    # ... and no longer on the main (public) listener.
    assert (await get(guard.http_port, "/metrics"))[0] == 404


async def test_metrics_listener_without_the_main_http_listener(start_guard: Start) -> None:
    guard = await start_guard(http={"enabled": False, "metrics_listen": "127.0.0.1:0"})
    assert guard.http_port is None
    status, text = await get(guard.metrics_port, "/metrics")
    assert status == 200 and "guard_build_info" in text
    await guard.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(guard.metrics_port, "/metrics")


async def test_image_healthcheck_against_a_real_guard(start_guard: Start) -> None:
    guard = await start_guard()
    env = {**os.environ, "GUARD_HTTP__LISTEN": f"0.0.0.0:{guard.http_port}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(DEPLOY / "healthcheck.py"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


def adjacent_free_ports() -> int:
    """A port p with p and p+1 both free (bounded tries)."""
    import socket

    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            base = a.getsockname()[1]
            if base >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", base + 1))
                except OSError:
                    continue
                return int(base)
    raise RuntimeError("no two adjacent free ports")


@pytest.mark.slow
async def test_each_worker_serves_its_own_metrics(tmp_path: Any) -> None:
    """`guard serve --workers 2` with http.metrics_listen: worker i scrapes on port + i, so
    every worker's registry is reachable and no worker crash-loops on an occupied port."""
    base = adjacent_free_ports()
    config = tmp_path / "guard.toml"
    config.write_text(f"""
data_dir = "{tmp_path / "var"}"
[smtp]
listen = "127.0.0.1:0"
[http]
listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:{base}"
[store]
url = "sqlite:///{tmp_path / "var" / "guard.db"}"
[rules]
hash_key = "workers-test"
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARD_")}
    log = tmp_path / "guard.log"
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "guard",
            "serve",
            "--workers",
            "2",
            "--config",
            str(config),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 60
        bodies: dict[int, str] = {}
        while len(bodies) < 2 and time.monotonic() < deadline and proc.returncode is None:
            for port in (base, base + 1):
                with contextlib.suppress(aiohttp.ClientError):
                    status, text = await get(port, "/metrics")
                    if status == 200:
                        bodies[port] = text
            await asyncio.sleep(0.2)
        assert sorted(bodies) == [base, base + 1], log.read_text()[-3000:]
        assert all("guard_build_info" in text for text in bodies.values())
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 90)
    text = log.read_text()
    assert '"worker_exit"' not in text and "Address already in use" not in text, text[-3000:]
