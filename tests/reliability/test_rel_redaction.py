"""Redaction that cannot leak, through the real SMTP listener, the real chat proxy and the real
check API (issue 11 item 5).

A policy whose external rows redact cards and credentials (the shipped one blocks or holds
them) makes the guard redact; each row writes a value generated here into one place a
recipient can see, sends it, and expects it relayed with the value gone from every header,
file name, part and forwarded message (or, where it cannot be masked in place, held). Each
row's clean control has the same shape without the value and must arrive unchanged. The
check API loop sends every positive case of the repository's corpora (the evasion table and
the places below) and expects its redacted draft to carry none of the masked types.
docs/reliability.md ("Every byte a recipient can see") quotes the counts printed here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from guard.config import load_settings
from guard.inspection import Inspector
from guard.testing import SmtpSink
from guard.testing_webhook import FakeWebhook
from tests.inspection.inspection_builders import pdf_with_text
from tests.inspection.redact_cases import (
    EXTERNAL,
    PLACES,
    SENDER,
    aws_pair,
    display_name_mail,
    filename_mail,
    forwarded_subject_mail,
    header_mail,
    leaks,
    luhn_card,
    pdf_attachment_mail,
    subject_mail,
    visible,
)
from tests.reliability.conftest import Guard, GuardFactory
from tests.reliability.evasion_cases import CASES
from tests.reliability.relkit import smtp_attempt

CARD = luhn_card()
KEY_ID, SECRET = aws_pair()
REDACT_POLICY = """
version: 1
rows:
  - {id: internal-allow, when: {audience: internal}, action: allow}
  - {id: external-unscannable, when: {audience: external, types: [UNSCANNABLE]}, action: quarantine}
  - {id: external-credential-redact, when: {audience: external, categories: [credential]}, action: redact}
  - {id: external-card-redact, when: {audience: external, types: [CREDIT_CARD]}, action: redact}
  - {id: external-high-risk, when: {audience: external, types: [US_SSN, IBAN, US_BANK_ACCOUNT, PASSPORT]},
     action: quarantine}
  - {id: default-allow, when: {}, action: allow}
