"""One severity rule and one quarantine-item builder for every channel."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from guard.actions import Actions, leaves_loop
from guard.config import Settings
from guard.delivery.smtp import build_mail_forwarder
from guard.delivery.webhook import WebhookForwarder
from guard.inspection import Inspector
from guard.metrics import Metrics
from guard.model import Action, Audience, Channel, Decision, Finding, OutboundMessage, Segment, Verdict
from guard.store.records import ChatEnvelope, MailEnvelope


def _verdict(*types: str) -> Verdict:
    findings = tuple(
        Finding(type=t, category="x", start=0, end=4, score=0.9, detector="d", preview="****", value_hash="h")
        for t in types
    )
    decision = Decision(Action.QUARANTINE, ("row",), "held")
    return Verdict(
        Action.QUARANTINE,
        Audience.EXTERNAL,
        {Audience.EXTERNAL: decision},
        findings,
        (Segment("text", "body"),),
    )


@pytest.fixture(scope="module")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    from guard.config import load_settings

    data = tmp_path_factory.mktemp("actions")
    return Inspector.from_settings(load_settings(None, data_dir=str(data), rules={"hash_key": "k"}))


@pytest.mark.parametrize(
    ("types", "expected"),
    [(("CREDIT_CARD", "EMAIL"), "high"), (("US_SSN",), "high"), (("EMAIL", "PHONE"), "medium"), ((), "low")],
)
def test_one_severity_rule_for_smtp_and_chat_items(
    make_settings: Callable[..., Settings], inspector: Inspector, types: tuple[str, ...], expected: str
) -> None:
    """Before, SMTP items were "high" or "medium" (never "low") by one rule and chat items
    high/medium/low by another; now both take the rules' severity table."""
    settings = make_settings()
    actions = Actions(
        settings,
        inspector,
        None,  # type: ignore[arg-type]  # building items touches no store
        Metrics(),
        logging.getLogger("test"),
        mail=build_mail_forwarder(settings),
        webhook=WebhookForwarder(1.0),
    )
    verdict = _verdict(*types)
    common = {"recipients": (), "route": None, "content": b"x"}
    mail = actions.new_item(
        verdict,
        verdict.decision,
        channel="smtp",
        sender="a@example.com",
        envelope=MailEnvelope("a@example.com"),
        **common,
    )
    chat = actions.new_item(
        verdict, verdict.decision, channel="chat", sender="", envelope=ChatEnvelope("r"), **common
    )
    assert inspector.severity(verdict.counts()) == mail.severity == chat.severity == expected


def test_one_rule_for_leaving_the_event_loop() -> None:
    small = OutboundMessage(channel=Channel.API, text="hello")
    assert not leaves_loop(small)
    assert leaves_loop(OutboundMessage(channel=Channel.CHAT, text="x" * 70_000))
    # a few KiB of base64 can cost seconds: off the loop whatever the size, for every adapter
    b64 = b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\n"
    assert leaves_loop(OutboundMessage(channel=Channel.API, raw=b64))
    assert leaves_loop(OutboundMessage(channel=Channel.SMTP, raw=b64))
    # an image sent as 8bit/binary is read by OCR (seconds): off the loop too
    png = b"Content-Type: image/png\r\nContent-Transfer-Encoding: binary\r\n\r\n\x89PNG\r\n\x1a\n"
    assert leaves_loop(OutboundMessage(channel=Channel.SMTP, raw=png))
