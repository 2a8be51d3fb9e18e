"""Fixtures for the reliability proof: in-process guards on loopback, sinks, certificates.

Each test builds the peers it needs (real aiosmtpd sinks, hostile raw SMTP servers, fake
webhook services, real `guard serve` subprocesses, Postfix, PostgreSQL) and prints the figures
it measured, so `pytest -s tests/reliability` shows them; docs/reliability.md quotes them.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from guard.app import GuardServer, Services
from guard.config import Settings, load_settings
from guard.inspection import Inspector
from guard.logs import JsonFormatter, get_logger
from guard.metrics import Metrics
from guard.store import open_store
from guard.testing import SmtpSink

#: Guard log events that mean an exception escaped the code meant to handle it.
UNHANDLED_EVENTS = frozenset({"smtp_exception", "smtp_error", "http_error"})
#: Library loggers that report exceptions nobody handled (task never retrieved, session crash).
LIBRARY_LOGGERS = ("asyncio", "mail.log", "aiohttp.server", "aiohttp.internal", "aiohttp.web")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_unhandled_exceptions(request: pytest.FixtureRequest) -> Any:
    """Every reliability test also fails if an exception went unhandled anywhere in the guard
    (its own "this should not happen" events) or in asyncio, aiosmtpd or aiohttp."""
    handler = _Records()
    loggers = [logging.getLogger("guard"), *(logging.getLogger(n) for n in LIBRARY_LOGGERS)]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)
    bad = []
    for record, line in zip(handler.records, handler.lines, strict=True):
        event = json.loads(line).get("event")
        ours = record.name == "guard"
        if (ours and event in UNHANDLED_EVENTS) or (not ours and record.levelno >= logging.ERROR):
            bad.append(line)
    assert not bad, "unhandled exceptions:\n" + "\n".join(bad[:10])


@pytest.fixture(scope="session")
def rel_inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    """Rules compile once for the whole reliability run."""
    tmp = tmp_path_factory.mktemp("rel-inspector")
    return Inspector.from_settings(
        load_settings(None, data_dir=str(tmp), rules={"hash_key": "test-hash-key"})
    )


@dataclass
class Guard:
    server: GuardServer
    services: Services

    @property
    def smtp_port(self) -> int:
        assert self.server.smtp_port is not None
        return self.server.smtp_port

    @property
    def http_port(self) -> int:
        assert self.server.http_port is not None
        return self.server.http_port

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"


GuardFactory = Callable[..., Awaitable[Guard]]


@pytest.fixture
async def start_guard(
    make_settings: Callable[..., Settings], rel_inspector: Inspector
) -> AsyncIterator[GuardFactory]:
    """`await start_guard(smtp={...}, chat={...}, ...)`: the real composition root on port 0."""
    running: list[Guard] = []

    async def start(*, inspector: Inspector | None = None, **sections: Any) -> Guard:
        settings = make_settings(**sections)
        settings.data_path.mkdir(parents=True, exist_ok=True)
        services = Services(
            settings=settings,
            inspector=inspector or rel_inspector,
            store=open_store(settings),
            metrics=Metrics(),
            log=get_logger("guard", settings.log),
        )
        server = GuardServer(services)
        await server.start()
        guard = Guard(server, services)
        running.append(guard)
        return guard

    yield start
    for guard in running:
        with contextlib.suppress(Exception):
            await guard.server.stop()


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    async with SmtpSink() as s:
        yield s


@dataclass
class Certs:
    cert_file: Path
    key_file: Path
    ca_file: Path


@pytest.fixture(scope="session")
def rel_certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    d = tmp_path_factory.mktemp("rel-certs")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = d / "cert.pem", d / "key.pem", d / "ca.pem"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    return Certs(cert_file, key_file, ca_file)
