"""Test helpers for the guard's users and its own tests: a real SMTP sink and message builders.

A rule author checks a new detector end to end in a few lines (pytest-asyncio)::

    import aiosmtplib
    from guard.app import GuardServer, build_services
    from guard.testing import SmtpSink, build_message

    async def test_card_is_held(make_settings):
        async with SmtpSink() as sink:                  # aiosmtpd on 127.0.0.1, port 0
            guard = GuardServer(build_services(make_settings(smtp={"upstream": sink.url})))
            await guard.start()
            msg = build_message(to="bob@customer.net", body="card 4111 1111 1111 1111")
            await aiosmtplib.send(msg, sender="alice@example.com", recipients=["bob@customer.net"],
                                  hostname="127.0.0.1", port=guard.smtp_port)
            assert sink.messages == []                  # held for review, not relayed
            await guard.stop()

The sink is a real SMTP server (aiosmtpd in the running event loop, SMTPUTF8 on) that
records every envelope. It can be told to answer with a failure (`fail_with`), to be slow
(`delay_s`), to offer STARTTLS or require AUTH, so upstream behaviour is tested for real.
"""

from __future__ import annotations

import asyncio
import email.message
import email.policy
import email.utils
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["SinkMessage", "SmtpSink", "build_message", "filler_text"]


@dataclass(frozen=True, slots=True)
class SinkMessage:
    """One message as the sink received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    mail_options: tuple[str, ...]
    content: bytes  # dot-unstuffed bytes exactly as sent
    peer: str = ""
    tls: bool = False
    user: str | None = None

    def message(self) -> email.message.EmailMessage:
        """The content parsed with the modern email policy."""
        msg = BytesParser(policy=email.policy.default).parsebytes(self.content)
        assert isinstance(msg, email.message.EmailMessage)
        return msg

    def header(self, name: str) -> str | None:
        value = self.message()[name]
        return None if value is None else str(value)


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.sink.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sink = self.sink
        if sink.delay_s:
            await asyncio.sleep(sink.delay_s)
        if sink.failures:
            reply, remaining = sink.failures[0]
            if remaining <= 1:
                sink.failures.pop(0)
            else:
                sink.failures[0] = (reply, remaining - 1)
            sink.refused += 1
            return reply
        user = None
        if isinstance(session.auth_data, LoginPassword):
            user = session.auth_data.login.decode("utf-8", "replace")
        sink.messages.append(
            SinkMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                mail_options=tuple(envelope.mail_options),
                content=envelope.original_content or b"",
                peer=str(session.peer[0]) if session.peer else "",
                tls=session.ssl is not None,
                user=user,
            )
        )
        sink._arrived.set()
        return f"250 2.0.0 Ok: queued as S{len(sink.messages)}"


class SmtpSink:
    """A recording SMTP server on loopback, started inside the running event loop.

    `fail_with(reply, times)` makes the next `times` DATA commands answer `reply` (e.g.
    "451 4.3.0 try later" or "550 5.7.1 no"); `rcpt_replies[address] = "550 ..."` refuses one
    recipient; `delay_s` slows every DATA reply down; `tls_context` offers STARTTLS;
    `users={"name": "password"}` requires AUTH (over TLS when a context is given).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_context: ssl.SSLContext | None = None,
        users: Mapping[str, str] | None = None,
        smtputf8: bool = True,
        delay_s: float = 0.0,
        implicit_tls: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.tls_context = tls_context
        self.users = dict(users or {})
        self.smtputf8 = smtputf8
        self.delay_s = delay_s
        self.implicit_tls = implicit_tls
        self.messages: list[SinkMessage] = []
        self.failures: list[tuple[str, int]] = []
        self.rcpt_replies: dict[str, str] = {}
        self.refused = 0
        self.connections = 0  # connections accepted so far (to observe connection reuse)
        self._server: asyncio.AbstractServer | None = None
        self._protocols: list[SMTP] = []
        self._arrived = asyncio.Event()

    @property
    def url(self) -> str:
        scheme = "smtps" if self.implicit_tls else ("smtp+starttls" if self.tls_context else "smtp")
        return f"{scheme}://{self.host}:{self.port}"

    def fail_with(self, reply: str, times: int = 1) -> None:
        self.failures.append((reply, times))

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.users.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def _protocol(self) -> SMTP:
        self.connections += 1
        kwargs: dict[str, Any] = {}
        if self.users:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.tls_context is not None and not self.implicit_tls,
            )
        proto = SMTP(
            _SinkHandler(self),
            enable_SMTPUTF8=self.smtputf8,
            hostname="sink.test",
            ident="guard test sink",
            tls_context=None if self.implicit_tls else self.tls_context,
            data_size_limit=None,
            **kwargs,
        )
        self._protocols.append(proto)
        return proto

    def drop_connections(self) -> None:
        """Close every open client connection, as an upstream restarting would."""
        protocols, self._protocols = self._protocols, []
        for proto in protocols:
            if proto.transport is not None:
                proto.transport.close()

    async def start(self) -> SmtpSink:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, self.host, self.port, ssl=self.tls_context if self.implicit_tls else None
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self.drop_connections()

    async def __aenter__(self) -> SmtpSink:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[SinkMessage]:
        """Wait (bounded) until at least `count` messages arrived; return all of them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.messages) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"sink got {len(self.messages)} of {count} messages in {timeout}s")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                continue
        return list(self.messages)


def build_message(
    *,
    sender: str = "alice@example.com",
    to: str | Iterable[str] = "bob@example.org",
    subject: str = "Hello",
    body: str = "Hello,\n\njust checking in.\n",
    html: str | None = None,
    attachments: Iterable[tuple[str, str, bytes]] = (),
    headers: Mapping[str, str] | None = None,
    message_id: str | None = None,
) -> bytes:
    """An RFC 5322 message as bytes with CRLF line endings.

    `attachments` are (filename, "maintype/subtype", data) triples. Non-ASCII addresses or
    headers produce a message that needs SMTPUTF8.
    """
    msg = email.message.EmailMessage()
    msg["From"] = sender
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="example.com")
    msg["Date"] = email.utils.formatdate(localtime=True)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    utf8 = not all(str(v).isascii() for v in msg.values())
    policy = email.policy.SMTPUTF8 if utf8 else email.policy.SMTP
    return msg.as_bytes(policy=policy)


_WORDS = (
    "meeting",
    "agenda",
    "project",
    "status",
    "update",
    "review",
    "schedule",
    "team",
    "notes",
    "quarter",
    "roadmap",
    "follow",
    "up",
    "thanks",
    "please",
    "the",
    "and",
    "for",
    "with",
    "next",
)


def luhn_complete(body: str) -> str:
    """`body` plus the Luhn check digit: a card-shaped number for a rule's tests, made rather
    than copied (`luhn_complete("4" + "5" * 14)`)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def filler_text(size: int, *, seed: int = 0) -> str:
    """Innocuous prose of about `size` characters (no digits), for load and size tests."""
    out: list[str] = []
    n = 0
    i = seed
    while n < size:
        line = " ".join(_WORDS[(i * 7 + k * 3) % len(_WORDS)] for k in range(12)) + ".\n"
        out.append(line)
        n += len(line)
        i += 1
    return "".join(out)[:size]
