"""Traffic of every kind through a real guard, then the exact values scraped from /metrics.

One guard (SMTP + HTTP listeners, SQLite store) relays to a real SMTP sink and to fake
webhook services on loopback. The test sends mail (allowed, quarantined, blocked, internal,
upstream tempfail, relay denied, AUTH failure), chat posts (the same, plus an upstream 500),
one pre-flight check and one reviewer release, then asserts every non-zero guard_* sample of
the scrape, so a missing, doubled or misfiled count fails. It also greps the guard's log for
the sample values.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from argon2 import PasswordHasher
from prometheus_client.parser import text_string_to_metric_families

from guard import __version__
from guard.app import GuardServer, Services, build_services
from guard.config import Settings
from guard.logs import JsonFormatter
from guard.testing import SmtpSink
from guard.testing_webhook import FakeWebhook

CARD = "4111 1111 1111 1111"
AWS_KEY = "AKIA2E5RYT7QKVN3WX4H"
SENSITIVE = (CARD, CARD.replace(" ", ""), AWS_KEY)
CLEAN = "The weekly deployment report is ready for review."
CARD_TEXT = f"Customer card {CARD} was charged twice, please refund."
KEY_TEXT = f"use {AWS_KEY} aws key for the bucket"
EXTERNAL = "client@acme-corp.net"
INTERNAL = "colleague@example.com"
SMTP_PASSWORD = "correct horse battery staple"
API_TOKEN = "ops-test-reviewer-token"
TOKEN_SHA256 = hashlib.sha256(API_TOKEN.encode()).hexdigest()


@dataclass
class Stack:
    server: GuardServer
    services: Services
    sink: SmtpSink
    outside: FakeWebhook
    team: FakeWebhook
    log: io.StringIO

    def http(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.http_port}{path}"


@pytest.fixture
async def stack(make_settings: Callable[..., Settings]) -> AsyncIterator[Stack]:
    async with SmtpSink() as sink, FakeWebhook("slack") as outside, FakeWebhook("generic") as team:
        settings = make_settings(
            smtp={
                "upstream": sink.url,
                # Loopback is not a relay network here: clients must AUTH, so that relay
                # refusals can be produced from loopback too.
                "relay_networks": ["192.0.2.0/24"],
                "users": [{"name": "agent", "password_hash": PasswordHasher().hash(SMTP_PASSWORD)}],
            },
            chat={
                "routes": [
                    {
                        "name": "outside",
                        "format": "slack",
                        "upstream": outside.url("/services/T0/B0/X"),
                        "audience": "external",
                    },
                    {
                        "name": "team",
                        "format": "generic",
                        "upstream": team.url("/ingest"),
                        "audience": "internal",
                    },
                ]
            },
            review={"api_tokens": [{"name": "ops", "role": "reviewer", "token_sha256": TOKEN_SHA256}]},
        )
        services = build_services(settings)
        log = io.StringIO()
        handler = logging.StreamHandler(log)
        handler.setFormatter(JsonFormatter())  # the production format, extras included
        services.log.addHandler(handler)
        server = GuardServer(services)
        await server.start()
        try:
            yield Stack(server, services, sink, outside, team, log)
        finally:
            await server.stop()
            services.log.removeHandler(handler)


async def send_mail(stack: Stack, rcpt: str, body: str, *, login: bool = True) -> tuple[int, str]:
    """One message on its own connection; returns the guard's reply to DATA (or RCPT)."""
    assert stack.server.smtp_port is not None
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=stack.server.smtp_port, start_tls=False, timeout=30)
    await client.connect()
    try:
        if login:
            await client.login("agent", SMTP_PASSWORD)
        message = f"From: agent@example.com\r\nTo: {rcpt}\r\nSubject: ops test\r\n\r\n{body}\r\n"
        try:
            _, reply = await client.sendmail("agent@example.com", [rcpt], message.encode())
            return 250, reply
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return exc.recipients[0].code, exc.recipients[0].message
        except aiosmtplib.SMTPResponseException as exc:
            return exc.code, exc.message
    finally:
        await client.quit()


async def failed_login(stack: Stack) -> int:
    assert stack.server.smtp_port is not None
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=stack.server.smtp_port, start_tls=False, timeout=30)
    await client.connect()
    try:
        await client.ehlo()
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
            await client.auth_plain("agent", "wrong password")  # one attempt; login() tries each mechanism
        return caught.value.code
    finally:
        await client.quit()


async def post_json(session: aiohttp.ClientSession, url: str, payload: Any, **headers: str) -> int:
    async with session.post(url, json=payload, headers=headers) as resp:
        await resp.read()
        return resp.status


