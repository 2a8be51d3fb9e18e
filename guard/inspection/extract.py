"""Extraction: every piece of text in a message, and where it came from.

Handles any RFC 5322/MIME message with the standard `email` package: every transfer encoding
and charset (unknown charsets fall back, never crash), HTML (tags and comments dropped,
entities kept for the normaliser, hidden text kept), forwarded `message/rfc822` parts, and
attachments: text, CSV, JSON, PDF, DOCX, XLSX, ZIP (recursive). Whatever cannot be inspected
within the limits (a bomb, an encrypted archive, a broken document, too deep) is reported as
UNSCANNABLE so that the policy fails closed.
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from html.parser import HTMLParser

import re2

from guard.inspection.ocr import Ocr, OcrBudget, OcrUnreadable, image_format
from guard.model import Channel, OutboundMessage, Segment


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 6  # nesting of multiparts, forwards and archives together
    max_parts: int = 500
    max_archive_members: int = 1000
    max_total_bytes: int = 200 * 1024 * 1024  # decompressed bytes across the message
    max_ratio: int = 150  # decompressed / compressed size of one archive member
    max_chars: int = 20_000_000  # text handed to the detectors
    ocr: Ocr | None = None  # reads images and scanned PDF pages (guard/inspection/ocr.py)


@dataclass(slots=True)
class Extraction:
    segments: list[Segment] = field(default_factory=list)
    unscannable: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    budget: int = 0
    parts: int = 0
    chars: int = 0
    ocr_budget: OcrBudget | None = None  # this message's OCR time, started at its first image

    def add(self, text: str, source: str, kind: str, limits: Limits) -> None:
        if not text:
            return
        if self.chars + len(text) > limits.max_chars:
            self.unscannable.append((source, "text beyond the inspection size limit"))
            text = text[: max(0, limits.max_chars - self.chars)]
            if not text:
                return
        self.chars += len(text)
        self.segments.append(Segment(text=text, source=source, kind=kind))


_BLOCK_TAGS = frozenset(
    """
p div br tr li ul ol table h1 h2 h3 h4 h5 h6 blockquote pre section article header footer hr dt dd
""".split()
)
_CELL_TAGS = frozenset({"td", "th"})


class _HtmlText(HTMLParser):
    """HTML to text: tags and comments vanish (so digits split by them join up), blocks become
    line breaks, cells tabs; character references are left for the normaliser to decode with
    an exact offset map; hidden elements are kept, because hidden text still leaves."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.out.append("\n")
        elif tag in _CELL_TAGS:
            self.out.append("\t")
        for name, value in attrs:
            if name in ("alt", "title") and value:
                self.out.append(f" {value} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")


