"""The guard as a relay, end to end: smtplib/aiosmtplib -> guard (full inspection) -> sink."""

from __future__ import annotations

import aiosmtplib

from guard.store.base import Status
from guard.testing import SmtpSink, build_message
from tests.smtp.conftest import GuardFactory
from tests.smtp.helpers import AWS_KEY, CARD, EXTERNAL, INTERNAL, SENDER, LogCapture, contains_value, send


def _strip_trace(content: bytes) -> tuple[bytes, bytes]:
    """Split the guard's Received: header (first, folded) from the rest."""
    assert content.startswith(b"Received: from ")
    lines = content.split(b"\r\n")
    n = 1
    while lines[n].startswith(b"\t"):
        n += 1
    return b"\r\n".join(lines[:n]) + b"\r\n", b"\r\n".join(lines[n:])


async def test_clean_message_is_relayed_byte_for_byte_with_a_trace_header(
    start_guard: GuardFactory, sink: SmtpSink, logs: LogCapture
) -> None:
    guard = await start_guard(hostname="guard.example.com")
    raw = build_message(to=EXTERNAL, body="See you at the meeting on Tuesday.\n")
    sent = await send(guard.port, raw)
    assert sent.error is None
    [got] = await sink.wait_for(1)
    trace, rest = _strip_trace(got.content)
    assert rest == raw
    assert got.mail_from == SENDER and got.rcpt_tos == (EXTERNAL,)
    assert b"by guard.example.com (Outbound Guard) with ESMTP id " in trace
    assert f"for <{EXTERNAL}>".encode() in trace
    [line] = logs.events("smtp_decision")
    assert line["action"] == "allow" and line["reply"] == "250" and line["queue_id"].encode() in trace
    assert guard.counter("guard_messages_total", channel="smtp", audience="external", action="allow") == 1


async def test_card_to_external_is_quarantined_with_the_id_in_the_reply(
    start_guard: GuardFactory, sink: SmtpSink, logs: LogCapture
) -> None:
    guard = await start_guard()
    raw = build_message(to=EXTERNAL, subject=f"card {CARD}", body=f"The card is {CARD}, thanks.\n")
    sent = await send(guard.port, raw)
    assert sent.error is None  # 250: a Postfix sender does not bounce it
    assert sink.messages == []
    [line] = logs.events("smtp_decision")
    [delivery] = line["deliveries"]
    item_id = delivery["quarantine_id"]
    item = await guard.services.store.get(item_id)
    assert item.summary.status == Status.HELD
    assert item.summary.recipients == (EXTERNAL,)
    assert item.summary.types == {"CREDIT_CARD": 2}
    assert CARD not in item.summary.subject and "card" in item.summary.subject
    _trace, rest = _strip_trace(item.content)
    assert rest == raw  # the original bytes are kept for release
    assert item.envelope.as_dict()["mail_from"] == SENDER
    assert not contains_value("\n".join(logs.lines), CARD)
    assert guard.counter("guard_findings_total", channel="smtp", type="CREDIT_CARD") == 2


