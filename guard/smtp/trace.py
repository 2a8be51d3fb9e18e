"""Queue ids and the `Received:` trace header (RFC 5321 §4.4) the guard adds to what it relays.

The queue id ties together the client's reply, the log line, the quarantine item and the
header in the delivered copy, so an operator can follow one message without its content.
"""

from __future__ import annotations

import email.utils
import secrets
import string

_ALPHABET = string.ascii_uppercase + string.digits
_SAFE = set(string.ascii_letters + string.digits + ".-_:[]")


def new_queue_id() -> str:
    """A short random id, e.g. `G7K2QX9M4TA1`."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def _token(value: str | None, limit: int = 64) -> str:
    """A header-safe rendering of client-supplied text (HELO names): no spaces, no CR/LF."""
    cleaned = "".join(c if c in _SAFE else "?" for c in (value or "unknown"))
    return cleaned[:limit] or "unknown"


def with_protocol(*, esmtp: bool, tls: bool, authenticated: bool, smtputf8: bool) -> str:
    """The `with` keyword from the IANA mail transmission types (RFC 3848, RFC 6531)."""
    base = "UTF8SMTP" if smtputf8 else "ESMTP" if esmtp else "SMTP"
    if base == "SMTP":
        return base
    return base + ("S" if tls else "") + ("A" if authenticated else "")


def received_header(
    *,
    helo: str | None,
    peer_ip: str,
    hostname: str,
    protocol: str,
    queue_id: str,
    recipient: str | None = None,
    now: float | None = None,
) -> bytes:
    """The trace header to prepend, folded, ending in CRLF.

    `recipient` is named only for single-recipient messages (naming all would reveal Bcc).
    """
    ip = _token(peer_ip)
    date = email.utils.formatdate(now, localtime=True)
    lines = [
        f"Received: from {_token(helo)} ([{ip}])",
        f"\tby {_token(hostname, 255)} (Outbound Guard) with {protocol} id {queue_id}",
    ]
    if recipient and recipient.isascii() and "\r" not in recipient and "\n" not in recipient:
        lines.append(f"\tfor <{recipient}>;")
    else:
        lines[-1] += ";"
    lines.append(f"\t{date}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
