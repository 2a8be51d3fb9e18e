"""One inventory of visible content (issue 11): every place a recipient can see is read.

Each case hides a card number generated here in one place (a header, an HTML attribute, a MIME
preamble, a UTF-16 export, a DOCX footnote, a tar member...) and expects it found; the same
shape with a clean text must be allowed. What cannot be read is UNSCANNABLE, its readable twin
passes. The same tables go through the real SMTP listener in
tests/reliability/test_rel_visible_mail.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from guard.inspection import Inspector
from guard.inspection.extract import Extractor, header_kind
from guard.inspection.extract_html import read_html
from guard.inspection.extract_text import decode_text, wide_encoding
from guard.model import Action, Audience, Channel, OutboundMessage
from tests.inspection.visible_formats import luhn_card
from tests.inspection.visible_mail import CASES, UNREADABLE

CARD = luhn_card()
SPACED = " ".join(CARD[i : i + 4] for i in range(0, 16, 4))
HIT = f"card {SPACED}"
CLEAN = "order 12 of 3"
CPYTHON_MAIL = Path("/root/.pyenv/versions/3.11.7/lib/python3.11/test/test_email/data")


def _inspect(inspector: Inspector, raw: bytes):  # type: ignore[no-untyped-def]
    return inspector.inspect(OutboundMessage(channel=Channel.SMTP, raw=raw, recipients=("x@partner.net",)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_hidden_value_is_found(inspector: Inspector, case: str) -> None:
    _, build = CASES[case]
    v = _inspect(inspector, build(HIT))
    cards = [f for f in v.findings if f.type == "CREDIT_CARD"]
    assert cards, (case, [(f.type, f.preview) for f in v.findings])
    assert v.action in (Action.QUARANTINE, Action.BLOCK)


@pytest.mark.parametrize("case", sorted(CASES))
def test_clean_control_passes(inspector: Inspector, case: str) -> None:
    _, build = CASES[case]
    v = _inspect(inspector, build(CLEAN))
    assert v.action is Action.ALLOW, (case, [(f.type, f.preview) for f in v.findings])


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_unreadable_is_held_and_its_twin_passes(inspector: Inspector, case: str) -> None:
    locked = _inspect(inspector, UNREADABLE[case](True))
    assert [f for f in locked.findings if f.type == "UNSCANNABLE"], case
    assert locked.action is Action.QUARANTINE
    twin = _inspect(inspector, UNREADABLE[case](False))
    assert twin.action is Action.ALLOW, (case, [(f.type, f.preview) for f in twin.findings])


def test_every_finding_source_names_where_it_was() -> None:
    raw = CASES["file-docx-footnote"][1](HIT)
    ex = Extractor().extract(OutboundMessage(channel=Channel.SMTP, raw=raw))
    [seg] = [s for s in ex.segments if SPACED in s.text]
    assert seg.source == "part 2 attachment letter.docx [word/footnotes.xml]"
    assert seg.kind == "attachment"


def test_header_kinds() -> None:
    assert header_kind("Received") == header_kind("ARC-Seal") == header_kind("References") == "trace"
    assert header_kind("From") == header_kind("Reply-To") == "address"
    assert header_kind("Subject") == header_kind("Thread-Topic") == header_kind("X-Note") == "header"


@pytest.mark.skipif(not CPYTHON_MAIL.is_dir(), reason="CPython's email test data not installed")
def test_real_bounces_and_lists_are_not_bulk_contacts(inspector: Inspector) -> None:
    """Delivery reports and list headers carry many addresses: correspondents, not customers."""
    held = []
    for path in sorted(CPYTHON_MAIL.glob("msg_*.txt")):
        v = inspector.inspect(
            OutboundMessage(channel=Channel.API, raw=path.read_bytes(), audience=Audience.EXTERNAL)
        )
        if any("bulk-contacts" in row for row in v.rows):
            held.append((path.name, v.rows, v.counts()))
    assert held == []


def test_a_card_in_a_trace_header_still_counts(inspector: Inspector) -> None:
    raw = f"From: a@example.com\r\nTo: b@partner.net\r\nReceived: from x by y; {HIT}\r\n\r\nhi\r\n"
    v = _inspect(inspector, raw.encode())
    assert "CREDIT_CARD" in v.counts()


def test_many_recipients_in_cc_are_not_a_contact_list(inspector: Inspector) -> None:
    cc = ", ".join(f"person{i}@partner.net" for i in range(60))
    raw = f"From: a@example.com\r\nTo: b@partner.net\r\nCc: {cc}\r\nSubject: s\r\n\r\nhi\r\n"
    v = _inspect(inspector, raw.encode())
    assert v.action is Action.ALLOW and "EMAIL" not in v.counts()


# -- HTML -------------------------------------------------------------------------------------------
def _adversarial_html(size: int) -> str:
    unit = "<a <b x=1 <div y=2 "  # tags that never close: quadratic for the stdlib html.parser
    return "<html><body>" + unit * (size // len(unit)) + f"><p>{HIT}</p>"


def test_a_1_mib_adversarial_html_mail_is_read_in_under_a_second(inspector: Inspector) -> None:
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.com", "b@partner.net", "html"
    m.set_content(_adversarial_html(1024 * 1024), subtype="html")
    raw = m.as_bytes()
    started = time.perf_counter()
    v = _inspect(inspector, raw)
    elapsed = time.perf_counter() - started
    print(f"\nVISIBLE html 1 MiB adversarial: inspected in {elapsed:.3f}s")
    assert elapsed < 1.0
    assert "CREDIT_CARD" in v.counts()  # the card after the junk is read


@pytest.mark.parametrize(
    "markup",
    ["<p>" * 100_000, "<a " * 300_000, "<!--" * 200_000, "<" * 1_000_000, "<a b='" + "c" * 1_000_000],
    ids=["open-p", "open-a", "open-comment", "lt", "open-quote"],
)
def test_html_reader_is_linear(markup: str) -> None:
    started = time.perf_counter()
    try:
        read_html(markup)
    except Exception as exc:  # too deep for libxml2 is a clear refusal, not a stall
        assert "deeply" in str(exc)
    assert time.perf_counter() - started < 2.0  # linear: ~0.3 s here; html.parser took minutes


def test_html_reading_keeps_markup_apart_from_text() -> None:
    r = read_html('<p title="t1">a<b>1</b>2</p><!-- c3 --><a href="/x?q=4%205">l</a><td>x</td><td>y</td>')
    assert "a12" in r.text and "x\ty" in r.text
    assert "t1" in r.markup and "c3" in r.markup and "/x?q=4 5" in r.markup
    assert "t1" not in r.text and "c3" not in r.text


def test_html_nested_beyond_libxml2_depth_is_unscannable(inspector: Inspector) -> None:
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.com", "b@partner.net", "deep"
    m.set_content("<div>" * 5000 + "text", subtype="html")
    v = _inspect(inspector, m.as_bytes())
    assert any(f.type == "UNSCANNABLE" and "deeply" in f.preview for f in v.findings)


# -- text encodings ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Name\tCard\r\nAnn\t1\r\n".encode("utf-16-le"), "utf-16-le"),
        ("Name\tCard\r\nAnn\t1\r\n".encode("utf-16-be"), "utf-16-be"),
        ("Name\tCard\r\n".encode("utf-32-le"), "utf-32-le"),
        (b"plain ascii text here", None),
        (bytes(range(256)) * 4, None),
    ],
)
def test_wide_text_is_recognised_by_its_nul_pattern(data: bytes, expected: str | None) -> None:
    assert wide_encoding(data) == expected


def test_bom_chooses_the_decoding() -> None:
    assert decode_text(b"\xff\xfe" + "4111".encode("utf-16-le")) == "4111"
    assert decode_text(b"\xff\xfe\x00\x00" + "4111".encode("utf-32-le")) == "4111"
    assert decode_text(b"\xef\xbb\xbf4111") == "4111"


# -- limits stay --------------------------------------------------------------------------------------
def test_new_formats_keep_the_bomb_limits(inspector: Inspector) -> None:
    import bz2
    import lzma
    from email.message import EmailMessage

    from tests.inspection.visible_formats import sevenzip_of, tar_of

    zeros = b"\0" * (80 * 1024 * 1024)
    for name, data in (
        ("z.bz2", bz2.compress(zeros)),
        ("z.xz", lzma.compress(zeros)),
        ("z.7z", sevenzip_of({"z.txt": zeros})),
        ("z.tar.xz", lzma.compress(tar_of({"z.txt": zeros}))),
    ):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "a@example.com", "b@partner.net", "bomb"
        m.set_content("see attached")
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
        started = time.perf_counter()
        v = _inspect(inspector, m.as_bytes())
        assert time.perf_counter() - started < 10, name
        reasons = [f.preview for f in v.findings if f.type == "UNSCANNABLE"]
        assert reasons and "bomb" in reasons[0], (name, reasons)


def test_archives_nested_beyond_the_depth_limit_are_unscannable(inspector: Inspector) -> None:
    import gzip
    from email.message import EmailMessage

    from tests.inspection.visible_formats import tar_of

    data = b"card note"
    for i in range(8):
        data = gzip.compress(tar_of({f"level{i}.tar": data}))
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.com", "b@partner.net", "deep"
    m.set_content("see attached")
    m.add_attachment(data, maintype="application", subtype="gzip", filename="deep.tar.gz")
    v = _inspect(inspector, m.as_bytes())
    assert any(f.type == "UNSCANNABLE" and "deep" in f.preview for f in v.findings)


def test_a_parser_exception_becomes_unscannable_with_a_reason(inspector: Inspector) -> None:
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.com", "b@partner.net", "broken"
    m.set_content("see attached")
    for name, data in (
        ("x.7z", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40),
        ("x.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
        ("winmail.dat", b"\x78\x9f\x3e\x22" + b"\xff" * 30),
        ("x.odt", b"PK\x03\x04 broken"),
    ):
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    v = _inspect(inspector, m.as_bytes())
    reasons = [f.preview for f in v.findings if f.type == "UNSCANNABLE"]
    assert len(reasons) == 4, reasons
    assert v.action is Action.QUARANTINE


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"])
def test_a_stray_byte_order_mark_does_not_hide_8bit_text(bom: bytes) -> None:
    card = luhn_card(11)
    text = decode_text(bom + f" card {card}\r\n".encode(), "klingon")
    assert card in text  # the 8-bit reading is kept beside the (garbage) wide one


def test_real_utf16_with_a_mark_is_read_once() -> None:
    card = luhn_card(11)
    text = decode_text(f"\ufeffcard {card}\r\n".encode("utf-16-le"), None)
    assert text == f"\ufeffcard {card}\r\n" or text == f"card {card}\r\n"


def test_a_mark_with_a_stray_nul_does_not_hide_8bit_text() -> None:
    card = luhn_card(12)
    text = decode_text(b"\xff\xfe\x00 card " + card.encode() + b"\r\n", None)
    assert card in text
