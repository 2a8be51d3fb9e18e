"""Messages that carry a value in each place a recipient can see, for the redaction tests.

Values are generated here (valid checksums computed, keys drawn from a seeded generator), never
copied. `visible(raw)` is everything a recipient could read in a message: every header decoded,
every file name, every part's decoded body, forwarded messages included.
"""

from __future__ import annotations

import base64
import email
import email.policy
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage, Message

from guard.testing import luhn_complete

_RNG = random.Random(1107)
SENDER = "alice@example.com"
EXTERNAL = "bob@customer.net"


def luhn_card(prefix: str = "4", length: int = 16, rng: random.Random = _RNG) -> str:
    """A Visa-like number with a valid check digit, written in groups of four."""
    digits = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    full = luhn_complete(digits)
    return " ".join(full[i : i + 4] for i in range(0, len(full), 4))


def aws_pair(rng: random.Random = _RNG) -> tuple[str, str]:
    """An access key id (AKIA + 16 capitals/digits) and a 40-character secret access key."""
    key_id = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
    alphabet = string.ascii_letters + string.digits + "+/"
    while True:
        secret = "".join(rng.choice(alphabet) for _ in range(40))
        if any(c.isdigit() for c in secret) and any(c.isupper() for c in secret):
            return key_id, secret


def compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def _walk(msg: Message, out: list[str], depth: int = 0) -> None:
    for name, value in msg.items():
        out.append(f"{name}: {value}")
    name = msg.get_filename()
    if name:
        out.append(name)
    out.append(str(msg.preamble or ""))
    out.append(str(msg.epilogue or ""))
    if msg.is_multipart():
        for child in msg.get_payload():  # type: ignore[union-attr]
            if isinstance(child, Message) and depth < 20:
                _walk(child, out, depth + 1)
        return
    data = msg.get_payload(decode=True)
    if isinstance(data, bytes):
        text = data.decode(msg.get_content_charset() or "utf-8", "replace")
        out.append(text)
        if msg.get_content_type() == "message/rfc822":
            _walk(email.message_from_bytes(data, policy=email.policy.default), out, depth + 1)


_TAG = re.compile(r"<[^<>]*>")
_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def _decoded_tokens(text: str) -> list[str]:
    out = []
    for token in _B64.findall(text.replace("\r\n", "").replace("\n", "")):
        try:
            out.append(base64.b64decode(token + "=" * (-len(token) % 4)).decode("utf-8", "ignore"))
        except ValueError:
            continue
    return out


def visible(raw: bytes, _depth: int = 0) -> str:
    """Everything a recipient could read in `raw`, decoded, one string: headers, file names,
    parts, HTML without its tags, base64 tokens and base64-encoded forwarded messages decoded."""
    out: list[str] = [raw.decode("utf-8", "replace")]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    _walk(msg, out)
    for part in msg.walk():
        cte = str(part.get("Content-Transfer-Encoding", "")).lower()
        if part.get_content_type() == "message/rfc822" and cte == "base64" and _depth < 5:
            inner = part.get_payload(0)
            payload = inner.get_payload() if isinstance(inner, Message) else ""
            if isinstance(payload, str):
                b64 = "".join(payload.split())
                out.append(visible(base64.b64decode(b64 + "=" * (-len(b64) % 4)), _depth + 1))
    text = "\n".join(out)
    return "\n".join([text, _TAG.sub("", text), *_decoded_tokens(text)])


def leaks(raw: bytes, values: list[str]) -> list[str]:
    """The values (compared without separators) still readable in `raw`."""
    seen = compact(visible(raw))
    return [v for v in values if compact(v) in seen]


def _base(subject: str = "Your case") -> EmailMessage:
    m = EmailMessage()
    m["From"] = SENDER
    m["To"] = EXTERNAL
    m["Subject"] = subject
    m["Message-ID"] = "<redact-case@example.com>"
    return m


def header_mail(name: str, value_text: str) -> bytes:
    m = _base()
    m[name] = value_text
    m.set_content("Please see the note in the header.\n")
    return m.as_bytes()


