"""Hostile input at the HTTP adapters: fuzzed webhook bodies and check-API drafts, huge,
deep, wide and oddly-numbered JSON, CR/LF in addresses and subjects.

Each input is either inspected (a normal verdict) or refused with a 4xx JSON error that says
what is wrong, within a bounded time; never a 500, never a hang, never a value echoed back.
The inspection core's own fuzzing lives in tests/inspection/test_fuzz.py; this is the adapter
level: payload parsers, dialects, draft validation and the HTTP wiring.
"""

from __future__ import annotations

import http.client
import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guard.chat.dialects import STRUCTURAL_KEYS, dialect_for, walk_strings
from guard.chat.payload import FORM, Parsed, PayloadError, parse_body
from guard.testing_webhook import FakeWebhook
from tests.reliability.conftest import Guard, GuardFactory
from tests.reliability.relkit import GuardProcess
from tests.reliability.sensitive_samples import CARD, SAMPLES, find_leaks

FORMATS = ["slack", "mattermost", "discord", "teams", "googlechat", "generic"]
UPSTREAMS = {
    "teams": "https://prod-1.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke",
}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from([*sorted(STRUCTURAL_KEYS), "text", "blocks", "embeds", "x", "fields", "value"])
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=40,
)

# -- pure: payload parser and dialects --------------------------------------------------------------
HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(
    body=st.binary(max_size=2048) | json_values.map(lambda v: json.dumps(v).encode()),
    ctype=st.sampled_from(
        [
            None,
            "application/json",
            FORM,
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/json; charset=latin-1",
            "",
        ]
    ),
)
def test_payload_parser_accepts_or_refuses_cleanly(body: bytes, ctype: str | None) -> None:
    try:
        parsed = parse_body(body, ctype)
    except PayloadError as exc:
        assert 400 <= exc.status < 500 and str(exc)
        return
    assert isinstance(parsed, Parsed) and parsed.kind in ("json", "form")


@HYPOTHESIS
@given(payload=json_values, fmt=st.sampled_from(FORMATS))
def test_every_string_and_number_of_a_payload_is_scanned(payload: Any, fmt: str) -> None:
    """What a dialect hands to inspection contains every string and number of the payload (and
    every key, for generic JSON): nothing the upstream stores escapes the scan."""
    texts = dialect_for(fmt, UPSTREAMS.get(fmt, "https://hooks.test/x"), payload).texts(payload)
    assert all(isinstance(t, str) for t in texts)
    wanted = [v for _, v in walk_strings(payload, keys=fmt == "generic") if v]
    missing = [v for v in wanted if v not in texts]
    assert not missing, missing


def test_huge_integer_text_is_refused_not_a_crash() -> None:
    with pytest.raises(PayloadError):
        parse_body(b'{"n": ' + b"9" * 5000 + b"}", "application/json")


# -- over HTTP: the real app ------------------------------------------------------------------------
def _deep(levels: int) -> bytes:
    return b'{"text": ' + b"[" * levels + b"1" + b"]" * levels + b"}"


