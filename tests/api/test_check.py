"""POST /api/v1/check: auth, email/eml/chat drafts, verdict body, validation, fail closed, spec."""

from __future__ import annotations

import hashlib
import json
from email.message import EmailMessage
from typing import Any

import aiohttp
import jsonschema
import pytest
import yaml
from chat_env import AWS_KEY, CARD, CARD_TEXT, CLEAN, Guard, GuardFactory, route

from guard.model import OutboundMessage, Verdict
from guard.testing_webhook import FakeWebhook

TOKEN = "agent-token-0123456789"
TOKENS = [{"name": "agent1", "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CARD_DIGITS = CARD.replace(" ", "")


async def check(
    guard: Guard, body: Any = None, *, headers: dict[str, str] | None = AUTH, data: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession() as http:
        kw: dict[str, Any] = {"data": data} if data is not None else {"json": body}
        async with http.post(guard.url("/api/v1/check"), headers=headers, **kw) as resp:
            raw = await resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None


@pytest.fixture
async def slack() -> Any:
    async with FakeWebhook("slack") as hook:
        yield hook


@pytest.fixture
async def guard(start_guard: GuardFactory, slack: FakeWebhook) -> Guard:
    return await start_guard(
        [route("support", "slack", slack), route("team", "slack", slack, audience="internal")],
        review={"api_tokens": TOKENS},
    )


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    from guard.api.check import OPENAPI_PATH

    return dict(yaml.safe_load(OPENAPI_PATH.read_text()))


def assert_matches_spec(spec: dict[str, Any], body: Any, schema: str = "CheckResponse") -> None:
    resolver_doc = {**spec, "$ref": f"#/components/schemas/{schema}"}
    jsonschema.validate(body, resolver_doc, cls=jsonschema.Draft202012Validator)


async def test_tokens_required_when_configured(guard: Guard) -> None:
    draft = {"to": ["a@northwind.net"], "text": CLEAN}
    status, headers, body = await check(guard, draft, headers=None)
    assert (
        status == 401 and headers["WWW-Authenticate"].startswith("Bearer") and body["error"] == "unauthorized"
    )
    status, _, _ = await check(guard, draft, headers={"Authorization": f"Bearer {TOKEN}x"})
    assert status == 401
    status, _, _ = await check(guard, draft, headers={"Authorization": f"Basic {TOKEN}"})
    assert status == 401
    status, _, _ = await check(guard, draft, headers={"Authorization": f"bearer {TOKEN}"})
    assert status == 200


async def test_open_on_loopback_only_without_tokens(start_guard: GuardFactory) -> None:
    open_guard = await start_guard([])
    status, _, body = await check(open_guard, {"text": CLEAN}, headers=None)
    assert status == 200 and body["action"] == "allow"
    closed = await start_guard([], review={"check_api_open_on_loopback": False})
    status, _, _ = await check(closed, {"text": CLEAN}, headers=None)
    assert status == 401


async def test_email_text_draft_with_card(guard: Guard, spec: dict[str, Any]) -> None:
    draft = {
        "from": "agent@example.com",
        "to": ["customer@northwind.net"],
        "subject": "Refund",
        "text": CARD_TEXT,
    }
    status, _, body = await check(guard, draft)
    assert status == 200
    assert_matches_spec(spec, body)
    assert body["action"] == "quarantine" and body["audience"] == "external"
    assert body["counts"] == {"CREDIT_CARD": 1} and body["rows"][0] == "external-high-risk"
    assert body["decisions"]["internal"]["action"] == "allow"
    (finding,) = [f for f in body["findings"] if f["type"] == "CREDIT_CARD"]
    seg = body["segments"][finding["segment"]]
    assert seg["source"] == finding["source"]
    assert CARD_TEXT[finding["start"] : finding["end"]] == CARD
    assert finding["preview"].endswith("1111") and finding["detector"] and 0 < finding["score"] <= 1
    assert body["redacted"]["subject"] == "Refund"
    assert CARD_DIGITS not in body["redacted"]["text"].replace(" ", "")
    assert body["redacted"]["text"].startswith("Customer card ")
    assert CARD_DIGITS not in json.dumps({k: v for k, v in body.items() if k != "redacted"}).replace(" ", "")
    assert body["recipients"][0]["audience"] == "external"


async def test_email_internal_and_credential(guard: Guard) -> None:
    status, _, body = await check(guard, {"to": "colleague@example.com", "text": CARD_TEXT})
    assert (status, body["action"], body["audience"]) == (200, "allow", "internal")
    status, _, body = await check(guard, {"to": ["x@northwind.net"], "text": f"key {AWS_KEY} aws key"})
    assert body["action"] == "block" and "API_KEY" in body["types"]
    assert AWS_KEY not in json.dumps(body)  # not in the findings, nor in the redacted text
    status, _, body = await check(guard, {"text": CLEAN})
    assert (body["action"], body["audience"], body["findings"]) == ("allow", "external", [])
    assert body["redacted"] == {"text": CLEAN}


async def test_eml_draft(guard: Guard) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "agent@example.com", "customer@northwind.net", "Refund"
    msg.set_content(CARD_TEXT)
    status, _, body = await check(guard, {"to": ["customer@northwind.net"], "eml": msg.as_string()})
    assert status == 200 and body["action"] == "quarantine"
    assert "Subject: Refund" in body["redacted"]["eml"]
    assert CARD_DIGITS not in body["redacted"]["eml"].replace(" ", "")


async def test_chat_draft_uses_route_audience_and_dialect(guard: Guard, slack: FakeWebhook) -> None:
    payload = {"text": "refund", "attachments": [{"fields": [{"title": "card", "value": CARD}]}]}
    status, _, body = await check(guard, {"route": "support", "payload": payload})
    assert status == 200 and body["action"] == "quarantine" and body["audience"] == "external"
    assert body["redacted"]["payload"]["text"] == "refund"
    assert CARD_DIGITS not in json.dumps(body["redacted"]).replace(" ", "")
    status, _, body = await check(guard, {"channel": "chat", "route": "team", "payload": payload})
    assert (body["action"], body["audience"]) == ("allow", "internal")
    assert slack.requests == []  # a check never sends


@pytest.mark.parametrize(
    ("draft", "error", "needle"),
    [
        ({"text": "a", "eml": "b"}, "invalid_request", "exactly one"),
        ({"to": ["a@northwind.net"]}, "invalid_request", "exactly one"),
        ({"text": "a", "eml": None}, "invalid_request", "null"),
        ({"route": "support", "payload": {"text": "x"}, "subject": "s"}, "invalid_request", "subject"),
        ({"channel": "chat", "route": "support"}, "invalid_request", "payload"),
        ({"route": "support", "payload": None}, "invalid_request", "null"),
        ({"text": "a", "route": "support", "payload": {}}, "invalid_request", "chat draft"),
        ({"text": 4111111111111111}, "invalid_request", "text"),
        ({"text": "a", "bogus": CARD}, "invalid_request", "bogus"),
        ({"to": [4111111111111111], "text": "a"}, "invalid_request", "to"),
        ([CARD], "invalid_request", "JSON object"),
    ],
)
async def test_validation_errors_name_the_field_not_the_value(
    guard: Guard, draft: Any, error: str, needle: str
) -> None:
    status, _, body = await check(guard, draft)
    assert status == 400 and body["error"] == error and needle in body["message"]
    assert "4111" not in body["message"]


async def test_unknown_route_is_404(guard: Guard) -> None:
    status, _, body = await check(guard, {"route": "nope", "payload": {"text": "x"}})
    assert (status, body["error"]) == (404, "unknown_route")


async def test_bad_json_and_size(start_guard: GuardFactory) -> None:
    guard = await start_guard([], http={"max_body_bytes": 2048}, review={"api_tokens": TOKENS})
    status, _, body = await check(
        guard, data=b'{"text": "4111 1111', headers={**AUTH, "Content-Type": "application/json"}
    )
    assert status == 400 and "not valid JSON" in body["message"] and "4111" not in body["message"]
    status, _, body = await check(guard, {"text": "x" * 4096})
    assert status == 413


class Exploding:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def inspect(self, message: OutboundMessage) -> Verdict:
        raise RuntimeError("boom")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_inspection_failure_is_503(start_guard: GuardFactory, inspector: Any) -> None:
    guard = await start_guard([], inspector_override=Exploding(inspector), review={"api_tokens": TOKENS})
    status, _, body = await check(guard, {"text": CLEAN})
    assert status == 503 and body["error"] == "inspection_failed"
    assert guard.services.metrics.inspection_errors.labels("api")._value.get() == 1


async def test_metrics_and_log(guard: Guard) -> None:
    await check(guard, {"to": ["x@northwind.net"], "text": CARD_TEXT})
    m = guard.services.metrics
    assert m.messages.labels("api", "external", "quarantine")._value.get() == 1
    assert m.findings.labels("api", "CREDIT_CARD")._value.get() == 1
    lines = [json.loads(x) for x in guard.log.getvalue().splitlines() if '"api_check"' in x]
    assert lines[0]["caller"] == "agent1" and lines[0]["counts"] == {"CREDIT_CARD": 1}
    assert CARD_DIGITS not in guard.log.getvalue().replace(" ", "")


async def test_spec_is_served_and_valid(guard: Guard, spec: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http, http.get(guard.url("/api/v1/openapi.yaml")) as resp:
        assert resp.status == 200 and resp.content_type == "application/yaml"
        served = yaml.safe_load(await resp.text())
    assert served == spec and served["openapi"].startswith("3.1")
    assert "/api/v1/check" in served["paths"]
    jsonschema.Draft202012Validator.check_schema(served["components"]["schemas"]["CheckRequest"])
    example = served["paths"]["/api/v1/check"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    for ex in example.values():
        jsonschema.validate(
            ex["value"],
            {**served, "$ref": "#/components/schemas/CheckRequest"},
            cls=jsonschema.Draft202012Validator,
        )
