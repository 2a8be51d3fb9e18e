"""Extraction: one inventory of everything a recipient can see, each piece with its source.

Every header (RFC 2047 decoded, display names and the envelope addresses included), every
MIME part (preamble and epilogue too), every transfer encoding and charset, HTML with its
comments and attribute values, forwarded messages (also base64-encoded ones), archives and
documents read in full. What cannot be read within the limits (a bomb, an encrypted part or
document, an unknown binary, a broken file, too deep, too slow) is UNSCANNABLE, so the policy
fails closed. The readers live beside this module, one job each:

    extract_text       bytes -> text (charsets, BOMs, UTF-16/32), headers, JSON
    extract_html       HTML -> rendered text, markup text, data: URIs        (lxml, linear)
    extract_base64     base64 written inside a text; lenient base64 parts
    extract_archives   zip, tar, gzip/bzip2/xz (all members), 7z, TNEF        (bounded)
    extract_documents  DOCX/XLSX/PPTX/ODF, PDF, RTF, OLE (.doc/.xls/.ppt/.msg)

Segment kinds: `header` (written by a person: Subject, X-…, display names), `address`
(From/To/Cc… and the envelope), `trace` (Received, Message-ID, References, DKIM/ARC, delivery
reports), `text`, `html`, `markup` (HTML comments and attributes), `attachment`, `decoded`.
The correspondents' own addresses and names in `address` and `trace` segments are not customer
contacts (see `audience.correspondent_findings`), but every other finding in them counts.
"""

from __future__ import annotations

import email
import email.policy
import io
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message

import re2

from guard.inspection.extract_archives import (
    BZIP2_MAGIC,
    GZIP_MAGIC,
    RAR_MAGIC,
    SEVENZIP_MAGIC,
    TNEF_MAGIC,
    XZ_MAGIC,
    ZIP_MAGIC,
    Member,
    bunzip_all,
    gunzip_all,
    is_tar,
    sevenzip_members,
    tar_members,
    tnef_contents,
    unxz_all,
    zip_members,
)
from guard.inspection.extract_base64 import b64decode_lenient, decoded_segments
from guard.inspection.extract_documents import (
    OLE_MAGIC,
    PDF_MAGIC,
    RTF_MAGIC,
    Document,
    is_office_zip,
    office_zip,
    ole_document,
    pdf_document,
    rtf_text,
)
from guard.inspection.extract_html import html_to_text, read_html
from guard.inspection.extract_limits import Limits, Unscannable
from guard.inspection.extract_text import decode_header_value, decode_text, json_text, looks_textual
from guard.inspection.ocr import OcrBudget, OcrUnreadable, image_format
from guard.model import Channel, OutboundMessage, Segment


@dataclass(slots=True)
class Extraction:
    segments: list[Segment] = field(default_factory=list)
    unscannable: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    budget: int = 0
    parts: int = 0
    chars: int = 0
    deadline: float = float("inf")
    ocr_budget: OcrBudget | None = None  # this message's OCR time, started at its first image

    def add(self, text: str, source: str, kind: str, limits: Limits, label: str = "") -> None:
        if not text:
            return
        if self.chars + len(text) > limits.max_chars:
            self.unscannable.append((source, "text beyond the inspection size limit"))
            text = text[: max(0, limits.max_chars - self.chars)]
            if not text:
                return
        self.chars += len(text)
        self.segments.append(Segment(text=text, source=source, kind=kind, label=label))

    def spend(self, n: int, what: str) -> None:
        if n > self.budget:
            raise Unscannable(f"{what} expands beyond the inspection budget (decompression bomb)")
        self.budget -= n

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise Unscannable("reading the message took longer than the time limit")


