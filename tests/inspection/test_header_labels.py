"""A machine-written header is read with its name: the name labels the value (an id under X-Request-Id
is not a pasted credential) and cues it (a token under X-Api-Key is one)."""

from __future__ import annotations

import secrets
import string

from guard.inspection import Inspector
from guard.model import Channel, OutboundMessage


def _message(headers: dict[str, str], body: str = "See you on Monday.\n") -> OutboundMessage:
    lines = ["From: alice@example.com", "To: bob@customer.example", "Subject: notes"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
    return OutboundMessage(channel=Channel.API, raw=raw, recipients=("bob@customer.example",))


def _random_token(n: int = 40) -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        token = "".join(secrets.choice(alphabet) for _ in range(n))
        if (
            any(c.isdigit() for c in token)
            and any(c.isupper() for c in token)
            and any(c.islower() for c in token)
        ):
            return token


def test_an_id_under_its_own_header_name_is_not_a_lone_token(inspector: Inspector) -> None:
    headers = {
        "X-Request-Id": secrets.token_hex(16),
        "X-Correlation-ID": "4f6b1c2e-9a0d-4c3b-8e7f-0a1b2c3d4e5f",
        "X-Campaign": secrets.token_hex(20),
    }
    verdict = inspector.inspect(_message(headers))
    assert [f.type for f in verdict.findings if f.type == "API_KEY"] == []


def test_a_token_under_a_key_header_is_found_with_offsets_in_the_value(inspector: Inspector) -> None:
    token = _random_token()
    verdict = inspector.inspect(_message({"X-Api-Key": token}))
    [found] = [f for f in verdict.findings if f.type == "API_KEY"]
    segment = verdict.segments[found.segment]
    assert segment.label == "X-Api-Key"
    assert segment.text[found.start : found.end] == token


def test_a_subject_is_no_label(inspector: Inspector) -> None:
    # A person writes a subject: an ABA routing number that is the whole subject stands alone.
    routing = "011000015"  # the Federal Reserve Bank of Boston's published routing number
    raw = f"From: a@example.com\r\nTo: b@customer.example\r\nSubject: {routing}\r\n\r\nhi\r\n"
    message = OutboundMessage(channel=Channel.API, raw=raw.encode(), recipients=("b@customer.example",))
    assert [f.type for f in inspector.inspect(message).findings] == ["ABA_ROUTING"]
