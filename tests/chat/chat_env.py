"""Shared by tests/chat and tests/api: sample texts, one fake upstream per service, a guard factory.

The fixtures are defined here and re-exported by each area's conftest.py.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from guard.app import Services
from guard.audit_trail import VerdictAudit
from guard.config import Settings, load_settings
from guard.inspection import Inspector
from guard.logs import get_logger
from guard.metrics import Metrics
from guard.store.sqlite import SqliteStore
from guard.testing_webhook import SERVICES, FakeWebhook, GuardHttp

CARD = "4111 1111 1111 1111"
AWS_KEY = "AKIA2E5RYT7QKVN3WX4H"
CLEAN = "Weekly deployment report is ready for review."
CARD_TEXT = f"Customer card {CARD} was charged twice, please refund."
KEY_TEXT = f"use {AWS_KEY} aws key for the bucket"

#: Upstream paths shaped like the real services' webhook URLs (query strings included).
UPSTREAM_PATHS = {
    "slack": "/services/T000/B000/XXXX",
    "mattermost": "/hooks/mmkey123",
    "discord": "/api/webhooks/123/tok",
    "teams": "/webhookb2/abc@def/IncomingWebhook/123/456",
    "teams_workflows": "/workflows/abc/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sig=SIG",
    "googlechat": "/v1/spaces/AAA/messages?key=KEY&token=TOK",
    "generic": "/ingest",
}
FORMAT = {"teams_workflows": "teams"}


@pytest.fixture(scope="session")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    """Rules compile once per session; every test's settings use the same rules and hash key."""
    tmp = tmp_path_factory.mktemp("inspector")
    return Inspector.from_settings(
        load_settings(None, data_dir=str(tmp), rules={"hash_key": "test-hash-key"})
    )


@pytest.fixture
async def upstreams(tmp_path: Path) -> AsyncIterator[dict[str, FakeWebhook]]:
    hooks = {s: FakeWebhook(s, log=tmp_path / f"{s}.jsonl") for s in SERVICES}
    for hook in hooks.values():
        await hook.start()
    yield hooks
    for hook in hooks.values():
        await hook.stop()


def route(name: str, service: str, hook: FakeWebhook, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "format": FORMAT.get(service, service),
        "upstream": hook.url(UPSTREAM_PATHS[service]),
        **extra,
    }


def service_routes(upstreams: dict[str, FakeWebhook], **extra: Any) -> list[dict[str, Any]]:
    """For each service: `<svc>-ext` (external, 202 on quarantine), `<svc>-int` (internal)."""
    out = []
    for svc, hook in upstreams.items():
        out.append(route(f"{svc}-ext", svc, hook, audience="external", quarantine_reply="accepted", **extra))
        out.append(route(f"{svc}-int", svc, hook, audience="internal", **extra))
    return out


@dataclass
class Guard:
    http: GuardHttp
    services: Services
    log: io.StringIO

    def hook(self, name: str, tail: str = "") -> str:
        return self.http.url(f"/hooks/{name}{tail}")

    def url(self, path: str) -> str:
        return self.http.url(path)


GuardFactory = Callable[..., Awaitable[Guard]]


@pytest.fixture
async def start_guard(
    make_settings: Callable[..., Settings],
    inspector: Inspector,
) -> AsyncIterator[GuardFactory]:
    started: list[Guard] = []

    async def factory(
        routes: list[dict[str, Any]], *, inspector_override: Any = None, store: Any = None, **sections: Any
    ) -> Guard:
        settings = make_settings(chat={"routes": routes}, **sections)
        log = io.StringIO()
        services = Services(
            settings=settings,
            inspector=inspector_override or inspector,
            store=store if store is not None else SqliteStore(settings),
            metrics=Metrics(),
            log=get_logger("guard", settings.log, stream=log),
        )
        if store is None:  # the real store also gets the real verdict audit, as build_services wires it
            services.audit = VerdictAudit(services.store, services.log)
        await services.store.open()
        guard = Guard(await GuardHttp(services).start(), services, log)
        started.append(guard)
        return guard

    yield factory
    for guard in started:
        await guard.http.stop()
        await guard.services.store.close()