# -- headers -------------------------------------------------------------------------------------
_ADDRESS_HEADERS = frozenset(
    """from to cc bcc reply-to sender resent-from resent-to resent-cc resent-bcc resent-sender
    disposition-notification-to return-receipt-to mail-followup-to mail-reply-to""".split()
)
_TRACE_HEADERS = frozenset(
    """received x-received return-path message-id in-reply-to references resent-message-id
    dkim-signature domainkey-signature authentication-results received-spf delivered-to envelope-to
    x-original-to errors-to x-beenthere date resent-date thread-index x-mailer user-agent
    mime-version content-transfer-encoding content-type content-disposition content-id content-length
    precedence auto-submitted
    x-uidl x-virus-scanned""".split()
)
_TRACE_PREFIXES = ("arc-", "list-", "x-ms-exchange-", "x-google-", "x-gm-", "x-forefront-", "x-guard-")
_BOUNDARY_PARAM = re2.compile(r'(?i);\s*boundary\s*=\s*(?:"[^"]*"|[^;\s]*)')
_SINGLE_HEADERS = 40  # headers inspected one segment each; the rest grouped by kind
_REPORT_TYPES = frozenset(
    {"message/delivery-status", "text/rfc822-headers", "message/disposition-notification"}
)


# Headers whose value a person writes as text, not as a value for the header's name: their name is
# no label (a Subject that is only an account number is the number alone).
_PROSE_HEADERS = frozenset({"subject", "thread-topic", "comments", "keywords", "content-description"})


def header_kind(name: str) -> str:
    lower = name.lower()
    if lower in _ADDRESS_HEADERS:
        return "address"
    if lower in _TRACE_HEADERS or lower.startswith(_TRACE_PREFIXES):
        return "trace"
    return "header"


# -- content types that are not content, or cannot be read -----------------------------------------
_SIGNATURES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)
_PKCS7_MIME = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_PGP_MESSAGE = "-----BEGIN PGP MESSAGE-----"
_MEDIA_MAGIC: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x01\x00",  # .ico
)
_TEXT_NAMES = tuple(
    ".txt .csv .tsv .json .xml .log .md .ini .env .yaml .yml .pem .key .cfg .conf .ics .vcf .sql .svg".split()
)
_ZIP_NAMES = (".zip", ".docx", ".xlsx", ".xlsm", ".pptx", ".odt", ".ods", ".odp")
_TEXT_TYPES = frozenset(
    {"application/json", "application/csv", "application/xml", "application/x-yaml", "application/sql"}
)


_SIG_BEGIN = "-----BEGIN PGP SIGNATURE-----"
_SIG_END = "-----END PGP SIGNATURE-----"


def _without_signatures(text: str) -> str:
    """Inline OpenPGP signature blocks blanked: like a signature part, a signature is not content
    (its random armour reads like a token). A block whose armour decodes to readable text is
    not a signature and is kept."""
    start = text.find(_SIG_BEGIN)
    while start >= 0:
        end = text.find(_SIG_END, start)
        if end < 0:
            break
        body = text[start + len(_SIG_BEGIN) : end]
        try:
            decoded = b64decode_lenient(body)
            decoded.decode("utf-8")
            readable = True
        except (ValueError, UnicodeDecodeError):
            readable = False
        if not readable:
            text = text[: start + len(_SIG_BEGIN)] + "\n" + text[end:]
            end = start + len(_SIG_BEGIN) + 1
        start = text.find(_SIG_BEGIN, end)
    return text


def _is_image(data: bytes) -> bool:
    if data.startswith(_MEDIA_MAGIC):
        return True
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return decode_header_value(str(name)) if name else ""


