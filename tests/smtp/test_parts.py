"""Small parts of the relay: AUTH user hashes, the trace header, TLS helpers, the test sink."""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path

import pytest

from guard.config import SmtpUser
from guard.errors import ConfigError
from guard.smtp.auth import UserDirectory, hash_password
from guard.smtp.peers import is_loopback
from guard.smtp.tls import generate_self_signed, server_context
from guard.smtp.trace import received_header, with_protocol
from guard.testing import SmtpSink, build_message, filler_text


@pytest.mark.parametrize("scheme", ["argon2", "bcrypt"])
def test_users_verify_argon2_and_bcrypt(scheme: str) -> None:
    users = UserDirectory([SmtpUser(name="agent", password_hash=hash_password("s3cret", scheme))])
    assert users.verify(b"agent", b"s3cret")
    assert not users.verify(b"agent", b"wrong")
    assert not users.verify(b"nobody", b"s3cret")
    assert not users.verify(b"agent", b"x" * 100)  # over bcrypt's 72 bytes: refused, not an error


def test_clear_text_password_in_config_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"smtp.users\[0\].password_hash"):
        UserDirectory([SmtpUser(name="agent", password_hash="s3cret")])


def test_with_protocol_keywords() -> None:
    assert with_protocol(esmtp=True, tls=True, authenticated=True, smtputf8=False) == "ESMTPSA"
    assert with_protocol(esmtp=True, tls=False, authenticated=False, smtputf8=False) == "ESMTP"
    assert with_protocol(esmtp=True, tls=True, authenticated=False, smtputf8=True) == "UTF8SMTPS"
    assert with_protocol(esmtp=False, tls=False, authenticated=False, smtputf8=False) == "SMTP"


def test_received_header_is_folded_and_cannot_be_injected() -> None:
    header = received_header(
        helo="evil\r\nBcc: x@example.org",
        peer_ip="127.0.0.1",
        hostname="guard.example.com",
        protocol="ESMTPS",
        queue_id="ABC123",
        recipient="bob@example.org",
        now=0,
    )
    text = header.decode()
    assert text.startswith("Received: from evil??Bcc:?x?example.org ([127.0.0.1])\r\n\tby guard.example.com ")
    assert "with ESMTPS id ABC123\r\n\tfor <bob@example.org>;\r\n\t" in text
    assert text.endswith("\r\n") and text.count("\r\n") == 4
    assert all(line.startswith(("Received:", "\t")) for line in text.split("\r\n")[:-1])


@pytest.mark.parametrize(
    ("ip", "loop"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("2001:db8::1", False),
        ("unknown", False),
    ],
)
def test_loopback_detection(ip: str, loop: bool) -> None:
    assert is_loopback(ip) is loop


def test_self_signed_pair_loads_and_key_is_private(tmp_path: Path) -> None:
    cert, key = generate_self_signed(tmp_path / "tls", "localhost")
    assert key.stat().st_mode & 0o777 == 0o600
    ctx = server_context(cert, key)
    assert isinstance(ctx, ssl.SSLContext)
    with pytest.raises(ConfigError, match=r"smtp\.tls_cert"):
        server_context(tmp_path / "missing.pem", key)


async def test_sink_records_what_a_plain_smtplib_client_sends() -> None:
    import asyncio

    async with SmtpSink() as sink:
        raw = build_message(subject="five lines", body=filler_text(300))

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
                client.sendmail("alice@example.com", ["bob@example.org"], raw)

        await asyncio.to_thread(send)
        [msg] = await sink.wait_for(1)
        assert msg.header("Subject") == "five lines"
        assert msg.content == raw
        assert not any(ch.isdigit() for ch in filler_text(300))


async def test_the_rule_author_example_in_guard_testing_works(make_settings) -> None:  # type: ignore[no-untyped-def]
    """The example in guard/testing.py's docstring, verbatim."""
    import aiosmtplib

    from guard.app import GuardServer, build_services

    async with SmtpSink() as sink:  # aiosmtpd on 127.0.0.1, port 0
        guard = GuardServer(build_services(make_settings(smtp={"upstream": sink.url})))
        await guard.start()
        msg = build_message(to="bob@customer.net", body="card 4111 1111 1111 1111")
        await aiosmtplib.send(
            msg,
            sender="alice@example.com",
            recipients=["bob@customer.net"],
            hostname="127.0.0.1",
            port=guard.smtp_port,
        )
        assert sink.messages == []  # held for review, not relayed
        await guard.stop()
