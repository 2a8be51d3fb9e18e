"""The evasion table, run through the real SMTP relay and the real chat proxy to an external
recipient (tests/reliability/evasion_cases.py lists the rows).

"Caught" means: the client was told the message is held (250 2.6.0 / 202) or refused (550 /
403) with the hidden entity named, and nothing reached the upstream. Rows the guard genuinely
misses are strict xfails, so a row that starts being caught fails until the table is updated.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from guard.testing import SmtpSink
from guard.testing_webhook import FakeWebhook
from tests.reliability.conftest import Guard, GuardFactory
from tests.reliability.evasion_cases import CASES, EXTERNAL, SENDER, Case
from tests.reliability.relkit import smtp_attempt

UPSTREAM_PATHS = {
    "slack": "/services/T000/B000/XXXX",
    "mattermost": "/hooks/mmkey",
    "discord": "/api/webhooks/1/tok",
    "teams": "/webhookb2/abc@def/IncomingWebhook/1/2",
    "teams_workflows": "/workflows/abc/triggers/manual/paths/invoke",
    "googlechat": "/v1/spaces/AAA/messages",
    "generic": "/ingest",
}


@dataclass
class Env:
    guard: Guard
    sink: SmtpSink
    hooks: dict[str, FakeWebhook]


@pytest.fixture
async def env(start_guard: GuardFactory, sink: SmtpSink) -> AsyncIterator[Env]:
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
    guard = await start_guard(smtp={"upstream": sink.url}, chat={"routes": routes})
    yield Env(guard, sink, hooks)
    for hook in hooks.values():
        await hook.stop()


def _escape_all(value: Any) -> str:
    """JSON with every character of every string written as a \\u escape."""
    if isinstance(value, str):
        return '"' + "".join(f"\\u{ord(c):04x}" for c in value) + '"'
    if isinstance(value, list):
        return "[" + ",".join(_escape_all(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_escape_all(k)}:{_escape_all(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


async def _smtp(env: Env, case: Case) -> tuple[bool, str]:
    attempt = await smtp_attempt(
        env.guard.smtp_port, case.raw, tag=case.id, kind=case.entity, rcpts=[EXTERNAL], sender=SENDER
    )
    reached = len(env.sink.messages) > 0
    held = attempt.code == 250 and "Held for security review" in attempt.text
    refused = attempt.code == 550 and attempt.text.startswith("5.7.1")
    assert attempt.outcome != "tempfail", attempt  # a hostile encoding must not just stall the mail
    caught = (held or refused) and not reached and f"{case.entity} x" in attempt.text
    return caught, f"{attempt.code} {attempt.text[:90]}"


async def _chat(env: Env, case: Case) -> tuple[bool, str]:
    hook = env.hooks[case.channel]
    if case.form:
        body = urlencode({"payload": json.dumps(case.payload)}).encode()
        ctype = "application/x-www-form-urlencoded"
    else:
        body = (_escape_all(case.payload) if case.escaped else json.dumps(case.payload)).encode()
        ctype = "application/json"
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            env.guard.url(f"/hooks/{case.channel}"), data=body, headers={"Content-Type": ctype}
        ) as resp,
    ):
        status, text = resp.status, await resp.text()
        reason = resp.headers.get("X-Guard-Reason", "")
    reached = len(hook.requests) > 0
    named = case.entity in text or case.entity in reason
    caught = status in (202, 403) and named and not reached
    return caught, f"{status} {(reason or text)[:90]}"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.missed)] if c.missed else [])
        for c in CASES
    ],
)
async def test_evasion(env: Env, case: Case) -> None:
    caught, reply = await (_smtp(env, case) if case.channel == "smtp" else _chat(env, case))
    print(
        f"\nEVASION {case.id} [{case.entity}] {case.technique}: "
        f"{'caught' if caught else 'NOT caught'} ({reply})"
    )
    assert caught, f"{case.technique}: {reply}"
