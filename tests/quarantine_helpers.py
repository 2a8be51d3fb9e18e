"""Test support for the quarantine store, review and e2e tests: a private PostgreSQL cluster,
the SMTP sink from guard.testing and a webhook sink (real servers on loopback), and sample
quarantine items.

Imported by tests/store, tests/review and tests/e2e conftests (tests/ is on sys.path).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from guard.store.base import NewItem
from guard.store.records import ChatEnvelope, MailEnvelope, StoredFinding, StoredSegment
from guard.testing import SmtpSink

CARD = "4111 1111 1111 1111"
SSN = "078-05-1120"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- PostgreSQL ----------------------------------------------------------------------------
def pg_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries, or None (tests then skip and say why)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("postgres")
    return Path(found).parent if found else None


@dataclass
class PgCluster:
    """A throw-away cluster owned by `postgres` (PostgreSQL refuses to run as root)."""

    bindir: Path
    root: Path
    port: int
    as_user: list[str] = field(default_factory=list)
    databases: int = 0

    def run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=60)

    @classmethod
    def start(cls) -> PgCluster:
        bindir = pg_bin_dir()
        if bindir is None:
            pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
        root = Path(tempfile.mkdtemp(prefix="guard-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        cluster = cls(bindir=bindir, root=root, port=free_port(), as_user=as_user)
        data = root / "data"
        cluster.run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        opts = (
            f"-p {cluster.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        cluster.run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "30",
            "start",
        )
        return cluster

    def stop(self) -> None:
        try:
            self.run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        import psycopg

        self.databases += 1
        name = f"guard_t{self.databases}_{os.getpid()}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


# -- sinks -----------------------------------------------------------------------------------
@pytest.fixture
async def smtp_sink() -> Any:
    """The shared recording SMTP server (guard.testing), on loopback in the test's loop."""
    async with SmtpSink() as sink:
        yield sink


