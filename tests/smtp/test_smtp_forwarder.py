"""SmtpForwarder and MaildirForwarder against real peers: the sink, a closed port, a Maildir."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from guard.delivery.base import Mail
from guard.delivery.smtp import MaildirForwarder, SmtpForwarder
from guard.delivery.smtp import build_mail_forwarder as build_forwarder
from guard.errors import UpstreamDeferred, UpstreamRefused
from guard.testing import SmtpSink, build_message
from tests.conftest import free_port
from tests.smtp.conftest import Certs

RAW = build_message(sender="alice@example.com", to="bob@example.org", body="Hello there\n")


async def test_relays_bytes_envelope_and_reports_the_upstream_reply(sink: SmtpSink) -> None:
    fwd = SmtpForwarder(sink.url)
    receipt = await fwd.deliver(Mail("alice@example.com", ("bob@example.org", "carol@example.net"), RAW))
    [got] = await sink.wait_for(1)
    assert got.content == RAW
    assert got.mail_from == "alice@example.com"
    assert got.rcpt_tos == ("bob@example.org", "carol@example.net")
    assert receipt.code == 250 and receipt.message.startswith("2.0.0 Ok: queued as S1")
    await fwd.close()


async def test_null_sender_is_relayed_as_empty_reverse_path(sink: SmtpSink) -> None:
    fwd = SmtpForwarder(sink.url)
    await fwd.deliver(Mail("<>", ("alice@example.com",), RAW))
    [got] = await sink.wait_for(1)
    assert got.mail_from == "<>"
    await fwd.close()


async def test_smtputf8_and_8bitmime_are_passed_on(sink: SmtpSink) -> None:
    raw = "From: jörg@example.com\r\nTo: zoë@exämple.org\r\nSubject: grüße\r\n\r\nHallo\r\n".encode()
    fwd = SmtpForwarder(sink.url)
    await fwd.deliver(Mail("jörg@example.com", ("zoë@exämple.org",), raw, ("SMTPUTF8", "BODY=8BITMIME")))
    [got] = await sink.wait_for(1)
    assert got.rcpt_tos == ("zoë@exämple.org",)
    assert "SMTPUTF8" in got.mail_options and "BODY=8BITMIME" in got.mail_options
    assert not any(o.startswith("SIZE=") for o in got.mail_options)  # the sink offers no SIZE
    assert got.content == raw
    await fwd.close()


async def test_utf8_address_to_an_upstream_without_smtputf8_is_refused_permanently() -> None:
    async with SmtpSink(smtputf8=False) as plain:
        fwd = SmtpForwarder(plain.url)
        with pytest.raises(UpstreamRefused) as err:
            await fwd.deliver(Mail("a@example.com", ("zoë@exämple.org",), RAW, ("SMTPUTF8",)))
        assert err.value.status == "5.6.7"
        # ASCII addresses still go, without the option the upstream does not offer.
        await fwd.deliver(Mail("a@example.com", ("bob@example.org",), RAW, ("SMTPUTF8",)))
        [got] = await plain.wait_for(1)
        assert "SMTPUTF8" not in got.mail_options
        await fwd.close()


async def test_connections_are_reused(sink: SmtpSink) -> None:
    fwd = SmtpForwarder(sink.url)
    for _ in range(5):
        await fwd.deliver(Mail("alice@example.com", ("bob@example.org",), RAW))
    assert len(sink.messages) == 5
    assert sink.connections == 1
    await fwd.close()


async def test_concurrent_deliveries_use_separate_connections(sink: SmtpSink) -> None:
    sink.delay_s = 0.05
    fwd = SmtpForwarder(sink.url)
    await asyncio.gather(*(fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW)) for _ in range(4)))
    assert len(sink.messages) == 4 and sink.connections == 4
    await fwd.close()


async def test_a_pooled_connection_the_upstream_dropped_is_replaced_transparently(sink: SmtpSink) -> None:
    fwd = SmtpForwarder(sink.url)
    await fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW))
    sink.drop_connections()
    await asyncio.sleep(0.05)
    await fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW))
    assert len(sink.messages) == 2 and sink.connections == 2
    await fwd.close()


@pytest.mark.parametrize(
    ("reply", "error", "code", "status"),
    [
        ("451 4.3.0 try again later", UpstreamDeferred, 451, "4.4.0"),
        ("452 insufficient storage", UpstreamDeferred, 452, "4.4.0"),
        ("550 5.7.1 refused by policy", UpstreamRefused, 550, "5.7.1"),
        ("554 transaction failed", UpstreamRefused, 554, "5.0.0"),
    ],
)
async def test_upstream_replies_map_to_errors_with_code_and_status(
    sink: SmtpSink, reply: str, error: type[Exception], code: int, status: str
) -> None:
    sink.fail_with(reply)
    fwd = SmtpForwarder(sink.url)
    with pytest.raises(error) as err:
        await fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW))
    assert err.value.code == code  # type: ignore[attr-defined]
    assert err.value.status == status  # type: ignore[attr-defined]
    # The connection was reset and is reused for the next message.
    await fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW))
    assert len(sink.messages) == 1 and sink.connections == 1
    await fwd.close()


async def test_a_partly_refused_envelope_sends_nothing(sink: SmtpSink) -> None:
    sink.rcpt_replies["nobody@example.org"] = "550 5.1.1 no such user"
    fwd = SmtpForwarder(sink.url)
    with pytest.raises(UpstreamRefused) as err:
        await fwd.deliver(Mail("a@example.com", ("b@example.org", "nobody@example.org"), RAW))
    assert err.value.code == 550 and "1 of 2 recipients" in str(err.value)
    sink.rcpt_replies["later@example.org"] = "450 4.2.1 mailbox busy"
    with pytest.raises(UpstreamDeferred):  # a temporary refusal wins: the client retries
        await fwd.deliver(Mail("a@example.com", ("later@example.org", "nobody@example.org"), RAW))
    assert sink.messages == []
    await fwd.close()


async def test_unreachable_upstream_is_a_temporary_failure() -> None:
    fwd = SmtpForwarder(f"smtp://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(UpstreamDeferred) as err:
        await fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW))
    assert err.value.status == "4.4.1" and err.value.code is None


async def test_a_slow_upstream_times_out_as_a_temporary_failure(sink: SmtpSink) -> None:
    sink.delay_s = 2.0
    fwd = SmtpForwarder(sink.url, timeout_s=0.3)
    with pytest.raises(UpstreamDeferred) as err:
        await fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW))
    assert err.value.status == "4.4.2"
    await fwd.close()


async def test_starttls_upstream_with_auth(certs: Certs) -> None:
    async with SmtpSink(tls_context=certs.server_context(), users={"relay": "s3cret"}) as tls_sink:
        assert tls_sink.url.startswith("smtp+starttls://")
        fwd = SmtpForwarder(
            tls_sink.url, username="relay", password="s3cret", tls_context=certs.client_context()
        )
        await fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW))
        [got] = await tls_sink.wait_for(1)
        assert got.tls and got.user == "relay"
        await fwd.close()


async def test_wrong_upstream_credentials_defer_instead_of_bouncing(certs: Certs) -> None:
    async with SmtpSink(tls_context=certs.server_context(), users={"relay": "s3cret"}) as tls_sink:
        fwd = SmtpForwarder(
            tls_sink.url, username="relay", password="wrong", tls_context=certs.client_context()
        )
        with pytest.raises(UpstreamDeferred) as err:
            await fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW))
        assert err.value.status == "4.7.0"
        assert tls_sink.messages == []


async def test_implicit_tls_upstream(certs: Certs) -> None:
    async with SmtpSink(tls_context=certs.server_context(), implicit_tls=True) as tls_sink:
        assert tls_sink.url.startswith("smtps://")
        fwd = SmtpForwarder(tls_sink.url, tls_context=certs.client_context())
        await fwd.deliver(Mail("a@example.com", ("b@example.org",), RAW))
        assert len(await tls_sink.wait_for(1)) == 1
        await fwd.close()


async def test_maildir_delivery_is_durable_and_complete(tmp_path: Path) -> None:
    fwd = MaildirForwarder(tmp_path / "maildir")
    receipt = await fwd.deliver(Mail("<>", ("alice@example.com", "bob@example.com"), RAW))
    [name] = os.listdir(tmp_path / "maildir" / "new")
    assert receipt.code == 250 and name in receipt.message
    assert os.listdir(tmp_path / "maildir" / "tmp") == []
    data = (tmp_path / "maildir" / "new" / name).read_bytes()
    assert data.startswith(b"Return-Path: <>\r\nEnvelope-To: alice@example.com, bob@example.com\r\n")
    assert data.endswith(RAW)
    assert (tmp_path / "maildir" / "new" / name).stat().st_mode & 0o777 == 0o600


async def test_unwritable_maildir_is_a_temporary_failure(tmp_path: Path) -> None:
    fwd = MaildirForwarder(tmp_path / "maildir")
    (tmp_path / "maildir").mkdir()
    (tmp_path / "maildir" / "tmp").write_text("not a directory")
    with pytest.raises(UpstreamDeferred):
        await fwd.deliver(Mail("a@example.com", ("b@example.com",), RAW))


def test_build_forwarder_picks_maildir_without_upstream(make_settings) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(build_forwarder(make_settings()), MaildirForwarder)
    fwd = build_forwarder(make_settings(smtp={"upstream": "smtp+starttls://relay.example.net:587"}))
    assert isinstance(fwd, SmtpForwarder) and fwd.describe() == "smtp+starttls://relay.example.net:587"
