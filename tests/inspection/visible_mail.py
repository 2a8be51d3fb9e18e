# ruff: noqa: E501 - MIME bodies read best as one line each, as they appear in the file
"""Mail shapes that hide a text in a place a recipient can see: headers, HTML markup, MIME
framing, base64 variants, wide text encodings, every attachment format, and what cannot be read.

`CASES` maps a case id to (class, build); build(text) returns the raw message carrying `text`
there. Tests hide a value generated in the test and send the same shape with a clean text as
the control. `UNREADABLE` pairs a message that must be held as UNSCANNABLE with a readable
control of the same shape that must pass.
"""

from __future__ import annotations

import base64
import os
import random
from collections.abc import Callable
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr

from tests.inspection.visible_formats import FORMATS, pdf

Build = Callable[[str], bytes]
SENDER = "agent@example.com"
RCPT = "customer@partner.net"


def _mail(body: str = "Hello, see below.", *, headers: dict[str, str] | None = None) -> EmailMessage:
    m = EmailMessage()
    m["From"] = SENDER
    m["To"] = RCPT
    m["Subject"] = "Your request"
    for k, v in (headers or {}).items():
        del m[k]
        m[k] = v
    m.set_content(body)
    return m


def _raw(head: str, body: str) -> bytes:
    return (head.replace("\n", "\r\n") + "\r\n\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


def _head(**extra: str) -> str:
    lines = [f"From: {SENDER}", f"To: {RCPT}", "Subject: Your request", "MIME-Version: 1.0"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    return "\n".join(lines)


# -- headers ---------------------------------------------------------------------------------------
def _display(field: str) -> Build:
    def build(text: str) -> bytes:
        m = _mail()
        addr = SENDER if field == "From" else RCPT
        del m[field]
        m[field] = formataddr((text, addr))
        return m.as_bytes()

    return build


def _encoded_display(text: str) -> bytes:
    name = Header(text, "utf-8").encode()
    return _raw(_head().replace(f"To: {RCPT}", f"To: {name} <{RCPT}>"), "Hello.\n")


def _header(name: str) -> Build:
    return lambda text: _mail(headers={name: text}).as_bytes()


def _late_header(text: str) -> bytes:
    filler = "\n".join(f"X-Filler-{i}: routine value {i}" for i in range(600))
    return _raw(_head() + "\n" + filler + f"\nX-Note: {text}", "Hello.\n")


def _part_header(text: str) -> bytes:
    m = _mail()
    m.add_attachment(b"ordinary text\n", maintype="text", subtype="plain", filename="a.txt")
    part = m.get_payload()[1]
    part["Content-Description"] = text
    return m.as_bytes()


def _in_reply_to(text: str) -> bytes:
    return _mail(headers={"In-Reply-To": f"<{text.replace(' ', '.')}@mail.example.com>"}).as_bytes()


# -- HTML ------------------------------------------------------------------------------------------
def _html(markup: Callable[[str], str]) -> Build:
    def build(text: str) -> bytes:
        m = _mail("See the HTML version.")
        m.add_alternative(
            f"<html><body><p>Hello,</p>{markup(text)}<p>Regards</p></body></html>", subtype="html"
        )
        return m.as_bytes()

    return build


def _pct(text: str) -> str:
    return text.replace(" ", "%20")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


HTML_CASES: dict[str, Callable[[str], str]] = {
    "comment": lambda t: f"<!-- {t} -->",
    "cdata": lambda t: f"<![CDATA[ {t} ]]>",
    "href-query": lambda t: f'<a href="https://pay.example.net/form?note={_pct(t)}">pay</a>',
    "data-attribute": lambda t: f'<div data-note="{t}">details</div>',
    "input-value": lambda t: f'<form><input type="hidden" name="n" value="{t}"></form>',
    "img-alt": lambda t: f'<img src="cid:logo" alt="{t}">',
    "title-attribute": lambda t: f'<span title="{t}">hover me</span>',
    "meta-content": lambda t: f'<meta name="description" content="{t}">',
    "data-uri-text": lambda t: f'<a href="data:text/plain;base64,{_b64(t)}">note</a>',
    "data-uri-html": lambda t: f'<iframe src="data:text/html,{_pct("<p>" + t + "</p>")}"></iframe>',
    "hidden-span": lambda t: f'<span style="display:none">{t}</span>',
    "split-by-tags": lambda t: "".join(f"<b>{c}</b>" if c.isdigit() else c for c in t),
    "after-html-end": lambda t: f"</body></html><p>{t}</p>",
    "unterminated-tag": lambda t: f"<p>{t}</p><div title='x",
}


# -- MIME framing and base64 -----------------------------------------------------------------------
def _multipart(preamble: str = "", epilogue: str = "") -> Callable[[str], bytes]:
    def build(text: str) -> bytes:
        pre = preamble.format(text=text)
        epi = epilogue.format(text=text)
        body = f"{pre}\n--BND\nContent-Type: text/plain\n\nHello.\n--BND\nContent-Type: text/plain\n\nRegards.\n--BND--\n{epi}"
        return _raw(_head(Content_Type='multipart/mixed; boundary="BND"'), body)

    return build


def _b64_part(urlsafe: bool) -> Build:
    def build(text: str) -> bytes:
        payload = f"Customer note: {text}.\n".encode()
        enc = base64.urlsafe_b64encode(payload) if urlsafe else base64.b64encode(payload)
        enc = enc.rstrip(b"=")
        body = f'--BND\nContent-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: base64\n\n{enc.decode()}\n--BND--\n'
        return _raw(_head(Content_Type='multipart/mixed; boundary="BND"'), body)

    return build


def _b64_in_text(urlsafe: bool, pad: bool) -> Build:
    def build(text: str) -> bytes:
        raw = f"note: {text}".encode()
        enc = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode()
        return _mail(f"Reference (encoded): {enc if pad else enc.rstrip('=')}\n").as_bytes()

    return build


def _b64_long(text: str) -> bytes:
    rng = random.Random(5)
    words = " ".join(rng.choice(["order", "delivery", "status", "customer", "ok"]) for _ in range(2000))
    enc = base64.b64encode(f"{words} {text} {words}".encode()).decode()
    return _mail(f"Log export (base64): {enc}\n").as_bytes()


def _b64_beyond_first(text: str) -> bytes:
    decoys = " ".join(base64.b64encode(f"status line {i} ok".encode()).decode() for i in range(150))
    return _mail(f"Log: {decoys} {_b64('note: ' + text)}\n").as_bytes()


def _forwarded_base64(text: str) -> bytes:
    inner = _mail(f"Customer wrote: {text}").as_bytes()
    enc = base64.encodebytes(inner).decode()
    body = (
        "--BND\nContent-Type: text/plain\n\nForwarding the thread below.\n"
        f"--BND\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{enc}--BND--\n"
    )
    return _raw(_head(Content_Type='multipart/mixed; boundary="BND"'), body)


# -- text encodings ----------------------------------------------------------------------------------
def _wide(encoding: str, bom: bytes) -> Build:
    def build(text: str) -> bytes:
        data = bom + f"Name\tNote\r\nAnn Lee\t{text}\r\nBo Chan\tcallback\r\n".encode(encoding)
        m = _mail("Export attached.")
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename="export.csv")
        return m.as_bytes()

    return build


def _attachment(build_format: Callable[[str], object]) -> Build:
    def build(text: str) -> bytes:
        carrier = build_format(text)
        name, ctype, data = carrier  # type: ignore[misc]
        m = _mail("See attached.")
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        return m.as_bytes()

    return build


CASES: dict[str, tuple[str, Build]] = {
    "from-display-name": ("Headers", _display("From")),
    "to-display-name": ("Headers", _display("To")),
    "cc-display-name": ("Headers", _display("Cc")),
    "reply-to-display-name": ("Headers", _display("Reply-To")),
    "rfc2047-display-name": ("Headers", _encoded_display),
    "thread-topic": ("Headers", _header("Thread-Topic")),
    "x-header": ("Headers", _header("X-Customer-Note")),
    "in-reply-to": ("Headers", _in_reply_to),
    "header-601": ("Headers", _late_header),
    "mime-part-header": ("Headers", _part_header),
    **{f"html-{k}": ("HTML", _html(v)) for k, v in HTML_CASES.items()},
    "preamble": ("MIME", _multipart(preamble="Note: {text}")),
    "epilogue": ("MIME", _multipart(epilogue="Note: {text}")),
    "base64-part-unpadded": ("MIME", _b64_part(urlsafe=False)),
    "base64-part-urlsafe": ("MIME", _b64_part(urlsafe=True)),
    "base64-text-unpadded": ("MIME", _b64_in_text(urlsafe=False, pad=False)),
    "base64-text-urlsafe": ("MIME", _b64_in_text(urlsafe=True, pad=False)),
    "base64-text-very-long": ("MIME", _b64_long),
    "base64-text-after-150-tokens": ("MIME", _b64_beyond_first),
    "forwarded-base64": ("MIME", _forwarded_base64),
    "utf16le-bom": ("Text encodings", _wide("utf-16-le", b"\xff\xfe")),
    "utf16le-no-bom": ("Text encodings", _wide("utf-16-le", b"")),
    "utf16be-bom": ("Text encodings", _wide("utf-16-be", b"\xfe\xff")),
    "utf32le-bom": ("Text encodings", _wide("utf-32-le", b"\xff\xfe\x00\x00")),
    "utf32le-no-bom": ("Text encodings", _wide("utf-32-le", b"")),
    **{
        f"file-{k}": (
            "Office and PDF"
            if k.startswith(("docx", "xlsx", "pdf", "pptx", "od", "rtf"))
            else "Archives and containers",
            _attachment(v),
        )
        for k, v in FORMATS.items()
    },
}


# -- what cannot be read, and its readable twin ------------------------------------------------------
def _armor(data: bytes) -> str:
    """Base64 wrapped at 64 columns, as OpenPGP armour is (RFC 4880 section 6.3)."""
    text = base64.b64encode(data).decode()
    return "\n".join(text[i : i + 64] for i in range(0, len(text), 64))


def _pgp(armored: bool) -> bytes:
    if armored:
        body = "-----BEGIN PGP MESSAGE-----\n\n" + _armor(os.urandom(300)) + "\n-----END PGP MESSAGE-----\n"
    else:
        body = (
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nYour order 12 of 3 shipped.\n-----BEGIN PGP SIGNATURE-----\n\n"
            + _armor(os.urandom(60))
            + "\n-----END PGP SIGNATURE-----\n"
        )
    return _mail(body).as_bytes()


def _multipart_encrypted(encrypted: bool) -> bytes:
    if encrypted:
        body = (
            "--BND\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n"
            "--BND\nContent-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n\n"
            + _armor(os.urandom(200))
            + "\n-----END PGP MESSAGE-----\n--BND--\n"
        )
        ctype = 'multipart/encrypted; protocol="application/pgp-encrypted"; boundary="BND"'
    else:
        body = (
            "--BND\nContent-Type: text/plain\n\nYour order 12 of 3 shipped.\n"
            "--BND\nContent-Type: application/pgp-signature\n\n-----BEGIN PGP SIGNATURE-----\n\n"
            + _armor(os.urandom(60))
            + "\n-----END PGP SIGNATURE-----\n--BND--\n"
        )
        ctype = 'multipart/signed; protocol="application/pgp-signature"; micalg=pgp-sha256; boundary="BND"'
    return _raw(_head(Content_Type=ctype), body)


def _smime(enveloped: bool) -> bytes:
    blob = base64.encodebytes(os.urandom(600)).decode()
    if enveloped:
        return _raw(
            _head(
                Content_Type='application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
                Content_Transfer_Encoding="base64",
                Content_Disposition='attachment; filename="smime.p7m"',
            ),
            blob,
        )
    body = (
        "--BND\nContent-Type: text/plain\n\nYour order 12 of 3 shipped.\n"
        '--BND\nContent-Type: application/pkcs7-signature; name="smime.p7s"\nContent-Transfer-Encoding: base64\n\n'
        f"{blob}--BND--\n"
    )
    return _raw(
        _head(Content_Type='multipart/signed; protocol="application/pkcs7-signature"; boundary="BND"'), body
    )


def _binary(unknown: bool) -> bytes:
    m = _mail("See attached.")
    if unknown:
        data = random.Random(3).randbytes(4000)
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename="data.bin")
    else:
        png = bytes.fromhex(
            "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cf000000030101003d8b4d3b0000000049454e44ae426082"
        )
        m.add_attachment(png, maintype="image", subtype="png", filename="logo.png")
    return m.as_bytes()


