"""SMTP delivery: where an allowed (or redacted, or released) mail goes.

Two implementations of `Forwarder[Mail, Receipt]` (guard.delivery.base):

- `SmtpForwarder`: relays to `smtp.upstream` with aiosmtplib (`smtp://`, `smtp+starttls://`,
  `smtps://`, optional AUTH), keeping idle connections for reuse. Envelope sender (also `<>`),
  recipients and the SMTPUTF8 / BODY=8BITMIME options are passed through; the content bytes
  are sent as given (aiosmtplib only normalises line endings and dot-stuffs).
- `MaildirForwarder`: the first-try default when no upstream is configured: writes to
  `<data_dir>/maildir/{tmp,new,cur}` and fsyncs before returning.

A `Receipt` is returned only when the message is safely with the next hop. Failures raise
`UpstreamDeferred` (retry later: 4xx, timeouts, connection errors, our own AUTH to the
upstream failing) or `UpstreamRefused` (the upstream said 5xx) with the upstream's code and
enhanced status, which `replies.reply_for_error` turns into the client's reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import socket
import ssl
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

from guard.config import Settings
from guard.delivery.base import Mail, Receipt
from guard.errors import UpstreamDeferred, UpstreamRefused

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b\s*")
#: IPv4 dotted quads and bracketed IPv6 literals, with a port if one follows (bounded, no nesting).
_IP_LITERAL = re.compile(r"(?:\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5}\b)?")


def split_status(code: int, message: str) -> tuple[str, str]:
    """Split an upstream reply text into (enhanced status, rest); derive the status if absent."""
    m = _ENHANCED.match(message)
    if m and m.group(1) == str(code)[0]:
        return m.group(0).strip(), message[m.end() :]
    return f"{str(code)[0]}.0.0", message


def scrub_host(text: str, host: str) -> str:
    """The upstream's reply text without its own name or address: replies to our clients never
    show an internal host (the configured one, or any IP literal)."""
    if host:
        text = re.sub(re.escape(host) + r"(?::\d{1,5}\b)?", "upstream", text, flags=re.IGNORECASE)
    return _IP_LITERAL.sub("upstream", text)


def _response_error(code: int, message: str, what: str, host: str = "") -> UpstreamDeferred | UpstreamRefused:
    status, text = split_status(code, scrub_host(message, host))
    detail = f"upstream refused {what}: {code} {status} {text}".strip()
    if 400 <= code < 500:
        # Our reply is 451 4.4.0 (the next hop deferred); the upstream's own code stays in the text.
        detail = f"upstream deferred {what}: {code} {status} {text}".strip()
        return UpstreamDeferred(detail, code=code, status="4.4.0")
    if 500 <= code < 600:
        return UpstreamRefused(detail, code=code, status=status)
    return UpstreamDeferred(f"upstream gave an unexpected reply to {what}: {code}", code=code, status="4.4.0")


def _null_sender(sender: str) -> bool:
    return sender in ("", "<>")


class SmtpForwarder:
    """Relays with aiosmtplib, reusing idle upstream connections (LIFO, bounded)."""

    def __init__(
        self,
        url: str,
        *,
        username: str = "",
        password: str = "",
        timeout_s: float = 60.0,
        tls_verify: bool = True,
        local_hostname: str = "localhost",
        max_idle: int = 32,
        idle_ttl_s: float = 60.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        default_port = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[parts.scheme]
        self.port = parts.port or default_port
        self.username = username or unquote(parts.username or "")
        self.password = password or unquote(parts.password or "")
        self.timeout_s = timeout_s
        self.tls_verify = tls_verify
        self.tls_context = tls_context
        self.local_hostname = local_hostname
        self.max_idle = max_idle
        self.idle_ttl_s = idle_ttl_s
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._closed = False

    def describe(self) -> str:
        """The upstream without credentials, for logs."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def _new_client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout_s,
            use_tls=self.scheme == "smtps",
            start_tls=self.scheme == "smtp+starttls",
            validate_certs=self.tls_verify,
            tls_context=self.tls_context,
            username=self.username or None,
            password=self.password or None,
            local_hostname=self.local_hostname,
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        client = self._new_client()
        try:
            await client.connect()
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()  # the MAIL options depend on the extensions it offers
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            # Our own credentials are wrong: a configuration problem, not the message's fault.
            raise UpstreamDeferred(f"upstream AUTH failed ({exc.code})", code=None, status="4.7.0") from None
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise _response_error(exc.code, exc.message, "the connection", self.host) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            client.close()
            # The client sees this text: the error class only, never the upstream's host or port.
            raise UpstreamDeferred(f"upstream unreachable ({type(exc).__name__})", status="4.4.1") from None
        return client

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and now - since < self.idle_ttl_s:
                return client
            client.close()
        return None

    def _give_back(self, client: aiosmtplib.SMTP) -> None:
        if not self._closed and client.is_connected and len(self._idle) < self.max_idle:
            self._idle.append((client, time.monotonic()))
        else:
            client.close()

    async def deliver(self, mail: Mail) -> Receipt:
        client = self._take_idle()
        if client is not None:
            try:
                return await self._transact(client, mail)
            except _StaleConnection:
                client.close()  # the upstream dropped an idle connection: try once on a fresh one
        client = await self._connect()
        try:
            return await self._transact(client, mail)
        except _StaleConnection:
            client.close()
            raise UpstreamDeferred("upstream closed the connection", status="4.4.2") from None

    async def _transact(self, client: aiosmtplib.SMTP, mail: Mail) -> Receipt:
        """MAIL, RCPT…, DATA on one connection; gives the connection back only when it is clean."""
        sender = "" if _null_sender(mail.sender) else mail.sender
        clean = False
        try:
            try:
                options, encoding = self._options(client, mail)
            except UpstreamRefused:
                clean = True  # nothing was sent on this connection
                raise
            try:
                await client.mail(sender, options=options, encoding=encoding)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
                # Nothing was handed over yet, so a retry cannot duplicate the message.
                raise _StaleConnection() from exc
            refused: dict[str, tuple[int, str]] = {}
            for rcpt in mail.recipients:
                try:
                    await client.rcpt(rcpt, encoding=encoding)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    refused[rcpt] = (exc.code, exc.message)
            if refused:
                # One reply goes back to our client, so a partly refused envelope is not sent at
                # all: the client retries (4xx) or bounces (5xx) the whole message; nothing is
                # delivered to some recipients while the client believes it failed for all.
                await client.rset()
                clean = True
                codes = sorted(c for c, _ in refused.values())
                code = next((c for c in codes if c < 500), codes[-1])
                message = next(m for c, m in refused.values() if c == code)
                raise _response_error(
                    code, message, f"{len(refused)} of {len(mail.recipients)} recipients", self.host
                )
            response = await client.data(mail.content)
            clean = True
            return Receipt(response.code, response.message)
        except aiosmtplib.SMTPResponseException as exc:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.rset()
                clean = True
            stage = "the sender" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "the message"
            raise _response_error(exc.code, exc.message, stage, self.host) from None
        except aiosmtplib.SMTPTimeoutError:
            raise UpstreamDeferred("upstream timed out", status="4.4.2") from None
        except ValueError:
            # aiosmtplib refuses addresses it cannot put on a command line safely (or encode):
            # retrying would never help.
            raise UpstreamRefused("an address cannot be relayed as given", code=553, status="5.1.3") from None
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLError):
            raise UpstreamDeferred("upstream connection lost", status="4.4.2") from None
        finally:
            if clean:
                self._give_back(client)
            else:
                client.close()

    def _options(self, client: aiosmtplib.SMTP, mail: Mail) -> tuple[list[str], str]:
        """The MAIL parameters for this upstream: SIZE recomputed, BODY and SMTPUTF8 kept if offered."""
        wanted = [o.upper() for o in mail.mail_options]
        options: list[str] = []
        if client.supports_extension("size"):
            options.append(f"SIZE={len(normalize_message_line_endings(mail.content))}")
        if "BODY=8BITMIME" in wanted and client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
        encoding = "ascii"
        if "SMTPUTF8" in wanted:
            addresses = (mail.sender, *mail.recipients)
            needs_utf8 = not all(a.isascii() for a in addresses)
            if client.supports_extension("smtputf8"):
                options.append("SMTPUTF8")
                encoding = "utf-8"
            elif needs_utf8:
                raise UpstreamRefused(
                    "the upstream does not support SMTPUTF8, which these addresses need",
                    code=553,
                    status="5.6.7",
                )
        return options, encoding

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for client, _ in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.quit(), 2)
            client.close()


