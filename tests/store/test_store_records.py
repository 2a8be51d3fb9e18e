"""Typed envelopes and findings survive the store (both backends), and old rows still read."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from quarantine_helpers import chat_item, mail_item

from guard.store.records import ChatEnvelope, MailEnvelope, StoredFinding, envelope_from_dict


async def test_typed_envelopes_round_trip(store: Any) -> None:
    mail_env = MailEnvelope(
        mail_from="agent@example.com",
        mail_options=("SMTPUTF8", "BODY=8BITMIME"),
        rcpt_tos=("x@customer.net",),
        queue_id="4F2A1",
        peer="127.0.0.1",
        authenticated=True,
        tls=True,
    )
    chat_env = ChatEnvelope(
        route="support",
        tail="t/1",
        query="wait=1",
        content_type="application/x-www-form-urlencoded",
        format="slack",
        dialect="slack",
        audience="external",
    )
    for new in (replace(mail_item(), envelope=mail_env), replace(chat_item(), envelope=chat_env)):
        item = await store.get(await store.put(new))
        assert type(item.envelope) is type(new.envelope)
        assert item.envelope == new.envelope
        assert item.findings == new.findings and all(isinstance(f, StoredFinding) for f in item.findings)


def test_rows_written_before_the_types_still_read() -> None:
    old = {"mail_from": "a@example.com", "mail_options": ["SMTPUTF8"], "unknown": 1}
    assert envelope_from_dict("smtp", old) == MailEnvelope("a@example.com", ("SMTPUTF8",))
    assert envelope_from_dict("chat", {"route": "r"}) == ChatEnvelope("r")
    finding = StoredFinding.from_dict({"type": "IBAN", "start": "3", "end": 9, "segment": 1})
    assert (finding.start, finding.end, finding.segment, finding.confidence) == (3, 9, 1, "medium")
    assert StoredFinding.from_dict(finding.as_dict()) == finding