def scrape_values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """guard_* samples of a scrape, without the time-valued `_created` series."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("guard_") and not s.name.endswith("_created"):
                out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset(labels.items()))


async def scrape(session: aiohttp.ClientSession, stack: Stack) -> str:
    async with session.get(stack.http("/metrics")) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return await resp.text()


async def test_traffic_of_every_kind_gives_exact_metric_values(stack: Stack) -> None:
    # -- SMTP ------------------------------------------------------------------------------
    stack.sink.fail_with("451 4.3.0 upstream busy", times=1)
    assert (await send_mail(stack, EXTERNAL, CLEAN))[0] == 451  # allowed, upstream tempfail
    assert (await send_mail(stack, EXTERNAL, CLEAN))[0] == 250  # allowed, relayed
    code, held_reply = await send_mail(stack, EXTERNAL, CARD_TEXT)  # quarantined
    assert code == 250 and "Q-" in held_reply
    assert (await send_mail(stack, EXTERNAL, KEY_TEXT))[0] == 550  # blocked
    assert (await send_mail(stack, INTERNAL, CARD_TEXT))[0] == 250  # internal: allowed
    assert (await send_mail(stack, EXTERNAL, CLEAN, login=False))[0] == 550  # relay denied at RCPT
    assert await failed_login(stack) == 535
    await stack.sink.wait_for(2)

    async with aiohttp.ClientSession() as http:
        # -- chat ------------------------------------------------------------------------------
        stack.outside.reply_with(500)
        hook = stack.http("/hooks/outside")
        assert await post_json(http, hook, {"text": CLEAN}) == 500  # allowed, upstream 5xx passed through
        assert await post_json(http, hook, {"text": CLEAN}) == 200  # allowed, forwarded
        assert await post_json(http, hook, {"text": CARD_TEXT}) == 200  # quarantined (Slack-style "ok")
        assert await post_json(http, hook, {"text": KEY_TEXT}) == 403  # blocked
        assert await post_json(http, stack.http("/hooks/team"), {"text": CARD_TEXT}) in (200, 204)  # internal
        assert len(stack.outside.requests) == 2 and len(stack.team.requests) == 1

        # -- pre-flight check and a reviewer release ---------------------------------------------
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        check = {"text": CARD_TEXT, "to": [EXTERNAL]}
        assert await post_json(http, stack.http("/api/v1/check"), check, **auth) == 200
        smtp_item = next(i for i in await stack.services.store.list(status="held") if i.channel == "smtp")
        release = stack.http(f"/api/v1/quarantine/{smtp_item.id}/release")
        assert await post_json(http, release, {"reason": "customer asked for it"}, **auth) == 200
        await stack.sink.wait_for(3)

        # SMTP connections are counted when they close; wait (bounded) for the last ones.
        deadline = time.monotonic() + 10
        while True:
            text = await scrape(http, stack)
            values = scrape_values(text)
            if values[key("guard_smtp_connections_total", tls="no")] >= 7 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)

    rules = float(stack.services.inspector.rule_count)
    assert rules > 0
    msg = "guard_messages_total"
    found = "guard_findings_total"
    expected = {
        key(msg, channel="smtp", audience="external", action="allow"): 2,
        key(msg, channel="smtp", audience="external", action="quarantine"): 1,
        key(msg, channel="smtp", audience="external", action="block"): 1,
        key(msg, channel="smtp", audience="internal", action="allow"): 1,
        key(msg, channel="chat", audience="external", action="allow"): 2,
        key(msg, channel="chat", audience="external", action="quarantine"): 1,
        key(msg, channel="chat", audience="external", action="block"): 1,
        key(msg, channel="chat", audience="internal", action="allow"): 1,
        key(msg, channel="api", audience="external", action="quarantine"): 1,
        key(found, channel="smtp", type="CREDIT_CARD"): 2,
        key(found, channel="smtp", type="API_KEY"): 1,
        key(found, channel="chat", type="CREDIT_CARD"): 2,
        key(found, channel="chat", type="API_KEY"): 1,
        key(found, channel="api", type="CREDIT_CARD"): 1,
        key("guard_inspection_duration_seconds_count", channel="smtp"): 5,
        key("guard_inspection_duration_seconds_count", channel="chat"): 5,
        key("guard_inspection_duration_seconds_count", channel="api"): 1,
        key("guard_upstream_replies_total", channel="smtp", **{"class": "2xx"}): 2,
        key("guard_upstream_replies_total", channel="smtp", **{"class": "4xx"}): 1,
        key("guard_upstream_replies_total", channel="chat", **{"class": "2xx"}): 2,
        key("guard_upstream_replies_total", channel="chat", **{"class": "5xx"}): 1,
        key("guard_upstream_duration_seconds_count", channel="smtp"): 3,
        key("guard_upstream_duration_seconds_count", channel="chat"): 3,
        key("guard_upstream_up", channel="smtp"): 1,
        key("guard_upstream_up", channel="chat"): 1,
        key("guard_smtp_connections_total", tls="no"): 7,
        key("guard_smtp_auth_failures_total"): 1,
        key("guard_smtp_relay_denied_total"): 1,
        key("guard_quarantine_items", status="held"): 1,
        key("guard_quarantine_items", status="released"): 1,
        key("guard_review_actions_total", action="release"): 1,
        key("guard_store_up"): 1,
        key("guard_rules_loaded"): rules,
        key("guard_build_info", version=__version__): 1,
    }
    # Durations: every histogram observation lands in a bucket, so only the sums and buckets
    # vary; the oldest held item's age is checked separately.
    varying = {k for k in values if k[0].endswith(("_sum", "_bucket"))}
    age = values.pop(key("guard_quarantine_oldest_held_age_seconds"))
    nonzero = {k: v for k, v in values.items() if v != 0 and k not in varying}
    assert nonzero == expected
    assert 0 < age < 120
    for name in ("guard_inspection_duration_seconds", "guard_upstream_duration_seconds"):
        for (sample, labels), count in list(expected.items()):
            if sample == f"{name}_count":
                channel = dict(labels)["channel"]
                assert values[key(f"{name}_bucket", channel=channel, le="+Inf")] == count
                assert values[key(f"{name}_sum", channel=channel)] > 0

    # The scrape carries no sample value anywhere, nor does the guard's log.
    logged = stack.log.getvalue()
    assert "smtp_decision" in logged and "chat_decision" in logged
    for value in (*SENSITIVE, SMTP_PASSWORD, API_TOKEN):
        assert value not in text
        assert value not in logged
