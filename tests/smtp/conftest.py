"""Fixtures for the SMTP relay: a real sink upstream, certificates, a running guard."""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from guard.app import GuardServer, Services, build_services
from guard.config import Settings
from guard.testing import SmtpSink
from tests.smtp.helpers import LogCapture


@dataclass
class Certs:
    ca: trustme.CA
    cert_file: Path
    key_file: Path
    ca_file: Path

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    d = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = d / "cert.pem", d / "key.pem", d / "ca.pem"
    for blob in cert.cert_chain_pems:
        with cert_file.open("ab") as fh:
            fh.write(blob.bytes())
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    return Certs(ca, cert_file, key_file, ca_file)


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """The guard's log lines during the test, as JSON."""
    capture = LogCapture()
    logger = logging.getLogger("guard")
    logger.addHandler(capture)
    yield capture
    logger.removeHandler(capture)


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    async with SmtpSink() as s:
        yield s


@dataclass
class RunningGuard:
    server: GuardServer
    services: Services

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def port(self) -> int:
        assert self.server.smtp_port is not None
        return self.server.smtp_port

    def tls_port(self) -> int:
        return int(self.server.smtp_servers[1].sockets[0].getsockname()[1])

    def counter(self, name: str, **labels: str) -> float:
        value = self.services.metrics.registry.get_sample_value(name, labels)
        return float(value or 0.0)


GuardFactory = Callable[..., Awaitable[RunningGuard]]


@pytest.fixture
async def start_guard(make_settings: Callable[..., Settings], sink: SmtpSink) -> AsyncIterator[GuardFactory]:
    """`await start_guard(**smtp_settings)`: a guard on port 0 relaying to the sink by default."""
    running: list[RunningGuard] = []

    async def start(services_hook: Callable[[Services], Any] | None = None, **smtp: Any) -> RunningGuard:
        smtp.setdefault("upstream", sink.url)
        settings = make_settings(smtp=smtp, http={"enabled": False})
        services = build_services(settings)
        if services_hook is not None:
            services_hook(services)
        server = GuardServer(services)
        await server.start()
        guard = RunningGuard(server, services)
        running.append(guard)
        return guard

    yield start
    for guard in running:
        with contextlib.suppress(Exception):
            await guard.server.stop()