def subject_mail(value_text: str) -> bytes:
    m = _base(value_text)
    m.set_content("Hello, see subject.\n")
    return m.as_bytes()


def display_name_mail(value_text: str) -> bytes:
    m = _base(value_text)
    del m["From"]
    m["From"] = f'"{value_text}" <{SENDER}>'
    m.set_content("Hello.\n")
    return m.as_bytes()


def filename_mail(value_text: str) -> bytes:
    m = _base()
    m.set_content("Attached.\n")
    m.add_attachment(b"nothing to see\n", maintype="text", subtype="plain", filename=f"{value_text}.txt")
    return m.as_bytes()


def forwarded_subject_mail(value_text: str) -> bytes:
    inner = EmailMessage()
    inner["From"] = "carol@customer.net"
    inner["Subject"] = value_text
    inner.set_content("See the subject.\n")
    m = _base("Fwd: case")
    m.set_content("Forwarding.\n")
    m.add_attachment(inner)
    return m.as_bytes()


def forwarded_base64_mail(value_text: str) -> bytes:
    inner = EmailMessage()
    inner["From"] = "carol@customer.net"
    inner["Subject"] = "inner"
    inner.set_content(value_text + "\n")
    m = _base("Fwd: case")
    m.set_content("Forwarding.\n")
    m.add_attachment(inner.as_bytes(), maintype="message", subtype="rfc822", cte="base64")
    return m.as_bytes()


def html_split_mail(value_text: str) -> bytes:
    m = _base()
    m.set_content("See the HTML version.\n")
    head, tail = value_text[: len(value_text) // 2], value_text[len(value_text) // 2 :]
    m.add_alternative(f"<p>Details: {head}<b>{tail}</b></p>\n", subtype="html")
    return m.as_bytes()


def latin1_qp_mail(value_text: str) -> bytes:
    m = _base()
    m.set_content(f"Grüße aus Köln; {value_text}; à bientôt\n", charset="iso-8859-1", cte="quoted-printable")
    return m.as_bytes()


def csv_attachment_mail(value_text: str) -> bytes:
    m = _base()
    m.set_content("The row is attached.\n")
    m.add_attachment(
        f"name,value\ncustomer,{value_text}\n".encode(), maintype="text", subtype="csv", filename="row.csv"
    )
    return m.as_bytes()


def base64_token_mail(value_text: str) -> bytes:
    m = _base()
    token = base64.b64encode(value_text.encode()).decode()
    m.set_content(f"encoded for you: {token}\n")
    return m.as_bytes()


def preamble_mail(value_text: str) -> bytes:
    m = _base()
    m.set_content("Hello.\n")
    m.add_attachment(b"x\n", maintype="text", subtype="plain", filename="x.txt")
    m.preamble = f"Note: {value_text}\n"
    return m.as_bytes()


def pdf_attachment_mail(value_text: str, pdf: Callable[[str], bytes]) -> bytes:
    m = _base()
    m.set_content("The statement is attached.\n")
    m.add_attachment(pdf(value_text), maintype="application", subtype="pdf", filename="statement.pdf")
    return m.as_bytes()


@dataclass(frozen=True)
class Place:
    """One place a value can be written, and how to write a message with it there."""

    name: str
    build: Callable[[str], bytes]


PLACES = [
    Place("subject", subject_mail),
    Place("x-header", lambda v: header_mail("X-Customer-Note", v)),
    Place("comments", lambda v: header_mail("Comments", v)),
    Place("thread-topic", lambda v: header_mail("Thread-Topic", v)),
    Place("display-name", display_name_mail),
    Place("file-name", filename_mail),
    Place("forwarded-subject", forwarded_subject_mail),
    Place("forwarded-base64", forwarded_base64_mail),
    Place("html-split-by-tag", html_split_mail),
    Place("latin1-quoted-printable", latin1_qp_mail),
    Place("csv-attachment", csv_attachment_mail),
    Place("base64-token", base64_token_mail),
    Place("preamble", preamble_mail),
]
