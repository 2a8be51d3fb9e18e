"""Documents read in full: every stream a reader of the file can see, as text.

- OOXML (DOCX, XLSX, PPTX) and ODF (ODT, ODS, ODP): every XML part that carries text (body,
  headers, footers, comments, footnotes, endnotes, text boxes, nested tables, slides, notes,
  metadata, defined names), with text split across runs joined as a reader sees it; hyperlink
  targets; embedded files are handed back to be read like attachments. XLSX cells (every sheet,
  hidden ones too) come from openpyxl so shared strings and numbers read as shown.
- PDF (pypdf): page text, metadata, annotations, form fields and embedded files.
- RTF (striprtf), legacy OLE files (olefile: .doc/.ppt/.msg text runs, .xls through xlrd).
Password-protected documents are `Unscannable`. Every XML parser refuses entities and DTDs.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import re2
from lxml import etree

from guard.inspection.extract_archives import Member, read_zip_member
from guard.inspection.extract_limits import Unscannable

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PDF_MAGIC = b"%PDF-"
RTF_MAGIC = b"{\\rtf"


@dataclass(slots=True)
class Document:
    """What a document holds: (label, text) pairs and embedded files."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)

    def add(self, label: str, text: str) -> None:
        if text and text.strip():
            self.texts.append((label, text))


# -- OOXML and ODF --------------------------------------------------------------------------------
_XML_PARSER_OPTS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
}
# Line breaks before paragraph-like elements, tabs before cells and tab stops: written into the XML
# before parsing, so the serialised text keeps them (one C-speed pass, no Python walk per node).
# Stdlib `re` for these substitutions: literal prefixes and alternations of literals cannot
# backtrack, and its `sub` is far faster than the RE2 wrapper's on many matches.
_BREAK = re.compile(r"(?=</?[A-Za-z0-9]+:(?:p|h|br|cr|tr|row|line-break|list-item|si|comment)\b)")
_TAB = re.compile(r"(?=<[A-Za-z0-9]+:(?:tab|tc|table-cell|covered-table-cell)\b)")
_SPACE = re.compile(r"(?=<text:s\b)")
_NOT_TEXT_PARTS = re2.compile(
    r"(?i)(^|/)(theme\d*|fonttable|settings|websettings|numbering|sharedstrings|calcchain"
    r"|presprops|viewprops|tablestyles|manifest|\[content_types\])\.xml$|(^|/)theme/|(^|/)printersettings"
)
_EMBED_DIRS = ("embeddings/", "Embeddings/", "ObjectReplacements/")
_MEDIA_DIRS = ("media/", "Pictures/", "Thumbnails/")
_ATTR_TEXT = "//@descr | //@title | //@*[local-name()='href'] | //@*[local-name()='string-value']"


