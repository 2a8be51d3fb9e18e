"""Nothing is acknowledged and lost, nothing leaves unchecked: upstream failures, inspection
failures, malformed MIME, disconnects and timeouts."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from guard.app import Services
from guard.model import OutboundMessage, Verdict
from guard.testing import SmtpSink, build_message
from tests.conftest import free_port
from tests.smtp.conftest import GuardFactory
from tests.smtp.helpers import CARD, EXTERNAL, INTERNAL, LogCapture, contains_value, send

RAW = build_message(to=EXTERNAL, body="hello\n")


async def test_upstream_tempfail_becomes_451_and_the_retry_goes_through(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard()
    sink.fail_with("451 4.3.0 upstream busy")
    sent = await send(guard.port, RAW)
    assert sent.code == 451 and sent.text.startswith(
        "4.4.0 upstream deferred the message: 451 4.3.0 upstream busy"
    )
    assert sink.messages == []
    assert guard.counter("guard_upstream_replies_total", channel="smtp", **{"class": "4xx"}) == 1
    sent = await send(guard.port, RAW)
    assert sent.error is None and len(await sink.wait_for(1)) == 1


async def test_upstream_rejection_keeps_its_5xx_class(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard()
    sink.fail_with("552 5.3.4 message too big for the upstream")
    sent = await send(guard.port, RAW)
    assert sent.code == 552 and sent.text.startswith("5.3.4 ")
    assert guard.counter("guard_upstream_replies_total", channel="smtp", **{"class": "5xx"}) == 1


async def test_upstream_down_is_451_4_4_1(start_guard: GuardFactory) -> None:
    guard = await start_guard(upstream=f"smtp://127.0.0.1:{free_port()}")
    sent = await send(guard.port, RAW)
    assert sent.code == 451 and sent.text.startswith("4.4.1 ")
    assert guard.counter("guard_upstream_replies_total", channel="smtp", **{"class": "error"}) == 1
    assert guard.counter("guard_upstream_up", channel="smtp") == 0


class _BrokenInspector:
    """Delegates to the real inspector but fails on inspect(), as a bug in a rule would."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def inspect(self, message: OutboundMessage) -> Verdict:
        raise UnicodeDecodeError("utf-8", CARD.encode(), 0, 1, "simulated bug")


def _break_inspector(services: Services) -> None:
    services.inspector = _BrokenInspector(services.inspector)  # type: ignore[assignment]


async def test_inspection_error_fails_closed_with_451(
    start_guard: GuardFactory, sink: SmtpSink, logs: LogCapture
) -> None:
    guard = await start_guard(services_hook=_break_inspector)
    sent = await send(guard.port, RAW)
    assert sent.code == 451 and sent.text.startswith("4.3.0 ")
    assert sink.messages == []
    assert guard.counter("guard_inspection_errors_total", channel="smtp") == 1
    [line] = logs.events("smtp_inspection_failed")
    assert line["error"] == "UnicodeDecodeError"
    assert not contains_value("\n".join(logs.lines), CARD)


