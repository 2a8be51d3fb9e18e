"""Extraction: every encoding, part and attachment is read, and nothing hostile passes unscanned."""

from __future__ import annotations

import base64
import email.policy
import gzip
import time
from email.message import EmailMessage

import pytest
from inspection_builders import docx_with_text, pdf_with_text, xlsx_with_rows, zip_bomb, zip_of

from guard.inspection import Inspector
from guard.model import Action, Audience, Channel, OutboundMessage

CARD = "4111 1111 1111 1111"


def _mail(body: str = "hello", **kw: object) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "agent@example.com"
    m["To"] = "someone@customer.net"
    m["Subject"] = str(kw.get("subject", "hi"))
    m.set_content(body)
    return m


def _verdict(inspector: Inspector, raw: bytes):  # type: ignore[no-untyped-def]
    return inspector.inspect(OutboundMessage(channel=Channel.SMTP, raw=raw, recipients=("x@customer.net",)))


def _types(inspector: Inspector, raw: bytes) -> set[str]:
    return {f.type for f in _verdict(inspector, raw).findings}


def test_plain_text_body(inspector: Inspector) -> None:
    assert "CREDIT_CARD" in _types(inspector, _mail(f"card {CARD}").as_bytes())


def test_subject_is_scanned(inspector: Inspector) -> None:
    assert "US_SSN" in _types(inspector, _mail(subject="SSN 591-68-1251").as_bytes())


@pytest.mark.parametrize("cte", ["base64", "quoted-printable", "8bit", "7bit"])
def test_transfer_encodings(inspector: Inspector, cte: str) -> None:
    m = _mail()
    m.set_content(f"card {CARD}" + (" é" if cte != "7bit" else ""), cte=cte)
    assert "CREDIT_CARD" in _types(inspector, m.as_bytes())


def test_quoted_printable_soft_break_inside_the_number(inspector: Inspector) -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@customer.net\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"card 4111 11=\r\n11 1111 1111 thanks\r\n"
    )
    assert "CREDIT_CARD" in _types(inspector, raw)


def test_unknown_charset_falls_back(inspector: Inspector) -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@customer.net\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\ncard 4111 1111 1111 1111 \xff\xfe\r\n"
    )
    assert "CREDIT_CARD" in _types(inspector, raw)


def test_html_part_with_tags_and_comments_between_digits(inspector: Inspector) -> None:
    m = _mail("see html")
    m.add_alternative(
        "<p>card <b>4111</b><!-- x --><i>1111</i>1111<span style='display:none'>1111</span></p>",
        subtype="html",
    )
    assert "CREDIT_CARD" in _types(inspector, m.as_bytes())


def test_forwarded_message(inspector: Inspector) -> None:
    inner = _mail(f"card {CARD}")
    outer = _mail("FYI, see below")
    outer.add_attachment(inner)
    v = _verdict(inspector, outer.as_bytes())
    cards = [f for f in v.findings if f.type == "CREDIT_CARD"]
    assert cards and "forwarded" in v.segments[cards[0].segment].source


@pytest.mark.parametrize(
    ("name", "maintype", "subtype", "data"),
    [
        ("customers.csv", "text", "csv", b"name,card\nAnn Lee,4111 1111 1111 1111\n"),
        ("data.json", "application", "json", b'{"customer": {"ssn": "591-68-1251"}}'),
        ("statement.pdf", "application", "pdf", pdf_with_text("Card 4111 1111 1111 1111")),
        (
            "letter.docx",
            "application",
            "vnd.openxmlformats-officedocument.wordprocessingml.document",
            docx_with_text("IBAN DE89 3704 0044 0532 0130 00"),
        ),
        (
            "sheet.xlsx",
            "application",
            "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            xlsx_with_rows([["name", "ssn"], ["Ann Lee", "591-68-1251"]]),
        ),
        (
            "nested.zip",
            "application",
            "zip",
            zip_of({"inner.zip": zip_of({"a.txt": b"card 4111 1111 1111 1111"})}),
        ),
        ("notes.txt.gz", "application", "gzip", gzip.compress(b"SSN 591-68-1251")),
    ],
)
def test_attachments(inspector: Inspector, name: str, maintype: str, subtype: str, data: bytes) -> None:
    m = _mail("see attached")
    m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    v = _verdict(inspector, m.as_bytes())
    sensitive = [f for f in v.findings if f.type in ("CREDIT_CARD", "US_SSN", "IBAN")]
    assert sensitive, [(f.type, f.preview) for f in v.findings]
    assert name in v.segments[sensitive[0].segment].source


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("bomb.zip", zip_bomb(), "bomb"),
        ("secret.zip", zip_of({"a.txt": b"x" * 100}, encrypted_flag=True), "encrypted"),
        ("broken.pdf", b"%PDF-1.4\n garbage", ""),
        ("broken.zip", b"PK\x03\x04 not really", "ZIP"),
        ("bomb.gz", gzip.compress(b"\0" * (80 * 1024 * 1024)), "bomb"),
    ],
)
def test_hostile_attachments_fail_closed(inspector: Inspector, name: str, data: bytes, why: str) -> None:
    m = _mail("see attached")
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    started = time.perf_counter()
    v = _verdict(inspector, m.as_bytes())
    assert time.perf_counter() - started < 10
    unscannable = [f for f in v.findings if f.type == "UNSCANNABLE"]
    assert unscannable, "a hostile attachment must not pass as clean"
    assert why.lower() in unscannable[0].preview.lower()
    assert v.decisions[Audience.EXTERNAL].action in (Action.QUARANTINE, Action.BLOCK)


