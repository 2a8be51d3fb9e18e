"""The aiosmtpd handler: protocol in, `OutboundMessage` out; the verdict's reply back.

Hooks (PROTOCOLS.md §1.2): EHLO advertises PIPELINING and ENHANCEDSTATUSCODES (and hides AUTH
when no users are configured); RCPT enforces "no open relay" and the recipient limit; AUTH
PLAIN/LOGIN check argon2/bcrypt hashes off the event loop and answer 535 on failure (never a
hang); DATA builds the `OutboundMessage` and `MailOrigin`, inspects (`actions.inspect`) and
hands the shielded rest to `actions.act`, whose outcome `replies` turns into the one reply; any
unexpected error becomes `451 4.3.0` (aiosmtpd's default would be a permanent 500).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import MISSING, AuthResult, Envelope, LoginPassword, Session

from guard.actions import MailOrigin, Outcome
from guard.errors import InspectionError
from guard.model import Channel, OutboundMessage
from guard.smtp.auth import UserDirectory
from guard.smtp.peers import address_of, peer_ip
from guard.smtp.replies import INTERNAL_ERROR, reply_for_error, reply_for_outcome
from guard.smtp.trace import new_queue_id, received_header, with_protocol

if TYPE_CHECKING:
    from guard.services import Services
    from guard.smtp.session import GuardSMTP

RELAY_DENIED = "550 5.7.1 Relaying denied: authenticate first (AUTH) or send from a permitted network"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients; send the rest in another message"


class GuardHandler:
    """One instance per listener set; aiosmtpd calls its hooks for every connection."""

    def __init__(self, services: Services, users: UserDirectory, hostname: str) -> None:
        s = services.settings.smtp
        self.services = services
        self.actions = services.actions
        self.quarantine_reply = s.quarantine_reply
        self.users = users
        self.hostname = hostname
        self.metrics = services.metrics
        self.log = services.log
        self.networks = [ipaddress.ip_network(n, strict=False) for n in s.relay_networks]
        self.max_recipients = s.max_recipients
        self.inflight: set[asyncio.Task[str]] = set()

    # -- permission -------------------------------------------------------------------------
    def may_relay(self, session: Session) -> bool:
        if session.authenticated:
            return True
        ip = address_of(peer_ip(session))
        return ip is not None and any(ip in net for net in self.networks)

    # -- hooks ------------------------------------------------------------------------------
    async def handle_EHLO(
        self, server: GuardSMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        lines = [r for r in responses if self.users or not r.startswith("250-AUTH")]
        return [*lines[:-1], "250-PIPELINING", "250-ENHANCEDSTATUSCODES", lines[-1]]

    async def handle_MAIL(
        self, server: GuardSMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: GuardSMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.may_relay(session):
            self.metrics.smtp_relay_denied.inc()
            return RELAY_DENIED
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: GuardSMTP, session: Session, envelope: Envelope) -> str:
        # The idle timer started at the DATA command; the transfer used part of it. Give
        # inspection and the upstream the whole budget (PROTOCOLS.md §1.4, trap 2).
        server.restart_idle_timer()
        origin = self._origin(server, session, envelope)
        message = OutboundMessage(
            channel=Channel.SMTP,
            sender="" if origin.sender == "<>" else origin.sender,
            recipients=origin.recipients,
            raw=origin.raw,
            meta={"queue_id": origin.queue_id},
        )
        started = time.perf_counter()
        try:
            verdict = await self.actions.inspect(message, "smtp")
        except InspectionError as exc:
            server.verdict_reply = True
            return reply_for_error(exc, origin.queue_id)
        origin = replace(origin, inspect_s=time.perf_counter() - started)
        # From here on the message may be handed over: shield it, so a client disconnect or the
        # session timeout cannot cancel a relay the upstream may already have accepted.
        task = asyncio.ensure_future(self._act(verdict, message, origin))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        reply = await asyncio.shield(task)
        server.verdict_reply = True
        return reply

    async def _act(self, verdict: Any, message: OutboundMessage, origin: MailOrigin) -> str:
        outcome = await self.actions.act(verdict, message, origin)
        return str(outcome.answer)

    def answer(self, outcome: Outcome) -> str:
        """The one SMTP reply for an outcome (`actions.act` calls it once)."""
        if outcome.error is not None:
            return reply_for_error(outcome.error, outcome.queue_id)
        return reply_for_outcome(outcome, quarantine_reply=self.quarantine_reply)

    async def handle_exception(self, error: Exception) -> str:
        self.log.error("smtp session error", extra={"event": "smtp_exception", "error": type(error).__name__})
        return INTERNAL_ERROR

    # -- AUTH (handler mechanisms replace aiosmtpd's builtin ones; they verify off-loop) ----
    async def auth_PLAIN(self, server: GuardSMTP, args: list[str]) -> AuthResult:
        blob: Any
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)  # challenge_auth already replied 501
        else:
            blob = _b64(args[1])
            if blob is None:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        assert isinstance(blob, bytes)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return await self._authenticate(parts[1], parts[2])

    async def auth_LOGIN(self, server: GuardSMTP, args: list[str]) -> AuthResult:
        login: Any
        if len(args) == 1:
            login = await server.challenge_auth(server.AuthLoginUsernameChallenge)
        else:
            login = _b64(args[1])
            if login is None:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        if login is MISSING:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(server.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        assert isinstance(login, bytes) and isinstance(password, bytes)
        return await self._authenticate(login, password)

    async def _authenticate(self, login: bytes, password: bytes) -> AuthResult:
        if await self.users.averify(login, password):
            return AuthResult(success=True, auth_data=LoginPassword(login, b""))
        self.metrics.smtp_auth_failures.inc()
        self.log.warning("smtp auth failed", extra={"event": "smtp_auth_failed"})
        # handled=False makes aiosmtpd answer 535 5.7.8; the default (handled=True) hangs the client.
        return AuthResult(success=False, handled=False)

    # -- helpers ----------------------------------------------------------------------------
    def _origin(self, server: GuardSMTP, session: Session, envelope: Envelope) -> MailOrigin:
        queue_id = new_queue_id()
        rcpts = tuple(envelope.rcpt_tos)
        authenticated = bool(session.authenticated)
        trace = received_header(
            helo=session.host_name,
            peer_ip=peer_ip(session),
            hostname=self.hostname,
            protocol=with_protocol(
                esmtp=session.extended_smtp,
                tls=server.uses_tls,
                authenticated=authenticated,
                smtputf8=envelope.smtp_utf8,
            ),
            queue_id=queue_id,
            recipient=rcpts[0] if len(rcpts) == 1 else None,
        )
        options = tuple(o for o in envelope.mail_options if not o.upper().startswith("SIZE="))
        return MailOrigin(
            queue_id=queue_id,
            sender=envelope.mail_from or "<>",
            recipients=rcpts,
            raw=envelope.original_content or b"",
            trace=trace,
            mail_options=options,
            peer=peer_ip(session),
            authenticated=authenticated,
            tls=server.uses_tls,
            answer=self.answer,
        )

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for deliveries already under way, e.g. at shutdown."""
        if self.inflight:
            await asyncio.wait(set(self.inflight), timeout=timeout_s)


def _b64(value: str) -> bytes | None:
    import binascii
    from base64 import b64decode

    try:
        return b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
