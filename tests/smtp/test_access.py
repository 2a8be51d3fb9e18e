"""Who may relay, AUTH, TLS, and per-connection limits, with real clients on loopback."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import time

import pytest

from guard.smtp.auth import hash_password
from guard.testing import SmtpSink, build_message
from tests.smtp.conftest import Certs, GuardFactory
from tests.smtp.helpers import EXTERNAL, INTERNAL, send

USERS = [
    {"name": "agent", "password_hash": hash_password("s3cret")},
    {"name": "legacy", "password_hash": hash_password("0ld", "bcrypt")},
]
RAW = build_message(to=EXTERNAL, body="hello\n")


def _ehlo(port: int, *, starttls: object = None) -> tuple[str, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as c:
        _code, text = c.ehlo("client.test")
        before = text.decode()
        after = ""
        if starttls is not None:
            c.starttls(context=starttls)  # type: ignore[arg-type]
            after = c.ehlo("client.test")[1].decode()
        return before, after


async def test_ehlo_advertises_the_extensions(start_guard: GuardFactory) -> None:
    guard = await start_guard(max_message_bytes=1_000_000)
    before, _ = await asyncio.to_thread(_ehlo, guard.port)
    for ext in ("SIZE 1000000", "8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES"):
        assert ext in before
    assert "AUTH" not in before and "STARTTLS" not in before  # no users, no certificate


async def test_client_outside_relay_networks_is_refused_at_rcpt(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard(relay_networks=["192.0.2.0/24"])
    for rcpt in (EXTERNAL, INTERNAL):
        sent = await send(guard.port, RAW, rcpts=(rcpt,))
        assert sent.code == 550 and sent.text.startswith("5.7.1 Relaying denied")
    assert sink.messages == []
    assert guard.counter("guard_smtp_relay_denied_total") == 2


async def test_auth_permits_relay_from_anywhere(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard(relay_networks=[], users=USERS)
    sent = await send(guard.port, RAW, login=("agent", "s3cret"))  # clear-text AUTH is fine on loopback
    assert sent.error is None
    sent = await send(guard.port, RAW, login=("legacy", "0ld"))  # bcrypt hash
    assert sent.error is None
    assert len(await sink.wait_for(2)) == 2
    assert b"with ESMTPA id" in sink.messages[0].content


async def test_failed_auth_is_answered_535_not_left_hanging(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard(relay_networks=[], users=USERS)
    started = time.monotonic()
    for user, password in (("agent", "wrong"), ("nobody", "s3cret")):
        sent = await send(guard.port, RAW, login=(user, password), timeout=5)
        assert sent.code == 535 and "5.7.8" in sent.text
    assert time.monotonic() - started < 4
    assert guard.counter("guard_smtp_auth_failures_total") == 4  # smtplib tries PLAIN, then LOGIN
    assert sink.messages == []


async def test_auth_login_mechanism(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard(relay_networks=[], users=USERS)

    def run() -> None:
        with smtplib.SMTP("127.0.0.1", guard.port, timeout=5) as c:
            c.ehlo("client.test")
            c.user, c.password = "agent", "s3cret"
            code, _ = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
            assert code == 235
            c.sendmail("alice@example.com", [EXTERNAL], RAW)

    await asyncio.to_thread(run)
    assert len(await sink.wait_for(1)) == 1


async def test_starttls_then_auth_with_smtplib(
    start_guard: GuardFactory, sink: SmtpSink, certs: Certs
) -> None:
    guard = await start_guard(
        relay_networks=[], users=USERS, tls_cert=str(certs.cert_file), tls_key=str(certs.key_file)
    )
    before, after = await asyncio.to_thread(_ehlo, guard.port, starttls=certs.client_context())
    assert "STARTTLS" in before and "STARTTLS" not in after and "AUTH LOGIN PLAIN" in after
    sent = await send(guard.port, RAW, starttls=certs.client_context(), login=("agent", "s3cret"))
    assert sent.error is None
    [got] = await sink.wait_for(1)
    assert b"with ESMTPSA id" in got.content
    assert guard.counter("guard_smtp_connections_total", tls="yes") >= 1


async def test_require_starttls_refuses_mail_in_clear(start_guard: GuardFactory, certs: Certs) -> None:
    guard = await start_guard(
        tls_cert=str(certs.cert_file), tls_key=str(certs.key_file), require_starttls=True
    )
    sent = await send(guard.port, RAW)
    assert sent.code == 530
    sent = await send(guard.port, RAW, starttls=certs.client_context())
    assert sent.error is None


async def test_implicit_tls_listener(start_guard: GuardFactory, sink: SmtpSink, certs: Certs) -> None:
    guard = await start_guard(
        relay_networks=[],
        users=USERS,
        tls_cert=str(certs.cert_file),
        tls_key=str(certs.key_file),
        implicit_tls_listen="127.0.0.1:0",
    )
    sent = await send(guard.tls_port(), RAW, implicit_tls=certs.client_context(), login=("agent", "s3cret"))
    assert sent.error is None
    [got] = await sink.wait_for(1)
    assert b"with ESMTPSA id" in got.content


async def test_oversized_mail_gets_552(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard(max_message_bytes=20_000)
    big = build_message(to=EXTERNAL, body="word " * 8_000)
    sent = await send(guard.port, big)  # smtplib declares SIZE=…: refused at MAIL
    assert sent.code == 552

    def undeclared() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", guard.port, timeout=5) as c:
            c.ehlo("client.test")
            c.mail("alice@example.com")
            c.rcpt(EXTERNAL)
            return c.data(big)  # no SIZE parameter: refused after the final dot

    code, _ = await asyncio.to_thread(undeclared)
    assert code == 552
    assert sink.messages == []


async def test_recipient_limit(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard(max_recipients=2)
    sent = await send(guard.port, RAW, rcpts=("a@partner.net", "b@partner.net", "c@partner.net"))
    assert sent.refused == {
        "c@partner.net": (452, b"4.5.3 Too many recipients; send the rest in another message")
    }
    [got] = await sink.wait_for(1)
    assert got.rcpt_tos == ("a@partner.net", "b@partner.net")


def _raw_session(port: int, lines: list[bytes]) -> list[bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s, s.makefile("rb") as f:
        replies = [f.readline()]
        for line in lines:
            try:
                s.sendall(line + b"\r\n")
            except OSError:
                break
            try:
                reply = f.readline()
            except ConnectionResetError:
                break
            if not reply:
                break
            replies.append(reply)
            while reply[3:4] == b"-":
                reply = f.readline()
        try:
            replies.append(f.read())  # what is left before the server closed
        except ConnectionResetError:
            replies.append(b"")
        return replies


async def test_error_budget_closes_the_connection(start_guard: GuardFactory) -> None:
    guard = await start_guard(max_errors=3)
    replies = await asyncio.to_thread(
        _raw_session,
        guard.port,
        [b"EHLO client.test", b"RCPT TO:<x@partner.net>", b"DATA", b"MAIL", b"NOOP", b"NOOP"],
    )
    assert [r[:3] for r in replies[1:5]] == [b"250", b"503", b"503", b"501"]
    assert replies[5].startswith(b"421 4.7.0 Too many errors")
    assert len(replies) == 7 and replies[6] == b""  # the NOOP after it was never answered


async def test_command_limit(start_guard: GuardFactory) -> None:
    guard = await start_guard(max_commands=3)
    replies = await asyncio.to_thread(_raw_session, guard.port, [b"NOOP"] * 5)
    assert b"421 4.7.0 NOOP sent too many times" in b"".join(replies)


async def test_pipelined_commands_are_answered_in_order(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard()

    def run() -> bytes:
        with socket.create_connection(("127.0.0.1", guard.port), timeout=5) as s, s.makefile("rb") as f:
            f.readline()
            s.sendall(b"EHLO client.test\r\n")
            while f.readline()[3:4] == b"-":
                pass
            s.sendall(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@partner.net>\r\nDATA\r\n")
            out = f.readline() + f.readline() + f.readline()
            s.sendall(RAW + b".\r\nQUIT\r\n")
            return out + f.read()

    out = await asyncio.to_thread(run)
    assert out.startswith(b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 ")
    assert b"\r\n250 2.0.0 Ok: queued as S1 (guard id " in out and out.endswith(b"221 Bye\r\n")
    assert len(await sink.wait_for(1)) == 1


@pytest.mark.parametrize("mode", ["plain", "starttls"])
async def test_connections_are_counted_by_tls(start_guard: GuardFactory, certs: Certs, mode: str) -> None:
    guard = await start_guard(tls_cert=str(certs.cert_file), tls_key=str(certs.key_file))
    await asyncio.to_thread(
        _ehlo, guard.port, starttls=certs.client_context() if mode == "starttls" else None
    )
    label = "yes" if mode == "starttls" else "no"
    for _ in range(50):
        if guard.counter("guard_smtp_connections_total", tls=label) == 1:
            break
        await asyncio.sleep(0.02)
    assert guard.counter("guard_smtp_connections_total", tls=label) == 1