def xml_text(data: bytes, *, drop_sheet_data: bool = False) -> tuple[str, list[str]]:
    """The text of one XML part, and its reader-visible attributes (alt text, link targets)."""
    source = data.decode("utf-8", "replace")
    if drop_sheet_data:  # the cells come from openpyxl; headers, footers and the rest from here
        start, end = source.find("<sheetData"), source.rfind("</sheetData>")
        if 0 <= start < end:
            source = source[:start] + source[end + len("</sheetData>") :]
    source = _BREAK.sub("\n", source)
    source = _TAB.sub("\t", source)
    source = _SPACE.sub(" ", source)
    parser = etree.XMLParser(**_XML_PARSER_OPTS)
    try:
        root = etree.fromstring(source.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        raise Unscannable("broken XML inside the document") from None
    if root is None:
        return "", []
    text = etree.tostring(root, method="text", encoding="unicode", with_tail=False)
    attrs = [unquote(str(v)) for v in root.xpath(_ATTR_TEXT) if str(v).strip()]
    return text, attrs


def _rels_targets(data: bytes) -> list[str]:
    parser = etree.XMLParser(**_XML_PARSER_OPTS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    return [
        unquote(str(el.get("Target", "")))
        for el in root.iter("{*}Relationship")
        if el.get("TargetMode") == "External" and el.get("Target")
    ]


def _xlsx_cells(data: bytes) -> str:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    lines = []
    try:
        for sheet in book.worksheets:  # every sheet, hidden and very hidden ones too
            lines.append(f"[{sheet.title}]")
            for row in sheet.iter_rows(values_only=True):
                lines.append("\t".join("" if v is None else str(v) for v in row))
    finally:
        book.close()
    return "\n".join(lines)


def office_zip(data: bytes, zf: zipfile.ZipFile, room: Callable[[], int]) -> Document:
    """A DOCX, XLSX, PPTX or ODF file (the caller checked sizes, ratios and encryption)."""
    doc = Document()
    names = zf.namelist()
    is_xlsx = "xl/workbook.xml" in names
    if is_xlsx:
        doc.add("cells", _xlsx_cells(data))
    for info in zf.infolist():
        name = info.filename
        if info.is_dir():
            continue
        lower = name.lower()
        if lower.endswith(".rels"):
            targets = _rels_targets(read_zip_member(zf, info, room()))
            doc.add(f"{name} links", "\n".join(targets))
        elif lower.endswith(".xml") and not _NOT_TEXT_PARTS.search(name):
            is_sheet = is_xlsx and lower.startswith("xl/worksheets/")
            text, attrs = xml_text(read_zip_member(zf, info, room()), drop_sheet_data=is_sheet)
            doc.add(name, text)
            doc.add(f"{name} attributes", "\n".join(attrs))
        elif any(d in name for d in _EMBED_DIRS) or any(d in name for d in _MEDIA_DIRS):
            doc.members.append(Member(name, read_zip_member(zf, info, room())))
    return doc


def is_office_zip(names: set[str]) -> bool:
    return (
        "word/document.xml" in names
        or "xl/workbook.xml" in names
        or "ppt/presentation.xml" in names
        or ("content.xml" in names and "mimetype" in names)
    )


# -- PDF --------------------------------------------------------------------------------------------
def _pdf_strings(value: Any, out: list[str], depth: int = 0) -> None:
    """Every string in a PDF object (annotation, field), resolving references, bounded."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, TextStringObject

    if depth > 8 or len(out) > 10_000:
        return
    if isinstance(value, IndirectObject):
        value = value.get_object()
    if isinstance(value, TextStringObject | str):
        if str(value).strip():
            out.append(str(value))
    elif isinstance(value, DictionaryObject):
        for key, item in value.items():
            if key in ("/Parent", "/P", "/Kids", "/AP", "/Dest", "/Font", "/Resources"):
                continue
            _pdf_strings(item, out, depth + 1)
    elif isinstance(value, ArrayObject):
        for item in value:
            _pdf_strings(item, out, depth + 1)


def pdf_document(data: bytes, deadline: Callable[[], None], max_pages: int = 2000) -> Document:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            opened = bool(reader.decrypt(""))  # "owner password only" PDFs open for every reader
        except Exception:
            opened = False
        if not opened:
            raise Unscannable("password-protected PDF")
    doc = Document()
    meta: dict[str, Any] = dict(reader.metadata or {})
    doc.add("metadata", "\n".join(str(v) for v in meta.values() if isinstance(v, str) and v.strip()))
    pages: list[str] = []
    notes: list[str] = []
    for i, page in enumerate(reader.pages):
        if i >= max_pages:
            raise Unscannable(f"PDF with more than {max_pages} pages")
        deadline()
        pages.append(page.extract_text() or "")
        annots = page.get("/Annots")
        if annots is not None:
            _pdf_strings(annots, notes)
    doc.add("pages", "\n".join(pages))
    doc.add("annotations", "\n".join(notes))
    fields: list[str] = []
    try:
        for name, spec in (reader.get_fields() or {}).items():
            value = spec.get("/V")
            if value is not None and str(value).strip():
                fields.append(f"{name}: {value}")
    except Exception:
        raise Unscannable("PDF form fields cannot be read") from None
    doc.add("form fields", "\n".join(fields))
    for name, contents in reader.attachments.items():
        for content in contents:
            doc.members.append(Member(str(name), bytes(content)))
    return doc


# -- RTF ---------------------------------------------------------------------------------------------
def rtf_text(data: bytes) -> str:
    from striprtf.striprtf import rtf_to_text

    return str(rtf_to_text(data.decode("latin-1"), errors="replace"))  # type: ignore[no-untyped-call]


# -- OLE (legacy Office, Outlook .msg) ----------------------------------------------------------------
# Runs of one character class: linear with stdlib `re`, and faster per match than the RE2 wrapper.
_RUN_8BIT = re.compile(rb"[\x20-\x7e\t\r\n\xa0-\xff]{4,}")
_RUN_16BIT = re.compile(rb"(?:[\x20-\x7e\t\r\n]\x00){4,}")
_ENCRYPTED_STREAMS = ("EncryptionInfo", "EncryptedPackage", "EncryptedSummary", "\x06DataSpaces")
_MAX_STREAM = 64 * 1024 * 1024


def _runs(data: bytes) -> Iterator[str]:
    for m in _RUN_16BIT.finditer(data):
        yield m.group(0).decode("utf-16-le")
    for m in _RUN_8BIT.finditer(data):
        yield m.group(0).decode("cp1252", "replace")


def _xls_cells(data: bytes) -> str:
    import xlrd

    book = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=io.StringIO())
    lines = []
    try:
        for sheet in book.sheets():
            lines.append(f"[{sheet.name}]")
            for r in range(sheet.nrows):
                lines.append("\t".join(str(v) for v in sheet.row_values(r)))
    finally:
        book.release_resources()
    return "\n".join(lines)


def ole_document(data: bytes) -> Document:
    import olefile

    ole = olefile.OleFileIO(data)
    doc = Document()
    try:
        streams = ["/".join(path) for path in ole.listdir(streams=True, storages=False)]
        if any(s.split("/")[-1] in _ENCRYPTED_STREAMS or s.startswith("\x06DataSpaces") for s in streams):
            raise Unscannable("password-protected Office document")
        if "WordDocument" in streams:
            fib = ole.openstream("WordDocument").read(12)
            if len(fib) >= 12 and int.from_bytes(fib[10:12], "little") & 0x0100:
                raise Unscannable("password-protected Word document")
        if "Workbook" in streams or "Book" in streams:
            try:
                doc.add("cells", _xls_cells(data))
            except Exception as exc:
                if "encrypt" in str(exc).lower():
                    raise Unscannable("password-protected Excel workbook") from None
                raise Unscannable("Excel workbook cannot be read") from None
            return doc
        for stream in streams:
            if ole.get_size(stream) > _MAX_STREAM:
                raise Unscannable("OLE stream beyond the inspection size limit")
            raw = ole.openstream(stream).read()
            doc.add(stream, "\n".join(_runs(raw)))
    finally:
        ole.close()
    return doc


__all__ = [
    "OLE_MAGIC",
    "PDF_MAGIC",
    "RTF_MAGIC",
    "Document",
    "is_office_zip",
    "office_zip",
    "ole_document",
    "pdf_document",
    "rtf_text",
    "xml_text",
]