def _pdf_password(locked: bool) -> bytes:
    m = _mail("See attached.")
    data = pdf("Order 12 of 3", password="s3cret") if locked else pdf("Order 12 of 3")
    m.add_attachment(data, maintype="application", subtype="pdf", filename="statement.pdf")
    return m.as_bytes()


def _ooxml_password(locked: bool) -> bytes:
    from tests.inspection.visible_formats import DOCX, docx, encrypted_ooxml

    m = _mail("See attached.")
    maintype, subtype = DOCX.split("/")
    m.add_attachment(
        encrypted_ooxml() if locked else docx("Order 12 of 3"),
        maintype=maintype,
        subtype=subtype,
        filename="letter.docx",
    )
    return m.as_bytes()


def _rar(rar: bool) -> bytes:
    from tests.inspection.inspection_builders import zip_of

    m = _mail("See attached.")
    if rar:
        data = b"Rar!\x1a\x07\x01\x00" + random.Random(4).randbytes(500)
        m.add_attachment(data, maintype="application", subtype="vnd.rar", filename="notes.rar")
    else:
        m.add_attachment(
            zip_of({"notes.txt": b"Order 12 of 3"}),
            maintype="application",
            subtype="zip",
            filename="notes.zip",
        )
    return m.as_bytes()


def _encrypted_zip(encrypted: bool) -> bytes:
    from tests.inspection.inspection_builders import zip_of

    m = _mail("See attached.")
    m.add_attachment(
        zip_of({"notes.txt": b"Order 12 of 3"}, encrypted_flag=encrypted),
        maintype="application",
        subtype="zip",
        filename="notes.zip",
    )
    return m.as_bytes()


def _doc_password(locked: bool) -> bytes:
    from tests.inspection.visible_formats import legacy_doc

    m = _mail("See attached.")
    m.add_attachment(
        legacy_doc("Order 12 of 3", encrypted=locked),
        maintype="application",
        subtype="msword",
        filename="letter.doc",
    )
    return m.as_bytes()


#: id -> build(unreadable: bool): True builds the unreadable message, False its readable twin.
UNREADABLE: dict[str, Callable[[bool], bytes]] = {
    "pgp-armored-text": _pgp,
    "multipart-encrypted": _multipart_encrypted,
    "smime-enveloped": _smime,
    "unknown-binary": _binary,
    "password-pdf": _pdf_password,
    "password-docx": _ooxml_password,
    "password-doc": _doc_password,
    "encrypted-zip": _encrypted_zip,
    "rar": _rar,
}
