"""Client-side helpers: drive the guard with the real stdlib client from a worker thread.

The guard runs in the test's event loop, so blocking clients (smtplib) run in a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from guard.logs import JsonFormatter

CARD = "4111 1111 1111 1111"


def contains_value(text: str, value: str) -> bool:
    """True if `value`'s digits occur in `text` as one whole number (any spaces, dots or dashes
    between them), not inside a longer one: a leak check a random port such as 41117 cannot trip."""
    digits = [c for c in value if c.isdigit()]
    return re.search(r"(?<!\d)" + r"[\s.-]?".join(digits) + r"(?!\d)", text) is not None


AWS_KEY = "AKIA2E5RYT7QKVN3WX4H"
EXTERNAL = "bob@partner.net"
INTERNAL = "carol@example.com"
SENDER = "alice@example.com"


@dataclass
class Sent:
    """What a client saw: the refused recipients, or the exception with its code and text."""

    refused: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    error: BaseException | None = None

    @property
    def code(self) -> int:
        if self.error is None:
            return 250
        return int(getattr(self.error, "smtp_code", 0))

    @property
    def text(self) -> str:
        if self.error is None:
            return ""
        raw = getattr(self.error, "smtp_error", b"")
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def smtplib_send(
    port: int,
    raw: bytes,
    *,
    sender: str = SENDER,
    rcpts: Sequence[str] = (EXTERNAL,),
    starttls: ssl.SSLContext | None = None,
    login: tuple[str, str] | None = None,
    mail_options: Sequence[str] = (),
    timeout: float = 10.0,
    implicit_tls: ssl.SSLContext | None = None,
) -> Sent:
    """Send one message with smtplib; never raises for SMTP-level refusals."""
    client: smtplib.SMTP
    if implicit_tls is not None:
        client = smtplib.SMTP_SSL("127.0.0.1", port, timeout=timeout, context=implicit_tls)
    else:
        client = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
    with client:
        try:
            client.ehlo("client.test")
            if starttls is not None:
                client.starttls(context=starttls)
                client.ehlo("client.test")
            if login is not None:
                client.login(*login)
            refused = client.sendmail(sender, list(rcpts), raw, mail_options=list(mail_options))
            return Sent(refused=dict(refused))
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
            if isinstance(exc, smtplib.SMTPRecipientsRefused):
                [(code, text)] = list(exc.recipients.values())[:1]
                err = smtplib.SMTPResponseException(code, text)
                return Sent(refused=dict(exc.recipients), error=err)
            return Sent(error=exc)


async def send(port: int, raw: bytes, **kwargs: Any) -> Sent:
    return await asyncio.to_thread(smtplib_send, port, raw, **kwargs)


class LogCapture(logging.Handler):
    """Collects the guard's log records as the JSON lines an operator would read."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in map(json.loads, self.lines) if e.get("event") == name]