def html_to_text(markup: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient, but never let markup stop inspection
        return markup
    return "".join(parser.out)


def _decode(payload: bytes, charset: str | None) -> str:
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        try:
            return payload.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")  # every byte decodes; digits and ASCII stay exact


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return decode_header_value(str(name)) if name else ""


def decode_header_value(value: object) -> str:
    """RFC 2047 encoded words decoded; anything undecodable kept as it came."""
    text = str(value)
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text


_NOT_CONTENT_HEADERS = frozenset(
    {
        "received",
        "return-path",
        "message-id",
        "in-reply-to",
        "references",
        "date",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "content-id",
        "content-length",
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "sender",
        "delivered-to",
        "envelope-to",
        "dkim-signature",
        "domainkey-signature",
        "authentication-results",
        "received-spf",
        "list-unsubscribe",
        "list-id",
        "x-mailer",
        "user-agent",
        "precedence",
        "auto-submitted",
        "importance",
        "priority",
        "x-priority",
        "thread-index",
        "thread-topic",
        "content-language",
        "accept-language",
    }
)
_NOT_CONTENT_PREFIXES = ("arc-", "x-ms-", "x-google-", "x-guard-", "x-spam", "x-originating", "resent-")


def _text_from_pdf(data: bytes) -> str:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        raise ValueError("encrypted PDF")
    texts = []
    for i, page in enumerate(reader.pages):
        if i >= 2000:
            raise ValueError("too many pages")
        texts.append(page.extract_text() or "")
    return "\n".join(texts)


def _text_from_docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def _text_from_xlsx(data: bytes) -> str:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    lines = []
    try:
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                lines.append("\t".join("" if v is None else str(v) for v in row))
    finally:
        book.close()
    return "\n".join(lines)


def _looks_textual(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4  # cut in the middle of a character


class Extractor:
    """Turns an OutboundMessage into text segments within the limits."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    def extract(self, message: OutboundMessage) -> Extraction:
        ex = Extraction(budget=self.limits.max_total_bytes)
        if message.raw is not None:
            self._message_bytes(message.raw, "body", ex, depth=0)
        if message.text is not None:
            ex.add(message.text, "text", "text", self.limits)
        if message.subject and message.raw is None:
            ex.add(message.subject, "header Subject", "header", self.limits)
        return ex

    # -- mail ---------------------------------------------------------------------------------
    def _message_bytes(self, raw: bytes, source: str, ex: Extraction, depth: int) -> None:
        try:
            # compat32 parses about 7x faster than policy.default (no header objects); the few
            # headers we read are decoded explicitly below.
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        except Exception:
            ex.unscannable.append((source, "message could not be parsed"))
            ex.add(raw.decode("latin-1"), source, "text", self.limits)
            return
        self._headers(msg, source, ex)
        self._part(msg, source, ex, depth)

    def _headers(self, msg: Message, source: str, ex: Extraction) -> None:
        """Every header a person or program could have written text into (Subject, Comments,
        X-… notes), decoded; routing, structure and address headers are not content."""
        prefix = "" if source == "body" else f"{source} "
        for name, value in msg.items()[:500]:
            if name.lower() in _NOT_CONTENT_HEADERS or name.lower().startswith(_NOT_CONTENT_PREFIXES):
                continue
            text = decode_header_value(value)
            if text.strip():
                ex.add(text, f"{prefix}header {name}", "header", self.limits)

    def _part(self, part: Message, source: str, ex: Extraction, depth: int) -> None:
        ex.parts += 1
        if ex.parts > self.limits.max_parts:
            if ex.parts == self.limits.max_parts + 1:
                ex.unscannable.append((source, f"more than {self.limits.max_parts} MIME parts"))
            return
        if depth > self.limits.max_depth:
            ex.unscannable.append((source, "nested too deeply"))
            return
        ctype = part.get_content_type()
        if ctype == "message/rfc822":  # checked first: the email package also calls it multipart
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                fwd = f"{source} forwarded"
                self._headers(inner, fwd, ex)
                self._part(inner, fwd, ex, depth + 1)
            return
        if part.is_multipart():
            payload = part.get_payload()
            children = payload if isinstance(payload, list) else []
            for i, child in enumerate(children, 1):
                child_source = f"part {i}" if source == "body" else f"{source}.{i}"
                if isinstance(child, Message):
                    self._part(child, child_source, ex, depth + 1)
            return
        try:
            decoded = part.get_payload(decode=True)
        except Exception:
            decoded = None
        if isinstance(decoded, bytes):
            data = decoded
        else:
            raw_payload = part.get_payload()
            data = raw_payload.encode("utf-8", "surrogateescape") if isinstance(raw_payload, str) else b""
        if len(data) > ex.budget:
            ex.unscannable.append((source, "part larger than the inspection budget"))
            return
        ex.budget -= len(data)
        name = _filename(part)
        if name:  # a file name is text the recipient reads too
            ex.add(name, f"{source} filename", "header", self.limits)
        label = f"{source} attachment {name}" if name else f"{source} {ctype}"
        charset = part.get_content_charset()
        self._content(
            data,
            ctype,
            name,
            charset,
            label,
            ex,
            depth,
            is_attachment=bool(name) or part.get_content_disposition() == "attachment",
        )

    # -- content by type -----------------------------------------------------------------------
    def _content(
        self,
        data: bytes,
        ctype: str,
        name: str,
        charset: str | None,
        source: str,
        ex: Extraction,
        depth: int,
        *,
        is_attachment: bool,
    ) -> None:
        lower = name.lower()
        kind = "attachment" if is_attachment else "text"
        try:
            if ctype == "text/html" or lower.endswith((".html", ".htm")):
                ex.add(
                    html_to_text(_decode(data, charset)),
                    source,
                    "html" if not is_attachment else kind,
                    self.limits,
                )
            elif (
                data[:4] == b"PK\x03\x04"
                or lower.endswith((".zip", ".docx", ".xlsx", ".xlsm"))
                or ctype
                in (
                    "application/zip",
                    "application/x-zip-compressed",
                )
            ):
                self._office_or_zip(data, lower, ctype, source, ex, depth)
            elif data[:5] == b"%PDF-" or ctype == "application/pdf" or lower.endswith(".pdf"):
                ex.add(_text_from_pdf(data), source, kind, self.limits)
                self._ocr_pdf(data, name or source, source, ex)
            elif self.limits.ocr is not None and image_format(data):
                self._ocr_image(data, name or source, source, ex)
            elif lower.endswith(".eml") or ctype == "message/rfc822":
                self._message_bytes(data, source, ex, depth + 1)
            elif data[:2] == b"\x1f\x8b" or lower.endswith(".gz"):
                self._gzip(data, lower, source, ex, depth)
            elif (
                ctype.startswith("text/")
                or ctype in ("application/json", "application/csv", "application/xml")
                or lower.endswith(
                    (
                        ".txt",
                        ".csv",
                        ".tsv",
                        ".json",
                        ".xml",
                        ".log",
                        ".md",
                        ".ini",
                        ".env",
                        ".yaml",
                        ".yml",
                        ".pem",
                        ".key",
                        ".cfg",
                        ".conf",
                    )
                )
                or _looks_textual(data)
            ):
                text = _decode(data, charset)
                if ctype == "application/json" or lower.endswith(".json"):
                    text = _json_text(text)
                ex.add(text, source, kind, self.limits)
            # Images, audio and other binary formats carry no text we can read: not scanned.
        except Unscannable as exc:
            ex.unscannable.append((source, str(exc)))
        except Exception as exc:
            ex.unscannable.append((source, f"{type(exc).__name__} while reading {ctype}"))

    # -- OCR (guard/inspection/ocr.py) ---------------------------------------------------------
    def _ocr_image(self, data: bytes, name: str, source: str, ex: Extraction) -> None:
        ocr = self.limits.ocr
        assert ocr is not None
        if ex.ocr_budget is None:
            ex.ocr_budget = ocr.budget()
        try:
            text = ocr.image_text(data, ex.ocr_budget)
        except OcrUnreadable as exc:
            ex.unscannable.append((source, str(exc)))
            return
        if text:
            ex.add(text, f"ocr {name}", "ocr", self.limits)

    def _ocr_pdf(self, data: bytes, name: str, source: str, ex: Extraction) -> None:
        """Scanned pages: pages with images and no text layer are read by OCR."""
        ocr = self.limits.ocr
        if ocr is None:
            return
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if ex.ocr_budget is None:
            ex.ocr_budget = ocr.budget()
        try:
            for page, text in ocr.pdf_page_texts(reader, ex.ocr_budget):
                ex.add(text, f"ocr {name} page {page}", "ocr", self.limits)
        except OcrUnreadable as exc:
            ex.unscannable.append((source, str(exc)))

    def _gzip(self, data: bytes, lower: str, source: str, ex: Extraction, depth: int) -> None:
        import zlib

        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        limit = min(ex.budget, len(data) * self.limits.max_ratio + 1024 * 1024)
        out = d.decompress(data, limit + 1)
        if len(out) > limit or d.unconsumed_tail:
            raise Unscannable("gzip expands beyond the size/ratio limit (decompression bomb)")
        ex.budget -= len(out)
        inner_name = lower[:-3] if lower.endswith(".gz") else ""
        self._content(
            out,
            "application/octet-stream",
            inner_name,
            None,
            f"{source} (gunzipped)",
            ex,
            depth + 1,
            is_attachment=True,
        )

    def _office_or_zip(
        self, data: bytes, lower: str, ctype: str, source: str, ex: Extraction, depth: int
    ) -> None:
        if depth + 1 > self.limits.max_depth:
            raise Unscannable("archives nested too deeply")
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise Unscannable("broken ZIP container") from None
        with zf:
            infos = zf.infolist()
            if len(infos) > self.limits.max_archive_members:
                raise Unscannable(f"archive with more than {self.limits.max_archive_members} members")
            total = 0
            for info in infos:
                if info.flag_bits & 0x1:
                    raise Unscannable("encrypted archive member")
                if (
                    info.file_size > max(info.compress_size, 1) * self.limits.max_ratio
                    and info.file_size > 1_000_000
                ):
                    raise Unscannable("archive member expands beyond the ratio limit (zip bomb)")
                total += info.file_size
            if total > ex.budget:
                raise Unscannable("archive expands beyond the inspection budget (zip bomb)")
            names = {i.filename for i in infos}
            if "word/document.xml" in names:
                ex.budget -= total
                ex.add(_text_from_docx(data), source, "attachment", self.limits)
                return
            if "xl/workbook.xml" in names:
                ex.budget -= total
                ex.add(_text_from_xlsx(data), source, "attachment", self.limits)
                return
            ex.add(
                "\n\n".join(i.filename for i in infos), f"{source} member names", "attachment", self.limits
            )
            for info in infos:
                if info.is_dir():
                    continue
                member = _read_member(zf, info, ex.budget)
                ex.budget -= len(member)
                self._content(
                    member,
                    "application/octet-stream",
                    info.filename,
                    None,
                    f"{source} > {info.filename}",
                    ex,
                    depth + 1,
                    is_attachment=True,
                )


class Unscannable(Exception):
    pass


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """Read with a hard cap: the declared size in the header may lie."""
    cap = min(budget, info.file_size)
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise Unscannable("archive member larger than declared or than the budget (zip bomb)")
    return data


def _json_text(text: str) -> str:
    """Every string and number in a JSON document, one per line (keys kept as context)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    lines: list[str] = []

    def walk(v: object, key: str = "", depth: int = 0) -> None:
        if depth > 64:
            return
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, str(k), depth + 1)
        elif isinstance(v, list):
            for x in v:
                walk(x, key, depth + 1)
        elif isinstance(v, str | int | float) and not isinstance(v, bool):
            lines.append(f"{key}: {v}" if key else str(v))

    walk(value)
    return "\n".join(lines)


# RE2 on bytes (linear, fast on megabytes); the characters around a token are checked in code.
_BASE64_TOKEN = re2.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_B64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_UNANCHORED = re2._Anchor.UNANCHORED


def _base64_tokens(text: str) -> Iterator[tuple[int, int]]:
    data = text.encode("ascii", "replace")  # one byte per character: offsets stay character offsets
    match = _BASE64_TOKEN._regexp.Match
    pos, end = 0, len(data)
    while pos < end:
        s, e = match(_UNANCHORED, data, pos, end)[0]
        if s < 0:
            break
        pos = e
        if (s and data[s - 1] in _B64_CHARS) or (e < end and data[e] in _B64_CHARS) or e - s > 4096:
            continue
        yield s, e


def decoded_segments(segments: list[Segment], limit: int = 64) -> list[Segment]:
    """Text the sender base64-encoded inside a message ("card (b64): NDExMSAx…"), decoded.

    Only tokens that decode to readable UTF-8 text count: keys and hashes, which are random
    bytes once decoded, are left to the detectors as they are.
    """
    out: list[Segment] = []
    for index, seg in enumerate(segments):
        if seg.kind in ("unscannable", "decoded") or len(out) >= limit:
            continue
        for start, end in _base64_tokens(seg.text):
            token = seg.text[start:end]
            if len(token) % 4 or (not any(c.isdigit() for c in token) and not token.endswith("=")):
                continue
            try:
                text = base64.b64decode(token, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                continue
            printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
            if len(text) >= 8 and printable >= 0.95 * len(text) and any(c.isalnum() for c in text):
                out.append(
                    Segment(
                        text=text,
                        source=f"{seg.source} (base64 decoded)",
                        kind="decoded",
                        parent=index,
                        parent_start=start,
                        parent_end=end,
                    )
                )
                if len(out) >= limit:
                    break
    return out


BODY_KINDS = ("text", "html")  # the segments that make up a message's body text


def body_text(raw: bytes) -> str:
    """The decoded body text of a message (text parts, HTML as text), for `guard scan --jsonl`."""
    ex = Extractor().extract(OutboundMessage(channel=Channel.API, raw=raw))
    return "\n".join(s.text for s in ex.segments if s.kind in BODY_KINDS)


__all__ = ["Extraction", "Extractor", "Limits", "body_text", "html_to_text"]