HOSTILE_BODIES: list[tuple[str, bytes, str, set[int]]] = [
    ("deep-nesting-100k", _deep(100_000), "application/json", {400}),
    ("deep-nesting-1k", _deep(1_000), "application/json", {200, 400}),
    ("huge-integer", b'{"text": "hi", "n": ' + b"7" * 6000 + b"}", "application/json", {400}),
    ("huge-exponent", b'{"text": "hi", "n": 1e999999}', "application/json", {200, 400}),
    ("nan-literal", b'{"text": "hi", "n": NaN}', "application/json", {200, 400}),
    ("duplicate-keys", b'{"text": "card ok", "text": "' + CARD.encode() + b'"}', "application/json", {400}),
    ("invalid-utf8", b'{"text": "\xff\xfe card"}', "application/json", {400}),
    ("lone-surrogate", b'{"text": "\\ud800 card"}', "application/json", {200, 400}),
    ("over-size", b'{"text": "' + b"a" * (2 * 1024 * 1024) + b'"}', "application/json", {413}),
    (
        "wide-60k-keys",
        json.dumps({f"k{i}": "v" for i in range(60_000)}).encode(),
        "application/json",
        {200, 400},
    ),
    ("long-line-900k", json.dumps({"text": "word " * 180_000}).encode(), "application/json", {200}),
    ("form-two-payloads", b"payload=%7B%7D&payload=%7B%7D", FORM, {400}),
    ("form-bad-json", b"payload=%7Bnope", FORM, {400}),
    ("multipart", b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x", {415}),
    ("empty", b"", "application/json", {400}),
    ("not-json", b"\x00\x01\x02", "application/json", {400}),
]


@pytest.fixture
async def http_guard(start_guard: GuardFactory) -> AsyncIterator[tuple[Guard, FakeWebhook]]:
    async with FakeWebhook("slack") as hook:
        guard = await start_guard(
            smtp={"enabled": False},
            chat={
                "routes": [
                    {
                        "name": "ext",
                        "format": "slack",
                        "audience": "external",
                        "upstream": hook.url("/services/T/B/X"),
                    },
                    {
                        "name": "gen",
                        "format": "generic",
                        "audience": "external",
                        "upstream": hook.url("/ingest"),
                    },
                ]
            },
        )
        yield guard, hook


@pytest.mark.parametrize(
    ("name", "body", "ctype", "allowed"), HOSTILE_BODIES, ids=[b[0] for b in HOSTILE_BODIES]
)
async def test_hostile_bodies_get_a_clear_answer_in_bounded_time(
    http_guard: tuple[Guard, FakeWebhook], name: str, body: bytes, ctype: str, allowed: set[int]
) -> None:
    guard, _hook = http_guard
    results = {}
    async with aiohttp.ClientSession() as http:
        for path, data in (
            ("/hooks/ext", body),
            ("/hooks/gen", body),
            ("/api/v1/check", body if ctype == FORM else _as_check(body)),
        ):
            t0 = time.monotonic()
            async with http.post(
                guard.url(path),
                data=io.BytesIO(data),
                headers={"Content-Type": ctype},
                timeout=aiohttp.ClientTimeout(total=30),
            ) as resp:
                text = await resp.text()
                results[path] = (resp.status, round(time.monotonic() - t0, 2))
            assert resp.status < 500, (path, resp.status, text[:300])
            assert time.monotonic() - t0 < 10
            if resp.status >= 400:
                error = json.loads(text)
                assert error["error"] and error["message"]  # says what is wrong
            assert not find_leaks(text.encode()) or resp.status < 400
    assert results["/hooks/ext"][0] in allowed | {202}, results
    print(f"\nHOSTILE http/{name}: {results}")


def _as_check(body: bytes) -> bytes:
    """The same hostile fragment inside a check-API draft (kept as bytes: it may not be valid JSON)."""
    if body.startswith(b'{"text": '):
        return b'{"channel": "email", "to": ["bob@partner.net"], ' + body[1:]
    return body


async def test_review_api_bodies_are_refused_cleanly(start_guard: GuardFactory) -> None:
    """The quarantine API's JSON bodies: deep nesting and huge numbers are 400s, not 500s."""
    import hashlib

    token = "tok-reliability-reviewer"
    guard = await start_guard(
        smtp={"enabled": False},
        review={
            "api_tokens": [
                {"name": "r", "token_sha256": hashlib.sha256(token.encode()).hexdigest(), "role": "reviewer"}
            ]
        },
    )
    from tests.quarantine_helpers import mail_item

    item_id = await guard.services.store.put(mail_item())
    statuses = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        for name, body in (
            ("deep", b"[" * 100_000 + b"]" * 100_000),
            ("bigint", b'{"reason": ' + b"1" * 5000 + b"}"),
            ("array", b"[]"),
            ("bad", b"{nope"),
        ):
            async with http.post(
                guard.url(f"/api/v1/quarantine/{item_id}/reject"),
                data=io.BytesIO(body),
                headers={"Content-Type": "application/json"},
            ) as resp:
                statuses[name] = resp.status
                assert resp.status == 400, (name, resp.status, await resp.text())
    assert (await guard.services.store.summary(item_id)).status.value == "held"
    print(f"\nHOSTILE review-api: {statuses}")


# -- header injection --------------------------------------------------------------------------------
INJECTIONS = [
    "bob@partner.net\r\nBcc: evil@attacker.test",
    "bob@partner.net\nBcc: evil@attacker.test",
    "bob@partner.net\rBcc: evil@attacker.test",
    "<bob@partner.net>\r\n\r\nInjected body",
    "bob@partner.net%0d%0aBcc:evil@attacker.test",
]


async def test_crlf_in_check_api_addresses_and_subject(http_guard: tuple[Guard, FakeWebhook]) -> None:
    guard, _ = http_guard
    answers = []
    async with aiohttp.ClientSession() as http:
        for value in INJECTIONS:
            for draft in (
                {"channel": "email", "to": [value], "subject": "hi", "text": f"card {CARD}"},
                {"channel": "email", "from": value, "to": ["bob@partner.net"], "text": "hi"},
                {
                    "channel": "email",
                    "to": ["bob@partner.net"],
                    "subject": f"refund\r\nBcc: evil@x.test {CARD}",
                    "text": "hi",
                },
            ):
                async with http.post(guard.url("/api/v1/check"), json=draft) as resp:
                    body = await resp.json()
                    answers.append(resp.status)
                    assert resp.status in (200, 400), body
                    if resp.status == 200:
                        # A recipient that is not a clean address is never treated as internal.
                        assert all(r["audience"] == "external" for r in body["recipients"])
                        if CARD in json.dumps(draft):
                            assert body["action"] in ("quarantine", "block"), body
                            assert not find_leaks(
                                json.dumps({k: v for k, v in body.items() if k != "redacted"}).encode()
                            )
    print(f"\nHOSTILE check-api CR/LF: {len(answers)} drafts -> {sorted(set(answers))}")


# -- the check API under hypothesis, against a real `guard serve` ------------------------------------
@pytest.fixture(scope="module")
def served_guard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuardProcess]:
    root: Path = tmp_path_factory.mktemp("rel-served")
    guard = GuardProcess(
        root,
        {
            "smtp": {"enabled": False},
            "chat": {
                "routes": [
                    {
                        "name": "ext",
                        "format": "slack",
                        "audience": "external",
                        "upstream": "http://127.0.0.1:9/services/T/B/X",
                    }
                ]
            },
        },
    )
    guard.start_sync()
    yield guard
    assert guard.stop_sync() == 0
    assert guard.tracebacks() == []
    assert not [
        e for e in guard.log_events() if e.get("event") in ("http_error", "smtp_error", "smtp_exception")
    ]