class Extractor:
    """Turns an OutboundMessage into text segments within the limits. Images go to OCR when
    `limits.ocr` is set (guard/inspection/ocr.py); otherwise ordinary images pass (not text)."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    def extract(self, message: OutboundMessage) -> Extraction:
        ex = Extraction(
            budget=self.limits.max_total_bytes, deadline=time.monotonic() + self.limits.max_seconds
        )
        if message.raw is not None:
            self._message_bytes(message.raw, "body", ex, depth=0)
        if message.text is not None:
            ex.add(message.text, "text", "text", self.limits)
        if message.subject and message.raw is None:
            ex.add(message.subject, "header Subject", "header", self.limits)
        if message.sender:
            ex.add(message.sender, "envelope sender", "address", self.limits)
        if message.recipients:
            ex.add("\n".join(message.recipients), "envelope recipients", "address", self.limits)
        return ex

    # -- mail ---------------------------------------------------------------------------------
    def _message_bytes(self, raw: bytes, source: str, ex: Extraction, depth: int) -> None:
        try:
            # compat32 parses about 7x faster than policy.default (no header objects); headers
            # are decoded explicitly below.
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        except Exception:
            ex.unscannable.append((source, "message could not be parsed"))
            ex.add(raw.decode("latin-1"), source, "text", self.limits)
            return
        self._headers(msg, source, ex)
        self._part(msg, source, ex, depth)

    def _headers(self, msg: Message, source: str, ex: Extraction, report: bool = False) -> None:
        """Every header, decoded. Headers a person writes (Subject, X-…, Thread-Topic) are one
        segment each, so the review UI names the header; address and trace headers are read as
        one segment per kind ("Name: value" lines), and so is everything past the first hundred
        (one scan instead of hundreds)."""
        prefix = "" if source == "body" else f"{source} "
        grouped: dict[str, tuple[list[str], list[str]]] = {}
        for index, (name, value) in enumerate(msg.items()):
            text = decode_header_value(value)
            if name.lower() in ("content-type", "content-disposition"):
                text = _BOUNDARY_PARAM.sub("", text)
            if not text.strip():
                continue
            kind = "trace" if report else header_kind(name)  # a delivery report's fields trace too
            if kind == "header" and index < _SINGLE_HEADERS:
                label = "" if name.lower() in _PROSE_HEADERS else name
                ex.add(text, f"{prefix}header {name}", kind, self.limits, label)
                continue
            names, lines = grouped.setdefault(kind, ([], []))
            if name not in names:
                names.append(name)
            lines.append(f"{name}: {text}")
        for kind, (names, lines) in grouped.items():
            shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            ex.add("\n".join(lines), f"{prefix}headers {shown}", kind, self.limits)

    def _part(self, part: Message, source: str, ex: Extraction, depth: int, report: bool = False) -> None:
        ex.parts += 1
        if ex.parts > self.limits.max_parts:
            if ex.parts == self.limits.max_parts + 1:
                ex.unscannable.append((source, f"more than {self.limits.max_parts} MIME parts"))
            return
        if depth > self.limits.max_depth:
            ex.unscannable.append((source, "nested too deeply"))
            return
        ctype = part.get_content_type()
        report = report or ctype == "multipart/report" or ctype in _REPORT_TYPES
        if ctype == "message/rfc822":  # checked first: the email package also calls it multipart
            self._forwarded(part, source, ex, depth)
            return
        if ctype == "multipart/encrypted":
            ex.unscannable.append((source, "encrypted message (multipart/encrypted)"))
            return
        if part.is_multipart():
            payload = part.get_payload()
            children = payload if isinstance(payload, list) else []
            self._frame(part.preamble, f"{source} preamble", ex, report)
            for i, child in enumerate(children, 1):
                child_source = f"part {i}" if source == "body" else f"{source}.{i}"
                if isinstance(child, Message):
                    self._headers(child, child_source, ex, report)
                    self._part(child, child_source, ex, depth + 1, report)
            self._frame(part.epilogue, f"{source} epilogue", ex, report)
            return
        if ctype in _SIGNATURES:
            return  # a signature is not content
        if ctype in _PKCS7_MIME or _filename(part).lower().endswith(".p7m"):
            smime = (part.get_param("smime-type") or "").__str__().lower()
            what = "S/MIME encrypted" if "enveloped" in smime or not smime else f"S/MIME {smime}"
            ex.unscannable.append((source, f"{what} content cannot be read"))
            return
        data = self._payload(part)
        try:
            ex.spend(len(data), "part")
        except Unscannable:
            ex.unscannable.append((source, "part larger than the inspection budget"))
            return
        name = _filename(part)
        label = f"{source} attachment {name}" if name else f"{source} {ctype}"
        charset = part.get_content_charset()
        is_attachment = bool(name) or part.get_content_disposition() == "attachment"
        self._content(
            data, ctype, name, charset, label, ex, depth, is_attachment=is_attachment, report=report
        )

    def _frame(self, text: str | None, source: str, ex: Extraction, report: bool) -> None:
        """A multipart's preamble or epilogue: most readers hide it, some show it; it leaves."""
        if text and text.strip():
            ex.add(text, source, "trace" if report else "text", self.limits)

    @staticmethod
    def _payload(part: Message) -> bytes:
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        raw_payload = part.get_payload()
        if cte == "base64" and isinstance(raw_payload, str):
            try:
                return b64decode_lenient(raw_payload)  # unpadded, URL-safe, stray characters
            except ValueError:
                return raw_payload.encode("utf-8", "surrogateescape")
        try:
            decoded = part.get_payload(decode=True)
        except Exception:
            decoded = None
        if isinstance(decoded, bytes):
            return decoded
        return raw_payload.encode("utf-8", "surrogateescape") if isinstance(raw_payload, str) else b""

    def _forwarded(self, part: Message, source: str, ex: Extraction, depth: int) -> None:
        fwd = f"{source} forwarded"
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if cte in ("base64", "quoted-printable") and isinstance(inner, Message):
            # Not allowed by RFC 2046, written anyway: the parser saw encoded text, not a message.
            encoded = inner.as_string()
            if cte == "base64":
                try:
                    raw = b64decode_lenient(encoded)
                except ValueError:
                    raw = encoded.encode("utf-8", "surrogateescape")
            else:
                import quopri

                raw = quopri.decodestring(encoded.encode("utf-8", "surrogateescape"))
            self._message_bytes(raw, fwd, ex, depth + 1)
            return
        if isinstance(inner, Message):
            self._headers(inner, fwd, ex)
            self._part(inner, fwd, ex, depth + 1)

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
        report: bool = False,
    ) -> None:
        if name:  # a file name is text the recipient reads too
            ex.add(name, f"{source} filename", "header", self.limits)
        try:
            ex.check_time()
            if depth > self.limits.max_depth:
                raise Unscannable("nested too deeply")
            self._read(data, ctype, name, charset, source, ex, depth, is_attachment, report)
        except Unscannable as exc:
            ex.unscannable.append((source, str(exc)))
        except Exception as exc:  # any parser failure on hostile input: held, with a clear reason
            ex.unscannable.append((source, f"{type(exc).__name__} while reading {ctype or 'a file'}"))

    def _read(
        self,
        data: bytes,
        ctype: str,
        name: str,
        charset: str | None,
        source: str,
        ex: Extraction,
        depth: int,
        is_attachment: bool,
        report: bool,
    ) -> None:
        lower = name.lower()
        kind = "trace" if report else "attachment" if is_attachment else "text"
        head = data[:1024]
        if not data.strip():
            return
        if data.startswith(OLE_MAGIC):  # also password-protected DOCX/XLSX/PPTX
            self._document(ole_document(data), source, ex, depth)
        elif data.startswith(ZIP_MAGIC) or lower.endswith(
            (".zip", ".docx", ".xlsx", ".xlsm", ".pptx", ".odt")
        ):
            self._zip(data, source, ex, depth)
        elif PDF_MAGIC in head or ctype == "application/pdf" or lower.endswith(".pdf"):
            self._document(pdf_document(data, ex.check_time), source, ex, depth)
            self._ocr_pdf(data, source, ex)
        elif data.startswith(GZIP_MAGIC):
            out = gunzip_all(data, ex.budget, self.limits)
            self._unpacked(out, lower, (".gz", ".tgz"), "gunzipped", source, ex, depth)
        elif data.startswith(BZIP2_MAGIC) and data[4:10] == b"1AY&SY":
            out = bunzip_all(data, ex.budget, self.limits)
            self._unpacked(out, lower, (".bz2", ".tbz2", ".tbz"), "bunzipped", source, ex, depth)
        elif data.startswith(XZ_MAGIC) or lower.endswith((".xz", ".lzma", ".txz")):
            out = unxz_all(data, ex.budget, self.limits)
            self._unpacked(out, lower, (".xz", ".lzma", ".txz"), "unxz'd", source, ex, depth)
        elif data.startswith(SEVENZIP_MAGIC):
            self._members(sevenzip_members(data, lambda: ex.budget, self.limits), source, ex, depth)
        elif data.startswith(RAR_MAGIC) or lower.endswith(".rar"):
            raise Unscannable("RAR archives cannot be read (no maintained pure reader)")
        elif data.startswith(TNEF_MAGIC):
            texts, members = tnef_contents(data)
            self._document(Document(texts, members), source, ex, depth)
        elif is_tar(data) or lower.endswith(".tar"):
            self._members(tar_members(data, lambda: ex.budget, self.limits), source, ex, depth)
        elif data.lstrip()[:5] == RTF_MAGIC or lower.endswith(".rtf"):
            ex.add(rtf_text(data), source, kind, self.limits)
        elif self.limits.ocr is not None and image_format(data):
            self._ocr_image(data, source, ex)
        elif _is_image(data):
            pass  # an ordinary image is not text (OCR off)
        elif ctype == "text/html" or lower.endswith((".html", ".htm")):
            self._html(decode_text(data, charset), source, "html" if not is_attachment else kind, ex, depth)
        elif lower.endswith(".eml") or ctype == "message/rfc822":
            self._message_bytes(data, source, ex, depth + 1)
        elif (
            ctype.startswith("text/")
            or ctype in _TEXT_TYPES
            or lower.endswith(_TEXT_NAMES)
            or looks_textual(data)
        ):
            text = _without_signatures(decode_text(data, charset))
            if ctype == "application/json" or lower.endswith(".json"):
                text = json_text(text)
            ex.add(text, source, kind, self.limits)
            if _PGP_MESSAGE in text:
                raise Unscannable("PGP-encrypted text cannot be read")
        else:
            raise Unscannable(f"binary content that cannot be read ({ctype or 'unknown type'})")

    # -- OCR (guard/inspection/ocr.py) ---------------------------------------------------------
    def _ocr_image(self, data: bytes, source: str, ex: Extraction) -> None:
        """The image's text as a segment `ocr <source>` (the source names the attachment, so
        redaction can drop an image it cannot mask)."""
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
            ex.add(text, f"ocr {source}", "ocr", self.limits)

    def _ocr_pdf(self, data: bytes, source: str, ex: Extraction) -> None:
        """Scanned pages: pages with images and no text layer are read by OCR."""
        ocr = self.limits.ocr
        if ocr is None:
            return
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")  # pdf_document refused it already when this does not open it
        if ex.ocr_budget is None:
            ex.ocr_budget = ocr.budget()
        try:
            for page, text in ocr.pdf_page_texts(reader, ex.ocr_budget):
                ex.add(text, f"ocr {source} page {page}", "ocr", self.limits)
        except OcrUnreadable as exc:
            ex.unscannable.append((source, str(exc)))

    def _html(self, markup: str, source: str, kind: str, ex: Extraction, depth: int) -> None:
        reading = read_html(markup)
        ex.add(reading.text, source, kind, self.limits)
        ex.add(reading.markup, f"{source} markup", "markup", self.limits)
        for i, (media, blob) in enumerate(reading.embedded, 1):
            ex.spend(len(blob), "data: URI")
            self._content(blob, media, "", None, f"{source} data: URI {i}", ex, depth + 1, is_attachment=True)

    def _unpacked(
        self,
        out: bytes,
        lower: str,
        suffixes: tuple[str, ...],
        how: str,
        source: str,
        ex: Extraction,
        depth: int,
    ) -> None:
        ex.spend(len(out), "compressed stream")
        inner = ""
        for suffix in suffixes:
            if lower.endswith(suffix):
                inner = lower[: -len(suffix)] + (
                    ".tar" if suffix.startswith(".t") and suffix != ".tar" else ""
                )
                break
        self._content(
            out,
            "application/octet-stream",
            inner,
            None,
            f"{source} ({how})",
            ex,
            depth + 1,
            is_attachment=True,
        )

    def _zip(self, data: bytes, source: str, ex: Extraction, depth: int) -> None:
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise Unscannable("broken ZIP container") from None
        with zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if is_office_zip(names):
                if any(i.flag_bits & 0x1 for i in infos):
                    raise Unscannable("encrypted document")
                declared = sum(i.file_size for i in infos)
                if declared > ex.budget or any(
                    i.file_size > max(i.compress_size, 1) * self.limits.max_ratio and i.file_size > 1_000_000
                    for i in infos
                ):
                    raise Unscannable("document expands beyond the size/ratio limit (zip bomb)")
                if len(infos) > self.limits.max_archive_members:
                    raise Unscannable(f"document with more than {self.limits.max_archive_members} parts")
                ex.spend(declared, "document")
                self._document(office_zip(data, zf, lambda: ex.budget + declared), source, ex, depth)
                return
            ex.add("\n".join(i.filename for i in infos), f"{source} member names", "attachment", self.limits)
            self._members(zip_members(zf, lambda: ex.budget, self.limits), source, ex, depth)

    def _members(self, members: Iterable[Member], source: str, ex: Extraction, depth: int) -> None:
        """Each member of an archive, read like an attachment one level deeper."""
        if depth + 1 > self.limits.max_depth:
            raise Unscannable("archives nested too deeply")
        for member in members:
            ex.check_time()
            ex.spend(len(member.data), "archive member")
            self._content(
                member.data,
                "application/octet-stream",
                member.name,
                None,
                f"{source} > {member.name}",
                ex,
                depth + 1,
                is_attachment=True,
            )

    def _document(self, doc: Document, source: str, ex: Extraction, depth: int) -> None:
        for label, text in doc.texts:
            ex.add(text, f"{source} [{label}]", "attachment", self.limits)
        if doc.members:
            self._embedded(doc.members, source, ex, depth)

    def _embedded(self, members: list[Member], source: str, ex: Extraction, depth: int) -> None:
        if depth + 1 > self.limits.max_depth:
            raise Unscannable("embedded files nested too deeply")
        for member in members:
            ex.check_time()
            self._content(
                member.data,
                "application/octet-stream",
                member.name,
                None,
                f"{source} > {member.name}",
                ex,
                depth + 1,
                is_attachment=True,
            )


BODY_KINDS = ("text", "html")  # the segments that make up a message's body text


def body_text(raw: bytes) -> str:
    """The decoded body text of a message (text parts, HTML as text), for `guard scan --jsonl`."""
    ex = Extractor().extract(OutboundMessage(channel=Channel.API, raw=raw))
    return "\n".join(s.text for s in ex.segments if s.kind in BODY_KINDS)


_json_text = json_text  # the name guard/scan_cli.py imports

__all__ = [
    "BODY_KINDS",
    "Extraction",
    "Extractor",
    "Limits",
    "Unscannable",
    "body_text",
    "decode_header_value",
    "decoded_segments",
    "html_to_text",
]
