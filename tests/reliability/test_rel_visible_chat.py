"""Every byte a chat service shows (or stores) is inspected: markup, metadata, path and query.

Each row hides a sensitive value generated here (a Luhn-valid card number) one way, posts it
through the real chat proxy to a real aiohttp upstream and expects it held (202) or refused
(403) with the type named and nothing forwarded. Each row's clean control has the same shape
without the value and must arrive at the upstream byte for byte. docs/reliability.md
("Every byte a recipient can see") quotes the counts this file prints.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from guard.testing_webhook import FakeWebhook
from tests.reliability.conftest import Guard, GuardFactory

UPSTREAM_PATHS = {
    "slack": "/services/T000/B000/XXXX",
    "mattermost": "/hooks/mmkey",
    "discord": "/api/webhooks/1/tok",
    "teams": "/webhookb2/abc@def/IncomingWebhook/1/2",
    "teams_workflows": "/workflows/abc/triggers/manual/paths/invoke",
    "googlechat": "/v1/spaces/AAA/messages",
    "generic": "/ingest",
}


def luhn_card(rng: random.Random, prefix: str = "4", length: int = 16) -> str:
    """A Luhn-valid card number made here (never a real or copied one)."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


CARD = luhn_card(random.Random(11))
GROUPS = [CARD[i : i + 4] for i in range(0, 16, 4)]
#: The clean control's "groups": same shape, nothing sensitive.
WORDS = ["meet", "at", "ten", "today"]

Build = Callable[[list[str]], Any]


@dataclass(frozen=True)
class Row:
    cls: str  # the class in docs/reliability.md
    id: str
    service: str
    build: Build  # groups -> payload
    tail: Callable[[list[str]], str] = lambda g: ""
    query: Callable[[list[str]], str] = lambda g: ""


ROWS: list[Row] = [
    Row(
        "route path and query",
        "path-tail",
        "slack",
        lambda g: {"text": "ok"},
        tail=lambda g: "/" + "".join(g),
    ),
    Row(
        "route path and query",
        "path-tail-spaced",
        "discord",
        lambda g: {"content": "ok"},
        tail=lambda g: "/x/" + "%20".join(g),
    ),
    Row(
        "route path and query",
        "query-value",
        "slack",
        lambda g: {"text": "ok"},
        query=lambda g: "note=" + "+".join(g),
    ),
    Row(
        "route path and query",
        "query-key",
        "mattermost",
        lambda g: {"text": "ok"},
        query=lambda g: "-".join(g) + "=1",
    ),
    Row(
        "route path and query",
        "query-encoded",
        "generic",
        lambda g: {"text": "ok"},
        query=lambda g: "q=" + "".join(f"%{ord(c):02X}" for c in " ".join(g)),
    ),
]


@dataclass
class Env:
    guard: Guard
    hooks: dict[str, FakeWebhook]


@pytest.fixture
async def env(start_guard: GuardFactory) -> AsyncIterator[Env]:
    hooks = {name: FakeWebhook(name) for name in UPSTREAM_PATHS}
    for hook in hooks.values():
        await hook.start()
    routes = [
        {
            "name": name,
            "format": "teams" if name == "teams_workflows" else name,
            "audience": "external",
            "upstream": hook.url(UPSTREAM_PATHS[name]),
            "quarantine_reply": "accepted",
        }
        for name, hook in hooks.items()
    ]
    guard = await start_guard(chat={"routes": routes})
    yield Env(guard, hooks)
    for hook in hooks.values():
        await hook.stop()


async def _post(env: Env, row: Row, groups: list[str]) -> tuple[int, str, bytes]:
    body = json.dumps(row.build(groups), ensure_ascii=False).encode()
    url = env.guard.url(f"/hooks/{row.service}{row.tail(groups)}")
    query = row.query(groups)
    target = aiohttp.client.URL(url + (f"?{query}" if query else ""), encoded=True)
    async with (
        aiohttp.ClientSession() as http,
        http.post(target, data=body, headers={"Content-Type": "application/json"}) as resp,
    ):
        reason = resp.headers.get("X-Guard-Reason", "") + await resp.text()
        return resp.status, reason, body


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_hidden_value_is_held(env: Env, row: Row) -> None:
    status, reason, _ = await _post(env, row, GROUPS)
    hook = env.hooks[row.service]
    caught = status in (202, 403) and "CREDIT_CARD" in reason and not hook.requests
    print(f"\nVISIBLE {row.cls} / {row.id}: {'caught' if caught else 'NOT caught'} ({status})")
    assert caught, f"{row.id}: {status} {reason[:120]}"


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_clean_control_arrives_unchanged(env: Env, row: Row) -> None:
    status, reason, body = await _post(env, row, WORDS)
    hook = env.hooks[row.service]
    assert status < 300 and len(hook.requests) == 1, f"{row.id}: {status} {reason[:120]}"
    assert hook.requests[0].body == body