"""


@pytest.fixture(scope="module")
def redact_inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    tmp = tmp_path_factory.mktemp("redact-policy")
    policy = tmp / "policy.yaml"
    policy.write_text(REDACT_POLICY, encoding="utf-8")
    settings = load_settings(
        None, data_dir=str(tmp), rules={"hash_key": "test-hash-key", "policy": str(policy)}
    )
    return Inspector.from_settings(settings)


@dataclass
class Env:
    guard: Guard
    sink: SmtpSink
    hook: FakeWebhook


@pytest.fixture
async def env(start_guard: GuardFactory, sink: SmtpSink, redact_inspector: Inspector) -> AsyncIterator[Env]:
    hook = FakeWebhook("generic")
    await hook.start()
    routes = [
        {"name": name, "format": name, "audience": "external", "upstream": hook.url(f"/{name}")}
        for name in ("generic", "slack", "mattermost")
    ]
    guard = await start_guard(
        inspector=redact_inspector, smtp={"upstream": sink.url}, chat={"routes": routes}
    )
    yield Env(guard, sink, hook)
    await hook.stop()


# -- SMTP: one row per class, each with its clean control ---------------------------------------------
@dataclass(frozen=True)
class MailRow:
    cls: str
    id: str
    build: Callable[[str], bytes]
    value: str  # what the row hides
    control: str = "order 1234 shipped on Monday"


def _pair_mail(text: str) -> bytes:
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, EXTERNAL, "deploy"
    m.set_content(text + "\n")
    return m.as_bytes()


MAIL_ROWS = [
    MailRow("header", "subject", subject_mail, f"card {CARD}"),
    MailRow("header", "x-header", lambda v: header_mail("X-Customer-Note", v), f"card {CARD}"),
    MailRow("header", "comments", lambda v: header_mail("Comments", v), f"card {CARD}"),
    MailRow("header", "display-name+subject", display_name_mail, f"card {CARD}"),
    MailRow("file name", "attachment-name", filename_mail, f"card {CARD}"),
    MailRow("nested message Subject", "forwarded-subject", forwarded_subject_mail, f"card {CARD}"),
    MailRow(
        "pair",
        "aws-key-id-and-secret",
        _pair_mail,
        f"aws_access_key_id={KEY_ID}\naws_secret_access_key={SECRET}",
        control="aws_access_key_id=<ask ops>\naws_secret_access_key=<ask ops>",
    ),
]
COUNTS: dict[str, list[int]] = {}


def _count(cls: str, ok: bool) -> None:
    tried_passed = COUNTS.setdefault(cls, [0, 0])
    tried_passed[0] += 1
    tried_passed[1] += ok


def _secrets_of(row: MailRow) -> list[str]:
    return [KEY_ID, SECRET] if row.cls == "pair" else [CARD]


@pytest.mark.parametrize("row", MAIL_ROWS, ids=[r.id for r in MAIL_ROWS])
async def test_smtp_redacts_every_place(env: Env, row: MailRow) -> None:
    raw = row.build(row.value)
    assert leaks(raw, _secrets_of(row))
    got = await smtp_attempt(env.guard.smtp_port, raw, tag=row.id, kind="redact", rcpts=[EXTERNAL])
    assert got.outcome == "acked", got
    assert len(env.sink.messages) == 1, "redacted, so relayed"
    out = env.sink.messages[0].content
    left = leaks(out, _secrets_of(row))
    _count(row.cls, not left)
    assert left == []
    assert "redacted]" in visible(out)
    # clean control: the same shape without the value arrives as sent (after our trace header)
    control = row.build(row.control)
    got = await smtp_attempt(
        env.guard.smtp_port, control, tag=row.id + "-control", kind="clean", rcpts=[EXTERNAL]
    )
    assert got.outcome == "acked" and len(env.sink.messages) == 2
    assert env.sink.messages[1].content.replace(b"\r\n", b"\n").endswith(control.replace(b"\r\n", b"\n"))


@pytest.mark.redaction_leaks
async def test_smtp_holds_an_attachment_that_cannot_be_redacted(env: Env) -> None:
    raw = pdf_attachment_mail(f"card {CARD}", pdf_with_text)
    got = await smtp_attempt(env.guard.smtp_port, raw, tag="pdf", kind="redact", rcpts=[EXTERNAL])
    assert got.outcome == "acked" and "2.6.0" in got.text, got
    assert env.sink.messages == []
    items = await env.guard.services.store.list()
    assert len(items) == 1 and "instead of redacting" in items[0].explanation
    assert "cannot be redacted in place" in items[0].explanation
    _count("attachment not redactable in place (held)", True)


# -- chat: every field of the payload -----------------------------------------------------------------
CHAT_ROWS: list[tuple[str, str, str, Callable[[str], Any]]] = [
    ("chat field", "slack-text", "slack", lambda v: {"text": v}),
    (
        "chat field",
        "slack-metadata",
        "slack",
        lambda v: {"text": "hi", "metadata": {"event_payload": {"n": v}}},
    ),
    ("chat field", "mattermost-props", "mattermost", lambda v: {"text": "hi", "props": {"card": v}}),
    ("chat field", "generic-key", "generic", lambda v: {"note": {v: "see key"}}),
    (
        "chat field",
        "slack-markup",
        "slack",
        lambda v: {"text": v.replace(" ", " *", 1).replace(" ", "* ", 2)},
    ),
    ("pair", "chat-aws-pair", "generic", lambda v: {"env": v}),
]


@pytest.mark.parametrize("row", CHAT_ROWS, ids=[r[1] for r in CHAT_ROWS])
async def test_chat_redacts_every_field(env: Env, row: tuple[str, str, str, Callable[[str], Any]]) -> None:
    cls, _id, route, build = row
    pair = cls == "pair"
    value = f"id {KEY_ID} secret {SECRET}" if pair else f"card {CARD}"
    hidden = [KEY_ID, SECRET] if pair else [CARD]
    async with aiohttp.ClientSession() as http:
        async with http.post(env.guard.url(f"/hooks/{route}"), json=build(value)) as resp:
            assert resp.status == 200, await resp.text()
        assert len(env.hook.requests) == 1
        sent = env.hook.requests[0].body
        left = leaks(sent, hidden)
        _count(cls, not left)
        assert left == [] and b"redacted]" in sent
        control = json.dumps(build("order 1234 shipped")).encode()
        async with http.post(
            env.guard.url(f"/hooks/{route}"), data=control, headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 200
        assert json.loads(env.hook.requests[1].body) == json.loads(control)


# -- the check API: every positive case of the corpora ------------------------------------------------
def _drafts() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for case in CASES:
        if case.missed:
            continue
        if case.channel == "smtp":
            out.append((case.id, {"to": [EXTERNAL], "eml": case.raw.decode("utf-8", "replace")}))
        else:
            route = "generic" if case.channel not in ("slack", "mattermost") else case.channel
            out.append((case.id, {"route": route, "payload": case.payload}))
    for place in PLACES:
        out.append((f"place-{place.name}", {"to": [EXTERNAL], "eml": place.build(f"card {CARD}").decode()}))
    out.append(("pair-text", {"to": [EXTERNAL], "text": f"key {KEY_ID} and secret {SECRET}"}))
    out.append(("pair-subject", {"to": [EXTERNAL], "subject": f"key {KEY_ID}", "text": f"secret {SECRET}"}))
    return out


async def test_check_api_redacted_drafts_carry_no_masked_type(env: Env, tmp_path: Path) -> None:
    tried = found = clean = 0
    failures: list[str] = []
    async with aiohttp.ClientSession() as http:
        for name, draft in _drafts():
            async with http.post(env.guard.url("/api/v1/check"), json=draft) as resp:
                assert resp.status == 200, (name, await resp.text())
                body = await resp.json()
            tried += 1
            types = set(body["redacted_types"])
            if not types:
                continue
            found += 1
            again = {**{k: v for k, v in draft.items() if k in ("to", "route")}, **body["redacted"]}
            async with http.post(env.guard.url("/api/v1/check"), json=again) as resp:
                second = await resp.json()
            left = types & set(second["types"])
            if left or not body["redacted_clean"]:
                failures.append(f"{name}: {sorted(left)} clean={body['redacted_clean']}")
            else:
                clean += 1
    print(f"\ncheck API drafts: {tried} cases, {found} with findings, {clean} redacted clean")
    _count("check API redacted draft", not failures)
    assert not failures, "\n".join(failures)


def test_zz_print_counts() -> None:
    """The table's figures (run with -s)."""
    for cls, (tried, passed) in sorted(COUNTS.items()):
        print(f"redaction {cls}: {passed}/{tried}")


async def test_smtp_notes_a_signature_the_redaction_breaks(env: Env, no_unhandled_exceptions: Any) -> None:
    raw = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; b=AAAA\r\n" + subject_mail(f"card {CARD}")
    got = await smtp_attempt(env.guard.smtp_port, raw, tag="dkim", kind="redact", rcpts=[EXTERNAL])
    assert got.outcome == "acked" and len(env.sink.messages) == 1
    assert leaks(env.sink.messages[0].content, [CARD]) == []
    events = [getattr(r, "event", None) for r in no_unhandled_exceptions.records]
    assert "smtp_redacted_signature" in events
