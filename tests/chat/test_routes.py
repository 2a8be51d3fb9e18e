"""The chat route handler: protection, errors, each verdict action, metrics and logs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiohttp
import pytest
from chat_env import AWS_KEY, CARD, CARD_TEXT, CLEAN, KEY_TEXT, GuardFactory, route

from guard.model import Action, OutboundMessage, Verdict
from guard.store.base import NewItem
from guard.testing_webhook import Canned, FakeWebhook

CARD_DIGITS = CARD.replace(" ", "")


async def post(
    url: str,
    body: Any = None,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = {"data": data} if data is not None else {"json": body}
        async with http.post(url, headers=headers, **kwargs) as resp:
            return resp.status, dict(resp.headers), await resp.read()


class ForcedAction:
    """The real inspector, with the verdict's action replaced: reaches adapter branches
    (redact) that the shipped policy does not produce."""

    def __init__(self, inner: Any, action: Action) -> None:
        self.inner, self.action = inner, action

    def inspect(self, message: OutboundMessage) -> Verdict:
        return dataclasses.replace(self.inner.inspect(message), action=self.action)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Exploding:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def inspect(self, message: OutboundMessage) -> Verdict:
        raise RuntimeError("rule engine crashed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RecordingStore:
    """A store whose put() is slow and recorded, to prove the reply waits for the commit."""

    def __init__(self, fail: bool = False) -> None:
        self.items: list[NewItem] = []
        self.fail = fail

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def put(self, item: NewItem) -> str:
        await asyncio.sleep(0.05)
        if self.fail:
            raise OSError("disk full")
        self.items.append(item)
        return f"Q-{len(self.items):05d}"


@pytest.fixture
async def slack() -> Any:
    async with FakeWebhook("slack") as hook:
        yield hook


async def test_unknown_route_404(start_guard: GuardFactory) -> None:
    guard = await start_guard([])
    status, _, body = await post(guard.hook("nope"), {"text": "hi"})
    assert status == 404 and json.loads(body)["error"] == "unknown_route"


async def test_secret_header_or_query_and_stripped(start_guard: GuardFactory, slack: FakeWebhook) -> None:
    guard = await start_guard(
        [{"name": "s", "format": "slack", "upstream": slack.url("/services/X?a=1"), "secret": "s3cr3t-token"}]
    )
    status, _, body = await post(guard.hook("s"), {"text": CLEAN})
    assert status == 401 and json.loads(body)["error"] == "unauthorized"
    status, _, _ = await post(guard.hook("s"), {"text": CLEAN}, headers={"X-Guard-Secret": "s3cr3t-tokem"})
    assert status == 401
    assert slack.requests == []
    status, _, _ = await post(guard.hook("s"), {"text": CLEAN}, headers={"X-Guard-Secret": "s3cr3t-token"})
    assert status == 200
    status, _, _ = await post(guard.hook("s") + "?x=1&guard_secret=s3cr3t-token&y=2", {"text": CLEAN})
    assert status == 200
    assert "X-Guard-Secret" not in slack.requests[0].headers
    assert slack.requests[0].query == "a=1"
    assert slack.requests[1].query == "a=1&x=1&y=2"


async def test_tail_path_and_query_kept(start_guard: GuardFactory, slack: FakeWebhook) -> None:
    guard = await start_guard([route("s", "slack", slack)])
    status, _, _ = await post(guard.hook("s", "/extra/p%20q?wait=True&thread_id=9"), {"text": CLEAN})
    assert status == 200
    assert slack.requests[0].path == "/services/T000/B000/XXXX/extra/p q"
    assert slack.requests[0].query == "wait=True&thread_id=9"


@pytest.mark.parametrize("tail", ["/../B001/YYYY", "/%2e%2e/B001", "/a/./b"])
async def test_dot_segments_refused(start_guard: GuardFactory, slack: FakeWebhook, tail: str) -> None:
    """An internal route must not become a door to another webhook on the same host."""
    guard = await start_guard([route("s", "slack", slack, audience="internal")])
    async with aiohttp.ClientSession() as http:
        url = aiohttp.client.URL(guard.hook("s") + tail, encoded=True)
        async with http.post(url, json={"text": CLEAN}) as resp:
            assert resp.status == 400
    assert slack.requests == []


async def test_body_too_large_413(start_guard: GuardFactory, slack: FakeWebhook) -> None:
    guard = await start_guard([route("s", "slack", slack)], http={"max_body_bytes": 1024})
    status, _, body = await post(guard.hook("s"), {"text": "x" * 2000})
    assert status == 413 and json.loads(body)["error"] == "request_entity_too_large"
    assert slack.requests == []


@pytest.mark.parametrize(
    ("data", "ctype", "status", "needle"),
    [
        (b'{"text": "4111111111111111"', "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "empty"),
        (b'{"text": "a", "text": "b"}', "application/json", 400, "duplicate key"),
        (b'{"text": "\xff"}', "application/json", 400, "UTF-8"),
        (b"--b\r\n\r\n--b--", "multipart/form-data; boundary=b", 415, "multipart"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded", 400, "not valid JSON"),
    ],
)
async def test_bad_bodies(
    start_guard: GuardFactory, slack: FakeWebhook, data: bytes, ctype: str, status: int, needle: str
) -> None:
    guard = await start_guard([route("s", "slack", slack)])
    got, _, body = await post(guard.hook("s"), data=data, headers={"Content-Type": ctype})
    msg = json.loads(body)["message"]
    assert got == status and needle in msg
    assert "4111" not in msg
    assert slack.requests == []


async def test_slack_form_payload_scanned_and_forwarded(
    start_guard: GuardFactory, slack: FakeWebhook
) -> None:
    guard = await start_guard([route("s", "slack", slack, audience="external")])
    form = aiohttp.FormData({"payload": json.dumps({"text": KEY_TEXT})})
    async with aiohttp.ClientSession() as http:
        async with http.post(guard.hook("s"), data=form) as resp:
            assert resp.status == 403 and await resp.text() == "action_prohibited"
        form = aiohttp.FormData({"payload": json.dumps({"text": CLEAN})})
        async with http.post(guard.hook("s"), data=form) as resp:
            assert resp.status == 200
    assert slack.requests[0].json() == {"text": CLEAN}
    assert slack.requests[0].content_type == "application/x-www-form-urlencoded"


async def test_card_as_json_number_is_found(
    start_guard: GuardFactory, upstreams: dict[str, FakeWebhook]
) -> None:
    hook = upstreams["generic"]
    guard = await start_guard([route("g", "generic", hook, quarantine_reply="accepted")])
    status, _, body = await post(
        guard.hook("g"),
        data=b'{"note": "card", "card": 4111111111111111}',
        headers={"Content-Type": "application/json"},
    )
    assert status == 202 and json.loads(body)["guard"]["counts"] == {"CREDIT_CARD": 1}
    assert hook.requests == []


async def test_upstream_reply_passed_through_byte_for_byte(
    start_guard: GuardFactory, slack: FakeWebhook
) -> None:
    guard = await start_guard([route("s", "slack", slack)])
    slack.reply_with(
        Canned(418, b"\x00teapot\xff", "application/x-odd; v=1", (("X-RateLimit-Remaining", "0"),)),
        Canned(200, b"\x1f\x8b gzip-ish", "text/plain", (("Content-Encoding", "gzip"),)),
        429,
    )
    status, headers, body = await post(guard.hook("s"), {"text": CLEAN})
    assert (status, body, headers["Content-Type"]) == (418, b"\x00teapot\xff", "application/x-odd; v=1")
    assert headers["X-RateLimit-Remaining"] == "0"
    async with (
        aiohttp.ClientSession(auto_decompress=False) as http,
        http.post(guard.hook("s"), json={"text": CLEAN}) as resp,
    ):
        assert await resp.read() == b"\x1f\x8b gzip-ish" and resp.headers["Content-Encoding"] == "gzip"
    status, headers, body = await post(guard.hook("s"), {"text": CLEAN})
    assert (status, body, headers["Retry-After"]) == (429, b"rate_limited", "1")
    metrics = guard.services.metrics
    assert metrics.upstream_replies.labels("chat", "4xx")._value.get() == 2


async def test_upstream_down_502_and_slow_504(start_guard: GuardFactory, make_settings: Any) -> None:
    async with FakeWebhook("slack", delay_s=2.0) as slow:
        dead = FakeWebhook("slack")
        await dead.start()
        dead_url = dead.url("/x")
        await dead.stop()
        guard = await start_guard(
            [
                {"name": "dead", "format": "slack", "upstream": dead_url},
                {"name": "slow", "format": "slack", "upstream": slow.url("/x")},
            ],
            http={"upstream_timeout_s": 0.3},
        )
        status, _, body = await post(guard.hook("dead"), {"text": CLEAN})
        assert status == 502 and json.loads(body)["error"] == "upstream_unreachable"
        status, _, body = await post(guard.hook("slow"), {"text": CLEAN})
        assert status == 504 and json.loads(body)["error"] == "upstream_timeout"
    metrics = guard.services.metrics
    assert metrics.upstream_replies.labels("chat", "error")._value.get() == 2
    assert metrics.upstream_replies.labels("chat", "2xx")._value.get() == 0
    lines = [json.loads(x) for x in guard.log.getvalue().splitlines()]
    decided = [x for x in lines if x.get("event") == "chat_decision"]
    assert [x["delivered"] for x in decided] == [False, False]


async def test_quarantine_stored_before_reply(start_guard: GuardFactory, slack: FakeWebhook) -> None:
    store = RecordingStore()
    guard = await start_guard(
        [route("s", "slack", slack), route("a", "slack", slack, quarantine_reply="accepted")], store=store
    )
    status, headers, body = await post(guard.hook("s", "/t?wait=1"), {"text": CARD_TEXT})
    assert (status, body) == (200, b"ok")  # Slack's own success shape
    assert headers["X-Guard-Quarantine-Id"] == "Q-00001"
    assert json.loads(headers["X-Guard-Reason"])["id"] == "Q-00001"
    item = store.items[0]
    assert item.channel == "chat" and item.route == "s" and item.types == {"CREDIT_CARD": 1}
    assert item.content == json.dumps({"text": CARD_TEXT}).encode()
    assert item.envelope.as_dict()["tail"] == "t" and item.envelope.as_dict()["query"] == "wait=1"
    assert item.severity == "high" and item.action == "quarantine"
    assert CARD_DIGITS not in json.dumps([f.as_dict() for f in item.findings])
    status, _, body = await post(guard.hook("a"), {"text": CARD_TEXT})
    reply = json.loads(body)
    assert status == 202 and reply["id"] == "Q-00002" and "Q-00002" in reply["message"]
    assert reply["guard"]["counts"] == {"CREDIT_CARD": 1} and CARD_DIGITS not in body.decode()
    assert slack.requests == []


async def test_quarantine_store_failure_fails_closed(start_guard: GuardFactory, slack: FakeWebhook) -> None:
    guard = await start_guard([route("s", "slack", slack)], store=RecordingStore(fail=True))
    status, _, body = await post(guard.hook("s"), {"text": CARD_TEXT})
    assert status == 503 and json.loads(body)["error"] == "quarantine_failed"
    assert slack.requests == []


async def test_quarantine_with_real_sqlite_store(start_guard: GuardFactory, slack: FakeWebhook) -> None:
    guard = await start_guard([route("s", "slack", slack, quarantine_reply="accepted")])
    status, _, body = await post(guard.hook("s"), {"text": CARD_TEXT})
    item_id = json.loads(body)["id"]
    item = await guard.services.store.get(item_id)
    assert status == 202 and item.content == json.dumps({"text": CARD_TEXT}).encode()
    assert item.summary.route == "s" and item.summary.types == {"CREDIT_CARD": 1}


@pytest.mark.parametrize(
    ("query", "status", "has_body"),
    [("", 204, False), ("?wait=TRUE", 200, True), ("?wait=false", 204, False), ("?Wait=True", 200, True)],
)
async def test_discord_held_reply_follows_wait(
    start_guard: GuardFactory, upstreams: dict[str, FakeWebhook], query: str, status: int, has_body: bool
) -> None:
    guard = await start_guard([route("d", "discord", upstreams["discord"])])
    got, _, body = await post(guard.hook("d") + query, {"content": CARD_TEXT})
    assert got == status and bool(body) is has_body
    if has_body:
        message = json.loads(body)
        assert message["id"].isdigit() and CARD_DIGITS not in body.decode()
        assert (
            "CREDIT_CARD" in message["content"] or "****" in message["content"] or "[" in message["content"]
        )


@pytest.mark.parametrize(
    ("service", "status", "body"),
    [
        ("teams", 200, b"1"),
        ("teams_workflows", 202, b""),
        ("mattermost", 200, b"ok"),
    ],
)
async def test_held_looks_like_service_success(
    start_guard: GuardFactory, upstreams: dict[str, FakeWebhook], service: str, status: int, body: bytes
) -> None:
    guard = await start_guard([route("r", service, upstreams[service])])
    payload = (
        {"text": CARD_TEXT}
        if service != "teams_workflows"
        else {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": CARD_TEXT}]},
                }
            ],
        }
    )
    got, headers, data = await post(guard.hook("r"), payload)
    assert (got, data) == (status, body) and headers["X-Guard-Quarantine-Id"]
    assert upstreams[service].requests == []


async def test_redact_forwards_masked_payload(
    start_guard: GuardFactory, slack: FakeWebhook, inspector: Any
) -> None:
    guard = await start_guard(
        [route("s", "slack", slack)], inspector_override=ForcedAction(inspector, Action.REDACT)
    )
    payload = {
        "text": CARD_TEXT,
        "attachments": [{"text": "ok", "fields": [{"value": CARD}]}],
        "mrkdwn": True,
    }
    status, _, body = await post(guard.hook("s"), payload)
    assert (status, body) == (200, b"ok")
    sent = slack.requests[0].json()
    assert CARD_DIGITS not in slack.requests[0].body.decode().replace(" ", "")
    assert sent["mrkdwn"] is True and sent["attachments"][0]["text"] == "ok"
    assert sent["text"].startswith("Customer card ") and sent["text"] != CARD_TEXT


@pytest.mark.redaction_leaks
async def test_redact_holds_what_masking_cannot_reach(
    start_guard: GuardFactory, slack: FakeWebhook, inspector: Any
) -> None:
    """A card written as a JSON number keeps its type, so masking cannot reach it: the one
    re-inspection of the masked payload finds it and the message is held (issue 11: it was 503)."""
    guard = await start_guard(
        [route("s", "generic", slack)], inspector_override=ForcedAction(inspector, Action.REDACT)
    )
    status, headers, body = await post(
        guard.hook("s"),
        data=b'{"card": 4111111111111111, "note": "card"}',
        headers={"Content-Type": "application/json"},
    )
    assert status == 202 and headers["X-Guard-Quarantine-Id"]
    assert "instead of redacting" in json.loads(body)["guard"]["explanation"]
    assert slack.requests == []


async def test_inspection_error_fails_closed(
    start_guard: GuardFactory, slack: FakeWebhook, inspector: Any
) -> None:
    guard = await start_guard([route("s", "slack", slack)], inspector_override=Exploding(inspector))
    status, _, body = await post(guard.hook("s"), {"text": CLEAN})
    assert status == 503 and json.loads(body)["error"] == "inspection_failed"
    assert slack.requests == []
    assert guard.services.metrics.inspection_errors.labels("chat")._value.get() == 1


async def test_metrics_and_log_lines_carry_no_values(start_guard: GuardFactory, slack: FakeWebhook) -> None:
    guard = await start_guard(
        [
            route("s", "slack", slack, quarantine_reply="accepted"),
            route("i", "slack", slack, audience="internal"),
        ]
    )
    for name, text in (("s", CLEAN), ("s", CARD_TEXT), ("s", KEY_TEXT), ("i", CARD_TEXT)):
        await post(guard.hook(name), {"text": text})
    m = guard.services.metrics
    assert m.messages.labels("chat", "external", "allow")._value.get() == 1
    assert m.messages.labels("chat", "external", "quarantine")._value.get() == 1
    assert m.messages.labels("chat", "external", "block")._value.get() == 1
    assert m.messages.labels("chat", "internal", "allow")._value.get() == 1
    assert m.findings.labels("chat", "CREDIT_CARD")._value.get() == 2
    log = guard.log.getvalue()
    decided = [json.loads(x) for x in log.splitlines() if '"chat_decision"' in x]
    assert [d["outcome"] for d in decided] == ["forwarded", "quarantined", "blocked", "forwarded"]
    assert decided[1]["counts"] == {"CREDIT_CARD": 1} and decided[1]["id"]
    assert CARD_DIGITS not in log.replace(" ", "") and AWS_KEY not in log


async def test_every_verdict_reaches_the_audit_chain(start_guard: GuardFactory, slack: FakeWebhook) -> None:
    guard = await start_guard([route("s", "slack", slack, quarantine_reply="accepted")])
    for text in (CLEAN, CARD_TEXT, KEY_TEXT):
        await post(guard.hook("s"), {"text": text})
    assert guard.services.audit is not None
    await guard.services.audit.flush()
    entries = [e for e in await guard.services.store.audit_entries() if e.action == "verdict"]
    assert [(e.details["channel"], e.details["action"]) for e in entries] == [
        ("chat", "allow"),
        ("chat", "quarantine"),
        ("chat", "block"),
    ]
    assert CARD_DIGITS not in json.dumps([e.details for e in entries]).replace(" ", "")