class WebhookSink:
    """An aiohttp app that records every POST, answering like Slack (200 `ok`) unless told otherwise."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _hook(self, request: web.Request) -> web.Response:
        self.requests.append(
            {"path": request.path_qs, "body": await request.read(), "headers": dict(request.headers)}
        )
        return web.Response(status=self.status, text="ok" if self.status == 200 else "no_service")

    async def start(self) -> WebhookSink:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def url(self, path: str = "/services/T0/B0/X") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def webhook_sink() -> Any:
    sink = await WebhookSink().start()
    try:
        yield sink
    finally:
        await sink.stop()


# -- sample items ----------------------------------------------------------------------------
def mail_item(
    *,
    subject: str = f"Refund for card {CARD}",
    sender: str = "agent@example.com",
    recipients: tuple[str, ...] = ("customer@example.net",),
    marker: str = "",
) -> NewItem:
    """An SMTP quarantine item with one card finding at exact offsets in the body segment."""
    body = f"Hello,\r\n\r\nthe card on file is {CARD} and the SSN {SSN}.\r\n{marker}\r\n"
    raw = (
        f"From: {sender}\r\nTo: {', '.join(recipients)}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{marker or 'm1'}@example.com>\r\n\r\n{body}"
    ).encode()
    text = body.replace("\r\n", "\n")
    start = text.index(CARD)
    ssn = text.index(SSN)
    findings = [
        {
            "type": "CREDIT_CARD",
            "category": "pci",
            "start": start,
            "end": start + len(CARD),
            "score": 0.99,
            "detector": "card.luhn",
            "preview": "**** **** **** 1111",
            "hash": "h1",
            "segment": 1,
            "explanation": ["luhn ok"],
        },
        {
            "type": "US_SSN",
            "category": "pii",
            "start": ssn,
            "end": ssn + len(SSN),
            "score": 0.9,
            "detector": "ssn",
            "preview": "***-**-1120",
            "hash": "h2",
            "segment": 1,
            "explanation": [],
        },
    ]
    return NewItem(
        channel="smtp",
        sender=sender,
        recipients=recipients,
        route=None,
        content=raw,
        envelope=MailEnvelope(mail_from=sender, rcpt_tos=tuple(recipients)),
        findings=[StoredFinding.from_dict(f) for f in findings],
        segments=[
            StoredSegment(source="header Subject", kind="header", text=subject),
            StoredSegment(source="body", kind="text", text=text),
        ],
        types={"CREDIT_CARD": 1, "US_SSN": 1},
        severity="high",
        action="quarantine",
        rows=["external-pci"],
        explanation="external recipient; 1 CREDIT_CARD, 1 US_SSN: held for review",
        subject=subject,
    )


def chat_item(route: str = "support", marker: str = "") -> NewItem:
    text = f"customer card {CARD} {marker}"
    body = ('{"text": "' + text + '"}').encode()
    start = text.index(CARD)
    return NewItem(
        channel="chat",
        sender="",
        recipients=(),
        route=route,
        content=body,
        envelope=ChatEnvelope(route=route, query="", content_type="application/json"),
        findings=[
            StoredFinding(
                type="CREDIT_CARD",
                category="pci",
                start=start,
                end=start + len(CARD),
                score=0.99,
                detector="card.luhn",
                preview="**** **** **** 1111",
                hash="h1",
                segment=0,
            )
        ],
        segments=[StoredSegment(source="payload text", kind="text", text=text)],
        types={"CREDIT_CARD": 1},
        severity="high",
        action="quarantine",
        rows=["external-pci"],
        explanation="external route; 1 CREDIT_CARD: held for review",
    )


# -- a running guard with review users ---------------------------------------------------------
PASSWORDS = {
    "alice": "alice-password-1",
    "rita": "rita-password-1",
    "vera": "vera-password-1",
    "adam": "adam-password-1",
    "tom": "tom-password-1",
}
ROLES = {"alice": "reviewer", "rita": "reviewer", "vera": "viewer", "adam": "admin", "tom": "reviewer"}
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TOKENS = {
    "viewer": "tok-viewer-123",
    "reviewer": "tok-reviewer-123",
    "admin": "tok-admin-123",
    "agent": "tok-agent-123",
}


@pytest.fixture(scope="session")
def review_users() -> list[dict[str, str]]:
    """Review users with real argon2 hashes (hashed once per session: argon2 is slow on purpose)."""
    from guard.review.auth import hash_password

    users = []
    for name, role in ROLES.items():
        user = {"name": name, "password_hash": hash_password(PASSWORDS[name]), "role": role}
        if name == "tom":
            user["totp_secret"] = TOTP_SECRET
        users.append(user)
    return users


def api_tokens() -> list[dict[str, str]]:
    import hashlib

    return [
        {"name": f"{role}-bot", "token_sha256": hashlib.sha256(tok.encode()).hexdigest(), "role": role}
        for role, tok in TOKENS.items()
    ]


@pytest.fixture(scope="session")
def shared_inspector(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Rules compile once per session."""
    from guard.config import load_settings
    from guard.inspection import Inspector

    tmp = tmp_path_factory.mktemp("inspector")
    return Inspector.from_settings(
        load_settings(None, data_dir=str(tmp), rules={"hash_key": "test-hash-key"})
    )


@dataclass
class RunningGuard:
    server: Any
    services: Any

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    @property
    def store(self) -> Any:
        return self.services.store

    @property
    def smtp_port(self) -> int:
        return int(self.server.smtp_port)


async def start_guard(settings: Any, inspector: Any) -> RunningGuard:
    """The real composition root (SMTP + HTTP listeners on loopback ports chosen by the OS)."""
    from guard.app import GuardServer, Services
    from guard.logs import get_logger
    from guard.metrics import Metrics
    from guard.store import open_store

    settings.data_path.mkdir(parents=True, exist_ok=True)
    services = Services(
        settings=settings,
        inspector=inspector,
        store=open_store(settings),
        metrics=Metrics(),
        log=get_logger("guard", settings.log),
    )
    server = GuardServer(services)
    await server.start()
    return RunningGuard(server, services)


@pytest.fixture
async def make_guard(make_settings: Any, review_users: Any, shared_inspector: Any) -> Any:
    """Factory: `await make_guard(smtp={...}, review={...})` -> RunningGuard; stopped at teardown."""
    from guard.store.crypto import new_key

    started: list[RunningGuard] = []

    async def factory(**sections: Any) -> RunningGuard:
        review = {
            "users": review_users,
            "api_tokens": api_tokens(),
            "secure_cookies": False,
            **sections.pop("review", {}),
        }
        store = {"keys": {"k1": new_key()}, **sections.pop("store", {})}
        log = {"format": "json", "level": "WARNING", **sections.pop("log", {})}
        settings = make_settings(review=review, store=store, log=log, **sections)
        guard = await start_guard(settings, shared_inspector)
        started.append(guard)
        return guard

    yield factory
    for guard in started:
        await guard.server.stop()