class _StaleConnection(Exception):
    """A reused connection turned out to be closed before anything was handed over."""


class MaildirForwarder:
    """Delivers to one local Maildir; a receipt is returned only after the file and its
    directory entry are on disk (fsync), so a 250 never precedes durability."""

    _counter = itertools.count()

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._ready = False  # folders are made on first delivery: building one touches no disk
        self._host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")

    def describe(self) -> str:
        return f"maildir:{self.root}"

    async def deliver(self, mail: Mail) -> Receipt:
        try:
            name = await asyncio.to_thread(self._write, mail)
        except OSError as exc:
            raise UpstreamDeferred(
                f"local Maildir not writable ({type(exc).__name__})", status="4.3.0"
            ) from None
        return Receipt(250, f"2.0.0 Delivered to local Maildir as {name}")

    def _write(self, mail: Mail) -> str:
        if not self._ready:
            for sub in ("tmp", "new", "cur"):
                (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            self._ready = True
        now = time.time()
        name = f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(self._counter)}.{self._host}"
        sender = "" if _null_sender(mail.sender) else mail.sender
        head = f"Return-Path: <{sender}>\r\nEnvelope-To: {', '.join(mail.recipients)}\r\n".encode()
        tmp = self.root / "tmp" / name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(head)
                fh.write(mail.content)
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, self.root / "new" / name)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        dir_fd = os.open(self.root / "new", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return name

    async def close(self) -> None:
        return None


def build_mail_forwarder(settings: Settings) -> SmtpForwarder | MaildirForwarder:
    """The configured delivery target; also used to deliver released quarantine items."""
    s = settings.smtp
    if not s.upstream:
        return MaildirForwarder(settings.data_path / "maildir")
    budget = min(s.upstream_timeout_s, max(1.0, s.session_timeout_s * 0.5))
    return SmtpForwarder(
        s.upstream,
        username=s.upstream_username,
        password=s.upstream_password,
        timeout_s=budget,
        tls_verify=s.upstream_tls_verify,
        local_hostname=s.hostname or socket.gethostname() or "localhost",
    )