async def test_unexpected_error_in_delivery_is_451_not_a_permanent_500(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard()

    async def broken(mail: Any) -> Any:
        raise RuntimeError("bug")

    guard.services.mail_forwarder.deliver = broken  # type: ignore[method-assign]
    sent = await send(guard.port, RAW)
    assert sent.code == 451 and sent.text.startswith("4.3.0 ")


async def test_store_failure_is_451_and_internal_copy_went_out(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard()
    await guard.services.store.close()  # the store is gone: put() fails
    sent = await send(guard.port, build_message(body=f"card {CARD}\n"), rcpts=(INTERNAL, EXTERNAL))
    assert sent.code == 451 and sent.text.startswith("4.3.0 ")
    # Relays run before the store commit; the client retries the whole message (duplicate, never loss).
    [got] = await sink.wait_for(1)
    assert got.rcpt_tos == (INTERNAL,)
    await guard.services.store.open()


MALFORMED = [
    # multipart with a boundary that never closes and a broken base64 part
    (
        b"From: a@example.com\r\nTo: bob@partner.net\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="BND"\r\n\r\n--BND\r\nContent-Type: text/plain\r\n\r\n'
        b"card " + CARD.encode() + b"\r\n--BND\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64###\r\n"
    ),
    # no header/body separator: the body starts with a line that is not a header
    (b"From: a@example.com\r\nTo: bob@partner.net\r\ncard " + CARD.encode() + b"\r\nmore text\r\n"),
    # broken base64 padding and trailing garbage around an encoded card
    (
        b"From: a@example.com\r\nTo: bob@partner.net\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nY2FyZCA0MTExIDExMTEgMTExMSAxMTEx!!\r\n"
    ),
    # declared quoted-printable with soft line breaks splitting the number
    (
        b"From: a@example.com\r\nTo: bob@partner.net\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncard 4111 1111 =\r\n1111 1111\r\n"
    ),
    # a wrong charset label over 8-bit bytes
    (
        b"From: a@example.com\r\nTo: bob@partner.net\r\nContent-Type: text/plain; charset=klingon\r\n\r\n"
        b"\xff\xfe card " + CARD.encode() + b"\r\n"
    ),
]


async def test_malformed_mime_is_inspected_or_tempfailed_never_relayed_unchecked(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard()
    for raw in MALFORMED:
        sent = await send(guard.port, raw)
        assert sent.code in (250, 451), sent.text
    for got in sink.messages:
        assert b"1111 1111" not in got.content and b"1111 =\r\n1111" not in got.content
    assert sink.messages == []  # each one was held (or tempfailed): the card was found


async def test_large_message_is_inspected_off_the_loop(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard()
    body = ("Quarterly notes, nothing special here.\n" * 8000) + f"card {CARD}\n"
    sent = await send(guard.port, build_message(to=EXTERNAL, body=body))
    assert sent.error is None  # held, 250 2.6.0
    assert sink.messages == []


async def test_client_disconnect_after_data_does_not_cut_off_the_relay(
    start_guard: GuardFactory, sink: SmtpSink, logs: LogCapture
) -> None:
    guard = await start_guard()
    sink.delay_s = 0.5

    def send_and_vanish() -> None:
        with socket.create_connection(("127.0.0.1", guard.port), timeout=5) as s, s.makefile("rb") as f:
            f.readline()
            for line in (
                b"EHLO c.test",
                b"MAIL FROM:<alice@example.com>",
                b"RCPT TO:<bob@partner.net>",
                b"DATA",
            ):
                s.sendall(line + b"\r\n")
                while f.readline()[3:4] == b"-":
                    pass
            s.sendall(RAW + b".\r\n")
            # gone before the reply: aiosmtpd cancels handle_DATA, the shielded relay goes on

    await asyncio.to_thread(send_and_vanish)
    [got] = await sink.wait_for(1, timeout=5)
    assert got.rcpt_tos == (EXTERNAL,)
    for _ in range(50):
        if logs.events("smtp_decision"):
            break
        await asyncio.sleep(0.05)
    assert logs.events("smtp_decision")[0]["reply"] == "250"


async def test_a_slow_upstream_tempfails_before_the_session_timeout(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard(session_timeout_s=2.0)  # upstream budget: half of it
    sink.delay_s = 3.0
    sent = await send(guard.port, RAW, timeout=10)
    assert sent.code == 451 and sent.text.startswith("4.4.2 ")  # a reply, not a dropped connection


async def test_no_upstream_delivers_to_the_local_maildir(start_guard: GuardFactory, tmp_path: Path) -> None:
    guard = await start_guard(upstream="")
    sent = await send(guard.port, RAW)
    assert sent.error is None
    maildir = Path(guard.settings.data_dir) / "maildir" / "new"
    [name] = list(maildir.iterdir())
    data = name.read_bytes()
    assert data.startswith(b"Return-Path: <alice@example.com>\r\nEnvelope-To: bob@partner.net\r\nReceived: ")
    assert data.endswith(RAW)


async def test_empty_and_odd_messages_get_a_definite_reply(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard()
    odd = [
        b"",  # DATA with nothing before the final dot
        b"no headers at all, just text\r\n",
        b"Subject: nul\x00byte and bare\nLF inside\r\n\r\nbody\r\n",
        b"Subject: \xff\xfe raw 8-bit header\r\n\r\n\x80\x81 body\r\n",
    ]
    for raw in odd:
        sent = await send(guard.port, raw)
        assert sent.code in (250, 451), (raw, sent.text)
    assert all(m.content.startswith(b"Received: ") for m in sink.messages)