drafts = st.fixed_dictionaries(
    {},
    optional={
        "channel": st.sampled_from(["email", "chat", "fax"]) | json_scalars,
        "from": st.text(max_size=30) | json_scalars,
        "to": st.lists(st.text(max_size=40), max_size=4) | st.text(max_size=40) | json_scalars,
        "subject": st.text(max_size=60) | json_scalars,
        "text": st.text(max_size=200) | st.sampled_from([f"card {CARD}", f"SSN {SAMPLES[3]}"]) | json_scalars,
        "eml": st.text(max_size=200) | st.just(f"Subject: x\r\n\r\ncard {CARD}\r\n"),
        "route": st.sampled_from(["ext", "nope"]) | json_scalars,
        "payload": json_values,
        "audience": st.sampled_from(["internal", "external", "both"]) | json_scalars,
    },
)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(draft=drafts | json_values)
def test_check_api_fuzz(served_guard: GuardProcess, draft: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served_guard.http_port, timeout=10)
    try:
        conn.request("POST", "/api/v1/check", json.dumps(draft), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status in (200, 400, 404), (resp.status, body)
    if resp.status != 200:
        assert body["error"] and body["message"]
        return
    assert body["action"] in ("allow", "redact", "quarantine", "block")
    # Found values are only ever shown masked (outside the draft's own redacted copy).
    if body["findings"]:
        shown = json.dumps({k: v for k, v in body.items() if k != "redacted"}).encode()
        assert not find_leaks(shown), body
