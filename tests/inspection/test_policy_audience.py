"""Audience classification and the default policy table."""

from __future__ import annotations

import pytest

from guard.inspection import Inspector
from guard.inspection.audience import AudienceClassifier
from guard.model import Action, Audience, Channel, OutboundMessage

CLS = AudienceClassifier(["example.com", "bücher.de"])


@pytest.mark.parametrize(
    ("address", "audience", "lookalike"),
    [
        ("anna@example.com", Audience.INTERNAL, None),
        ("Anna@EXAMPLE.COM.", Audience.INTERNAL, None),
        ("<ops@mail.eu.example.com>", Audience.INTERNAL, None),
        ("x@notexample.com", Audience.EXTERNAL, None),
        ("x@examp1e.com", Audience.EXTERNAL, "example.com"),
        ("x@exarnple.com", Audience.EXTERNAL, "example.com"),
        ("x@ехample.com", Audience.EXTERNAL, "example.com"),  # Cyrillic е and х
        ("x@example.com.evil.net", Audience.EXTERNAL, None),
        ("x@xn--bcher-kva.de", Audience.INTERNAL, None),
        ("x@bücher.de", Audience.INTERNAL, None),
        ("user%evil.net@example.com", Audience.EXTERNAL, None),  # percent hack
        ("evil.net!user@example.com", Audience.EXTERNAL, None),  # bang path
        ("@example.com:user@evil.net", Audience.EXTERNAL, None),  # source route
        ("user@example.com@evil.net", Audience.EXTERNAL, None),
    ],
)
def test_classify(address: str, audience: Audience, lookalike: str | None) -> None:
    rc = CLS.classify(address)
    assert rc.audience is audience
    if lookalike is not None:
        assert rc.lookalike_of == lookalike


def _decide(inspector: Inspector, text: str, *recipients: str) -> tuple[Action, tuple[str, ...], str]:
    v = inspector.inspect(OutboundMessage(channel=Channel.SMTP, text=text, recipients=recipients))
    return v.action, v.rows, v.explanation


@pytest.mark.parametrize(
    ("text", "to", "action", "row"),
    [
        ("card 4111 1111 1111 1111", "a@example.com", Action.ALLOW, "internal-allow"),
        ("card 4111 1111 1111 1111", "a@customer.net", Action.QUARANTINE, "external-high-risk"),
        ("SSN 591-68-1251", "a@customer.net", Action.QUARANTINE, "external-high-risk"),
        ("aws key AKIA2E5RYT7QKVN3WX4H", "a@customer.net", Action.BLOCK, "external-credential"),
        ("DOB: 22.11.1978", "a@customer.net", Action.REDACT, "external-identity-details"),
        ("call me at +1-801-234-5703, anna@customer.net", "a@customer.net", Action.ALLOW, "default-allow"),
        ("hello there", "a@customer.net", Action.ALLOW, "default-allow"),
        ("card 4111 1111 1111 1111", "a@examp1e.com", Action.BLOCK, "external-lookalike-domain"),
        # a checksum-valid look-alike labelled as an order number: masked, not held for review
        (
            "order no. 4111 1111 1111 1111",
            "a@customer.net",
            Action.REDACT,
            "external-high-risk-low-confidence",
        ),
    ],
)
def test_default_policy(inspector: Inspector, text: str, to: str, action: Action, row: str) -> None:
    got, rows, explanation = _decide(inspector, text, to)
    assert got is action, explanation
    assert rows[0] == row


def test_bulk_records_are_blocked(inspector: Inspector) -> None:
    cards = [
        "4111 1111 1111 1111",
        "5500 0000 0000 0004",
        "3400 0000 0000 009",
        "6011 0000 0000 0004",
        "4012 8888 8888 1881",
    ]
    text = "name,card\n" + "\n".join(f"Customer {i},{c}" for i, c in enumerate(cards))
    action, rows, explanation = _decide(inspector, text, "x@customer.net")
    assert action is Action.BLOCK and rows[0] == "external-bulk-records"
    assert "data transfer service" in explanation


def test_mixed_recipients_decide_per_audience(inspector: Inspector) -> None:
    v = inspector.inspect(
        OutboundMessage(
            channel=Channel.SMTP,
            text="card 4111 1111 1111 1111",
            recipients=("a@example.com", "b@customer.net"),
        )
    )
    assert v.audience is Audience.EXTERNAL and v.action is Action.QUARANTINE
    assert v.decisions[Audience.INTERNAL].action is Action.ALLOW
    assert [r.audience for r in v.recipients] == [Audience.INTERNAL, Audience.EXTERNAL]


def test_explanation_never_contains_the_value(inspector: Inspector) -> None:
    for text in ("card 4111 1111 1111 1111", "SSN 591-68-1251", "key AKIA2E5RYT7QKVN3WX4H"):
        v = inspector.inspect(OutboundMessage(channel=Channel.API, text=text, audience=Audience.EXTERNAL))
        blob = repr(v.summary()) + repr([f.as_dict() for f in v.findings])
        for secret in (
            "4111 1111 1111 1111",
            "4111111111111111",
            "591-68-1251",
            "591681251",
            "AKIA2E5RYT7QKVN3WX4H",
        ):
            assert secret not in blob
        assert "What to do" in v.explanation


def test_no_recipients_means_external(inspector: Inspector) -> None:
    v = inspector.inspect(OutboundMessage(channel=Channel.API, text="SSN 591-68-1251"))
    assert v.audience is Audience.EXTERNAL


def test_redact_text_and_message(inspector: Inspector) -> None:
    text = "card 4111 1111 1111 1111 and SSN 591-68-1251, thanks"
    red = inspector.redact_text(text)
    assert "4111" not in red and "591-68" not in red and red.endswith(", thanks")
    raw = (
        b"From: a@example.com\r\nTo: b@customer.net\r\nSubject: SSN 591-68-1251\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode() + b"\r\n"
    )
    out = inspector.redact_message(raw)
    assert b"4111" not in out and b"591-68" not in out and b"[CREDIT_CARD redacted]" in out
    again = inspector.inspect(OutboundMessage(channel=Channel.SMTP, raw=out, recipients=("b@customer.net",)))
    assert not [f for f in again.findings if f.type in ("CREDIT_CARD", "US_SSN")]


def test_redact_json(inspector: Inspector) -> None:
    payload = {"text": "card 4111 1111 1111 1111", "blocks": [{"text": {"text": "SSN 591-68-1251"}}], "n": 3}
    out = inspector.redact_json(payload)
    assert "4111" not in repr(out) and "591-68" not in repr(out) and out["n"] == 3


def test_min_confidence_counts_only_findings_at_or_above_it(tmp_path: object) -> None:
    from pathlib import Path

    from guard.inspection.policy import Policy
    from guard.model import Finding

    assert isinstance(tmp_path, Path)
    path = tmp_path / "policy.yaml"
    path.write_text(
        "rows:\n"
        "  - {id: hold, when: {types: [CREDIT_CARD], min_confidence: medium}, action: quarantine}\n"
        "  - {id: mask, when: {types: [CREDIT_CARD]}, action: redact}\n"
        "  - {id: rest, action: allow}\n"
    )
    policy = Policy.load(path)

    def card(level: str) -> Finding:
        return Finding("CREDIT_CARD", "pci", 0, 4, 0.5, "X", "****", "h:x", confidence=level)

    assert policy.decide([card("low")], Audience.EXTERNAL).rows[0] == "mask"
    assert policy.decide([card("medium")], Audience.EXTERNAL).rows[0] == "hold"
    assert policy.decide([card("high"), card("low")], Audience.EXTERNAL).rows[0] == "hold"