async def test_quarantine_reply_can_be_a_rejection_for_agents(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard(quarantine_reply="reject")
    sent = await send(guard.port, build_message(to=EXTERNAL, body=f"card {CARD}\n"))
    assert sent.code == 550
    assert "Held for security review as " in sent.text and "CREDIT_CARD x1" in sent.text
    assert sink.messages == []


async def test_credential_is_blocked_with_a_reason_but_never_the_value(
    start_guard: GuardFactory, sink: SmtpSink, logs: LogCapture
) -> None:
    guard = await start_guard()
    sent = await send(guard.port, build_message(to=EXTERNAL, body=f"aws key {AWS_KEY} for the export\n"))
    assert sent.code == 550
    assert sent.text.startswith("5.7.1 ")
    assert "API_KEY x1" in sent.text and "external-credential" in sent.text
    assert "revoke" in sent.text  # what to do instead
    assert AWS_KEY not in sent.text and AWS_KEY[4:12] not in sent.text
    assert sink.messages == []
    assert AWS_KEY not in "\n".join(logs.lines)
    assert guard.counter("guard_messages_total", channel="smtp", audience="external", action="block") == 1


async def test_redact_relays_a_masked_copy(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard()
    sent = await send(guard.port, build_message(to=EXTERNAL, body="Date of birth: 03/14/1985\n"))
    assert sent.error is None
    [got] = await sink.wait_for(1)
    assert b"03/14/1985" not in got.content and b"1985" not in got.content
    assert b"DATE_OF_BIRTH" in got.content
    assert got.content.startswith(b"Received: ")


async def test_mixed_recipients_split_internal_out_external_held_one_reply(
    start_guard: GuardFactory, sink: SmtpSink, logs: LogCapture
) -> None:
    guard = await start_guard()
    raw = build_message(to=[INTERNAL, EXTERNAL], body=f"card {CARD}\n")
    sent = await send(guard.port, raw, rcpts=(INTERNAL, EXTERNAL))
    assert sent.error is None and sent.refused == {}
    [got] = await sink.wait_for(1)
    assert got.rcpt_tos == (INTERNAL,)
    assert _strip_trace(got.content)[1] == raw  # the internal copy is unchanged
    [line] = logs.events("smtp_decision")
    held = [d for d in line["deliveries"] if d["action"] == "quarantine"]
    item = await guard.services.store.summary(held[0]["quarantine_id"])
    assert item.recipients == (EXTERNAL,)
    assert guard.counter("guard_messages_total", channel="smtp", audience="internal", action="allow") == 1
    assert (
        guard.counter("guard_messages_total", channel="smtp", audience="external", action="quarantine") == 1
    )
    assert guard.counter("guard_findings_total", channel="smtp", type="CREDIT_CARD") == 1


async def test_mixed_recipients_block_still_delivers_internal_and_says_so(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard()
    sent = await send(guard.port, build_message(body=f"key {AWS_KEY}\n"), rcpts=(INTERNAL, EXTERNAL))
    assert sent.code == 550
    assert "Already delivered to 1 internal recipient" in sent.text
    [got] = await sink.wait_for(1)
    assert got.rcpt_tos == (INTERNAL,)


async def test_null_sender_bounce_is_relayed(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard()
    bounce = build_message(sender="MAILER-DAEMON@example.com", to=SENDER, subject="Undelivered Mail")
    sent = await send(guard.port, bounce, sender="<>", rcpts=(SENDER,))
    assert sent.error is None
    [got] = await sink.wait_for(1)
    assert got.mail_from == "<>"


async def test_smtputf8_and_8bitmime_survive_the_relay(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard()
    raw = "From: jörg@example.com\r\nTo: zoë@exämple.net\r\nSubject: grüße\r\n\r\nSchöne Grüße\r\n".encode()
    sent = await send(
        guard.port,
        raw,
        sender="jörg@example.com",
        rcpts=("zoë@exämple.net",),
        mail_options=("SMTPUTF8", "BODY=8BITMIME"),
    )
    assert sent.error is None
    [got] = await sink.wait_for(1)
    assert got.mail_from == "jörg@example.com" and got.rcpt_tos == ("zoë@exämple.net",)
    assert "SMTPUTF8" in got.mail_options and "BODY=8BITMIME" in got.mail_options
    assert _strip_trace(got.content)[1] == raw
    assert b"with UTF8SMTP id" in got.content


async def test_aiosmtplib_client_and_connection_reuse(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=guard.port, start_tls=False) as client:
        for i in range(3):
            errors, reply = await client.sendmail(
                SENDER, [EXTERNAL], build_message(to=EXTERNAL, subject=f"n{i}")
            )
            assert errors == {} and "guard id" in reply
        try:
            await client.sendmail(SENDER, [EXTERNAL], build_message(to=EXTERNAL, body=f"key {AWS_KEY}\n"))
            raise AssertionError("a blocked message must be refused")
        except aiosmtplib.SMTPDataError as exc:
            assert exc.code == 550 and "API_KEY" in exc.message
        # Blocks do not count against the per-connection error budget; the session goes on.
        await client.sendmail(SENDER, [EXTERNAL], build_message(to=EXTERNAL, subject="after"))
    assert len(await sink.wait_for(4)) == 4
    assert sink.connections == 1  # the guard reused its upstream connection too