def test_deeply_nested_multipart_fails_closed(inspector: Inspector) -> None:
    inner = _mail("leaf")
    for _ in range(30):
        outer = EmailMessage()
        outer["Subject"] = "nest"
        outer.make_mixed()
        outer.attach(inner)
        inner = outer
    v = _verdict(inspector, inner.as_bytes(policy=email.policy.SMTP))
    assert any(f.type == "UNSCANNABLE" for f in v.findings)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nbroken",
        b"Subject: =?utf-8?b?invalid base64?=\r\n\r\nbody",
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64",
        b"From: a\r\n" * 5000 + b"\r\nbody",
    ],
)
def test_malformed_mime_never_crashes(inspector: Inspector, raw: bytes) -> None:
    _verdict(inspector, raw)


def test_malformed_base64_still_scans_what_is_readable(inspector: Inspector) -> None:
    body = base64.b64encode(f"card {CARD}".encode()).decode()[:-3] + "!!"
    raw = (
        "From: a@example.com\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body
    ).encode()
    _verdict(inspector, raw)  # must not raise


def test_large_message_is_inspected_quickly(inspector: Inspector) -> None:
    body = ("Hello, this is an ordinary paragraph of a long report. " * 20 + "\n") * 9000  # ~10 MB
    body += f"\ncard {CARD}\n"
    started = time.perf_counter()
    v = inspector.inspect(OutboundMessage(channel=Channel.API, text=body, audience=Audience.EXTERNAL))
    elapsed = time.perf_counter() - started
    assert any(f.type == "CREDIT_CARD" for f in v.findings)
    assert elapsed < 20  # generous: a correctness check; speed is measured in tests/bench


def test_custom_and_encoded_headers_are_scanned(inspector: Inspector) -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@customer.net\r\nX-Note: card 4111 1111 1111 1111\r\n"
        b"Subject: =?utf-8?b?U1NOIDU5MS02OC0xMjUx?=\r\n\r\nhello\r\n"
    )
    v = _verdict(inspector, raw)
    sources = {(f.type, v.segments[f.segment].source) for f in v.findings}
    assert ("CREDIT_CARD", "header X-Note") in sources
    assert ("US_SSN", "header Subject") in sources
    assert not [f for f in v.findings if f.type == "EMAIL"]  # address headers are routing, not content


def test_number_split_across_two_parts_is_found_at_the_joint(inspector: Inspector) -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@customer.net\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        b"card 4111 1111\r\n--B\r\nContent-Type: text/plain\r\n\r\n1111 1111\r\n--B--\r\n"
    )
    v = _verdict(inspector, raw)
    [card] = [f for f in v.findings if f.type == "CREDIT_CARD"]
    assert v.segments[card.segment].source == "part 1 text/plain + part 2 text/plain (joined)"


def test_base64_encoded_by_the_sender_is_decoded(inspector: Inspector) -> None:
    text = "card (b64): NDExMSAxMTExIDExMTEgMTExMQ== and secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    v = inspector.inspect(OutboundMessage(channel=Channel.API, text=text))
    cards = [f for f in v.findings if f.type == "CREDIT_CARD"]
    assert cards and v.segments[cards[0].segment].kind == "decoded"
    assert v.segments[cards[0].segment].parent == 0
    assert not [s for s in v.segments if s.kind == "decoded" and "wJalr" in s.source]


def test_right_to_left_override_is_read_in_display_order(inspector: Inspector) -> None:
    text = "card \u202e1111 1111 1111 1114\u202c thanks"
    [card] = [f for f in inspector.scan_text(text) if f.type == "CREDIT_CARD"]
    assert text[card.start : card.end] == "\u202e1111 1111 1111 1114\u202c"
