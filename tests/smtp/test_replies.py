"""The one error-to-reply mapping and the verdict replies, as tables."""

from __future__ import annotations

import pytest

from guard.actions import Delivery, Outcome
from guard.delivery.base import Receipt
from guard.errors import InspectionError, StoreError, UnscannableError, UpstreamDeferred, UpstreamRefused
from guard.model import Action, Audience, Decision, Finding, Verdict
from guard.smtp.replies import multiline, reply_for_error, reply_for_outcome


@pytest.mark.parametrize(
    ("error", "prefix"),
    [
        (UpstreamDeferred("upstream unreachable", status="4.4.1"), "451 4.4.1 "),
        (
            UpstreamDeferred("upstream refused the message: 452 4.3.1 full", code=452, status="4.3.1"),
            "451 4.3.1 ",
        ),
        (
            UpstreamRefused("upstream refused the message: 550 5.1.1 no user", code=550, status="5.1.1"),
            "550 5.1.1 ",
        ),
        (UpstreamRefused("odd", code=552, status="5.3.4"), "552 5.3.4 "),
        (InspectionError("boom"), "451 4.3.0 "),
        (UnscannableError("zip bomb"), "451 4.3.0 "),
        (StoreError("sqlite: locked"), "451 4.3.0 "),
        (TimeoutError(), "451 4.4.2 "),
        (RuntimeError("a bug"), "451 4.3.0 "),
        (UnicodeDecodeError("utf-8", b"\xff4111111111111111", 0, 1, "bad"), "451 4.3.0 "),
    ],
)
def test_errors_never_become_2xx_or_a_permanent_500(error: BaseException, prefix: str) -> None:
    reply = reply_for_error(error, "QID1")
    assert reply.startswith(prefix)
    assert "QID1" in reply
    assert "4111" not in reply  # an exception's own text never reaches the client unless it is ours


def test_multiline_replies_are_well_formed() -> None:
    reply = multiline("550", "5.7.1", ["first line", "x" * 900, "caf\u00e9\r\nRCPT TO:<evil@example.org>"])
    lines = reply.split("\r\n")
    assert all(line.startswith("550-5.7.1 ") for line in lines[:-1])
    assert lines[-1].startswith("550 5.7.1 ")
    assert all(len(line) <= 510 for line in lines)
    assert all(line.isascii() for line in lines)
    assert not any(line.startswith("RCPT") for line in lines)


def _finding(type_: str) -> Finding:
    return Finding(
        type=type_, category="x", start=0, end=4, score=0.9, detector="d", preview="****", value_hash="h"
    )


def _verdict(internal: Action, external: Action, *types: str) -> Verdict:
    decisions = {
        Audience.INTERNAL: Decision(internal, ("internal-allow",), "Internal mail may carry this data."),
        Audience.EXTERNAL: Decision(
            external,
            (f"external-{external.value}",),
            "Card numbers may not be emailed to external recipients. Remove the card number or use the "
            "customer portal.",
            advice="Send a payment link instead.",
        ),
    }
    return Verdict(
        action=Action.strictest([internal, external]),
        audience=Audience.EXTERNAL,
        decisions=decisions,
        findings=tuple(_finding(t) for t in types),
        segments=(),
    )


def test_block_reply_names_types_counts_policy_and_advice() -> None:
    verdict = _verdict(Action.ALLOW, Action.BLOCK, "API_KEY", "CREDIT_CARD", "CREDIT_CARD")
    outcome = Outcome(
        "Q1",
        verdict,
        (
            Delivery(
                Action.ALLOW, (Audience.INTERNAL,), ("a@example.com",), receipt=Receipt(250, "2.0.0 Ok")
            ),
            Delivery(Action.BLOCK, (Audience.EXTERNAL,), ("b@example.org", "c@example.org")),
        ),
    )
    reply = reply_for_outcome(outcome)
    assert reply.startswith("550-5.7.1 ")
    assert reply.split("\r\n")[-1].startswith("550 5.7.1 ")
    assert "API_KEY x1, CREDIT_CARD x2" in reply
    assert "external-block" in reply
    assert "customer portal" in reply and "Send a payment link instead." in reply
    assert "2 external recipients" in reply
    assert "Already delivered to 1 internal recipient" in reply


@pytest.mark.parametrize(("mode", "prefix"), [("accept", "250 2.6.0 "), ("reject", "550-5.7.1 ")])
def test_quarantine_reply_carries_the_id(mode: str, prefix: str) -> None:
    verdict = _verdict(Action.ALLOW, Action.QUARANTINE, "CREDIT_CARD")
    outcome = Outcome(
        "Q1",
        verdict,
        (Delivery(Action.QUARANTINE, (Audience.EXTERNAL,), ("b@example.org",), quarantine_id="Q-7F3K2"),),
    )
    reply = reply_for_outcome(outcome, quarantine_reply=mode)
    assert reply.startswith(prefix)
    assert "Held for security review as Q-7F3K2" in reply
    assert "CREDIT_CARD x1" in reply


def test_single_relay_returns_the_upstream_reply_with_our_id() -> None:
    verdict = _verdict(Action.ALLOW, Action.ALLOW)
    outcome = Outcome(
        "Q9",
        verdict,
        (
            Delivery(
                Action.ALLOW,
                (Audience.EXTERNAL,),
                ("b@example.org",),
                receipt=Receipt(250, "2.0.0 Ok: queued as ABC"),
            ),
        ),
    )
    assert reply_for_outcome(outcome) == "250 2.0.0 Ok: queued as ABC (guard id Q9)"
    outcome = Outcome(
        "Q9",
        verdict,
        (Delivery(Action.ALLOW, (Audience.EXTERNAL,), ("b@example.org",), receipt=Receipt(250, "Ok")),),
    )
    assert reply_for_outcome(outcome) == "250 2.0.0 Ok (guard id Q9)"


def test_redacted_relay_says_so() -> None:
    verdict = _verdict(Action.ALLOW, Action.REDACT, "PHONE")
    outcome = Outcome(
        "Q2",
        verdict,
        (
            Delivery(
                Action.ALLOW, (Audience.INTERNAL,), ("a@example.com",), receipt=Receipt(250, "2.0.0 Ok")
            ),
            Delivery(
                Action.REDACT, (Audience.EXTERNAL,), ("b@example.org",), receipt=Receipt(250, "2.0.0 Ok")
            ),
        ),
    )
    reply = reply_for_outcome(outcome)
    assert reply.startswith(
        "250 2.0.0 Relayed to 1 internal recipient as written; 1 external recipient with "
        "sensitive values masked"
    )
