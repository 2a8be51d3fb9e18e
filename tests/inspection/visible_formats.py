# ruff: noqa: E501 - XML parts read best as one line each, as they appear in the file
"""Builders for every container and document format the extractor reads, each carrying a text.

Every builder takes the text to hide and returns (file name, media type, bytes). They write the
formats by hand or with the libraries that write them (python-docx, openpyxl, pypdf, py7zr),
so a test can hide a value generated in the test and a clean control of the same shape.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
from collections.abc import Callable
from typing import NamedTuple
from xml.sax.saxutils import escape

from guard.testing import luhn_complete


class Carrier(NamedTuple):
    name: str
    ctype: str
    data: bytes


Build = Callable[[str], Carrier]

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
P = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def luhn_card(seed: int = 7) -> str:
    """A Luhn-valid Visa-shaped number made here, never a real or copied one."""
    import random

    rng = random.Random(seed)
    body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    return luhn_complete(body)


def split_runs(text: str, pieces: int = 3) -> list[str]:
    """The text cut in `pieces` places, as an editor splits runs when formatting changes."""
    step = max(1, len(text) // pieces)
    return [text[i : i + step] for i in range(0, len(text), step)]


def _zip(files: dict[str, str | bytes], stored_first: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if stored_first:
            zf.writestr(zipfile.ZipInfo(stored_first), files[stored_first], compress_type=zipfile.ZIP_STORED)
        for name, data in files.items():
            if name != stored_first:
                zf.writestr(name, data)
    return buf.getvalue()


# -- DOCX -----------------------------------------------------------------------------------------
def _w_runs(text: str) -> str:
    return "".join(
        f'<w:r>{"<w:rPr><w:b/></w:rPr>" if i % 2 else ""}<w:t xml:space="preserve">{escape(t)}</w:t></w:r>'
        for i, t in enumerate(split_runs(text))
    )


def _w_p(text: str) -> str:
    return f"<w:p>{_w_runs(text)}</w:p>"


def docx(body: str = "Dear customer, see below.", **parts: str) -> bytes:
    """A DOCX whose body paragraph is `body` (runs split) plus extra parts: header, footer,
    comments, footnotes, endnotes, textbox, nested_table."""
    inner = _w_p(body)
    if "textbox" in parts:
        inner += (
            '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:textbox>'
            f"<w:txbxContent>{_w_p(parts['textbox'])}</w:txbxContent></v:textbox></v:shape></w:pict></w:r></w:p>"
        )
    if "nested_table" in parts:
        cell = f"<w:tc>{_w_p(parts['nested_table'])}</w:tc>"
        inner += f"<w:tbl><w:tr><w:tc><w:tbl><w:tr>{cell}</w:tr></w:tbl><w:p/></w:tc></w:tr></w:tbl>"
    files: dict[str, str | bytes] = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/document.xml": f'<?xml version="1.0"?><w:document {W}><w:body>{inner}</w:body></w:document>',
        "word/styles.xml": f'<?xml version="1.0"?><w:styles {W}/>',
    }
    if "header" in parts:
        files["word/header1.xml"] = f'<?xml version="1.0"?><w:hdr {W}>{_w_p(parts["header"])}</w:hdr>'
    if "footer" in parts:
        files["word/footer1.xml"] = f'<?xml version="1.0"?><w:ftr {W}>{_w_p(parts["footer"])}</w:ftr>'
    if "comments" in parts:
        files["word/comments.xml"] = (
            f'<?xml version="1.0"?><w:comments {W}><w:comment w:id="0" w:author="A">'
            f"{_w_p(parts['comments'])}</w:comment></w:comments>"
        )
    for kind in ("footnotes", "endnotes"):
        if kind in parts:
            tag = kind[:-1]
            files[f"word/{kind}.xml"] = (
                f'<?xml version="1.0"?><w:{kind} {W}><w:{tag} w:id="1">{_w_p(parts[kind])}</w:{tag}></w:{kind}>'
            )
    if "embedded_xlsx" in parts:
        files["word/embeddings/Microsoft_Excel_Worksheet.xlsx"] = xlsx_book(
            [["note", parts["embedded_xlsx"]]]
        )
    if "link" in parts:
        files["word/_rels/document.xml.rels"] = (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" '
            f'Target="{escape(parts["link"])}" TargetMode="External"/></Relationships>'
        )
    return _zip(files)


# -- XLSX ------------------------------------------------------------------------------------------
def xlsx_book(rows: list[list[str]], **extra: str) -> bytes:
    """A workbook with `rows` on the first sheet, plus: comment, header, footer, hidden_sheet,
    defined_name."""
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.workbook.defined_name import DefinedName

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if "comment" in extra:
        sheet["A1"].comment = Comment(extra["comment"], "agent")
    if "header" in extra:
        sheet.oddHeader.center.text = extra["header"]
    if "footer" in extra:
        sheet.oddFooter.left.text = extra["footer"]
    if "hidden_sheet" in extra:
        hidden = book.create_sheet("Hidden")
        hidden.append(["note", extra["hidden_sheet"]])
        hidden.sheet_state = "hidden"
    if "defined_name" in extra:
        book.defined_names["CustomerNote"] = DefinedName(
            "CustomerNote", attr_text=f'"{extra["defined_name"]}"'
        )
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


# -- PPTX and ODF ------------------------------------------------------------------------------------
def pptx(slide: str, notes: str = "Speaker notes.") -> bytes:
    runs = "".join(f"<a:r><a:t>{escape(t)}</a:t></a:r>" for t in split_runs(slide))
    note_runs = "".join(f"<a:r><a:t>{escape(t)}</a:t></a:r>" for t in split_runs(notes))
    return _zip(
        {
            "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
            "ppt/presentation.xml": f'<?xml version="1.0"?><p:presentation {P}/>',
            "ppt/slides/slide1.xml": f'<?xml version="1.0"?><p:sld {P} {A}><p:cSld><p:spTree><p:sp><p:txBody>'
            f"<a:p>{runs}</a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>",
            "ppt/notesSlides/notesSlide1.xml": f'<?xml version="1.0"?><p:notes {P} {A}><p:cSld><p:spTree><p:sp>'
            f"<p:txBody><a:p>{note_runs}</a:p></p:txBody></p:sp></p:spTree></p:cSld></p:notes>",
        }
    )


_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"'
)
_ODF_TYPES = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}


def odf(kind: str, text: str, footer: str = "Page footer") -> bytes:
    """An ODT/ODS/ODP whose text is split across spans (and, for ODS, table cells' paragraphs)."""
    spans = "".join(
        f'<text:span text:style-name="T{i}">{escape(t)}</text:span>' for i, t in enumerate(split_runs(text))
    )
    para = f"<text:p>{spans}</text:p>"
    if kind == "ods":
        body = f"<office:spreadsheet><table:table><table:table-row><table:table-cell>{para}</table:table-cell></table:table-row></table:table></office:spreadsheet>"
    elif kind == "odp":
        body = f'<office:presentation><draw:page xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"><draw:frame><draw:text-box>{para}</draw:text-box></draw:frame></draw:page></office:presentation>'
    else:
        body = f"<office:text>{para}</office:text>"
    return _zip(
        {
            "mimetype": _ODF_TYPES[kind],
            "content.xml": f'<?xml version="1.0"?><office:document-content {_ODF_NS}><office:body>{body}</office:body></office:document-content>',
            "styles.xml": f'<?xml version="1.0"?><office:document-styles {_ODF_NS}><office:master-styles><style:master-page>'
            f"<style:footer><text:p>{escape(footer)}</text:p></style:footer></style:master-page></office:master-styles></office:document-styles>",
        },
        stored_first="mimetype",
    )


# -- PDF ---------------------------------------------------------------------------------------------
def pdf(page_text: str = "Statement", **extra: str) -> bytes:
    """A PDF with `page_text` on its page plus: metadata, annotation, form_field, embedded."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.annotations import FreeText
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, TextStringObject

    from tests.inspection.inspection_builders import pdf_with_text

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_with_text(page_text))))
    if "metadata" in extra:
        writer.add_metadata({"/Title": "Statement", "/Subject": extra["metadata"]})
    if "annotation" in extra:
        writer.add_annotation(0, FreeText(text=extra["annotation"], rect=(50, 550, 200, 650)))
    if "form_field" in extra:
        field = DictionaryObject(
            {
                NameObject("/FT"): NameObject("/Tx"),
                NameObject("/T"): TextStringObject("card"),
                NameObject("/V"): TextStringObject(extra["form_field"]),
                NameObject("/Ff"): NumberObject(0),
            }
        )
        ref = writer._add_object(field)
        writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
            {NameObject("/Fields"): ArrayObject([ref])}
        )
    if "embedded" in extra:
        writer.add_attachment("notes.txt", extra["embedded"].encode())
    if "password" in extra:
        writer.encrypt(user_password=extra["password"], owner_password=extra["password"], algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


# -- archives and compressed streams ------------------------------------------------------------------
def tar_of(files: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_members(*chunks: bytes) -> bytes:
    return b"".join(gzip.compress(c) for c in chunks)


def sevenzip_of(files: dict[str, bytes]) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        for name, data in files.items():
            archive.writestr(data, name)
    return buf.getvalue()


def tnef(body: str, attachment: tuple[str, bytes] | None = None) -> bytes:
    """A TNEF winmail.dat with a plain-text body and optionally one attachment (MS-OXTNEF)."""

    def attr(level: int, ident: int, atype: int, data: bytes) -> bytes:
        return (
            struct.pack("<BHHI", level, ident, atype, len(data))
            + data
            + struct.pack("<H", sum(data) & 0xFFFF)
        )

    out = struct.pack("<IH", 0x223E9F78, 1)
    out += attr(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += attr(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
    out += attr(1, 0x800C, 0x0002, body.encode("cp1252"))  # attBody
    if attachment:
        name, data = attachment
        out += attr(2, 0x9002, 0x0006, b"\x01\x00\x00\x00" + b"\xff" * 10)  # attAttachRendData
        out += attr(2, 0x8010, 0x0001, name.encode("cp1252") + b"\x00")  # attAttachTitle
        out += attr(2, 0x800F, 0x0006, data)  # attAttachData
    return out


# -- OLE compound files (legacy Office) -----------------------------------------------------------------
def ole_file(streams: dict[str, bytes]) -> bytes:
    """A minimal Compound File (v3, 512-byte sectors) holding `streams` at the root. Streams are
    padded to 4 KiB so that none lives in the mini stream."""
    end, free, fatsect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    padded = {n: d + b"\x00" * max(0, 4096 - len(d)) for n, d in streams.items()}
    data_sectors = {n: (len(d) + 511) // 512 for n, d in padded.items()}
    n_entries = 1 + len(padded)
    dir_sectors = (n_entries * 128 + 511) // 512
    total = dir_sectors + sum(data_sectors.values())
    fat_sectors = 1
    while (fat_sectors + total) > fat_sectors * 128:
        fat_sectors += 1
    fat: list[int] = [fatsect] * fat_sectors
    first_dir = len(fat)
    fat += [len(fat) + i + 1 for i in range(dir_sectors - 1)] + [end]
    starts: dict[str, int] = {}
    for name, count in data_sectors.items():
        starts[name] = len(fat)
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [end]
    fat += [free] * (fat_sectors * 128 - len(fat))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00"
        return (
            raw.ljust(64, b"\x00")
            + struct.pack("<HBBIII", len(raw), kind, 1, free, right, child)
            + b"\x00" * 16
            + b"\x00" * 4
            + b"\x00" * 16
            + struct.pack("<IQ", start, size)
        )

    names = list(padded)
    directory = entry("Root Entry", 5, 1 if names else free, free, end, 0)
    for i, name in enumerate(names):
        right = i + 2 if i + 1 < len(names) else free
        directory += entry(name, 2, free, right, starts[name], len(padded[name]))
    directory = directory.ljust(dir_sectors * 512, b"\x00")
    difat = list(range(fat_sectors)) + [free] * (109 - fat_sectors)
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIIIIIII", 0, fat_sectors, first_dir, 0, 4096, end, 0, end, 0)
        + struct.pack("<109I", *difat)
    )
    body = struct.pack(f"<{len(fat)}I", *fat) + directory
    for name in names:
        body += padded[name].ljust(data_sectors[name] * 512, b"\x00")
    return header + body


def legacy_doc(text: str, encrypted: bool = False) -> bytes:
    fib = struct.pack("<HH", 0xA5EC, 0xC1) + b"\x00" * 6 + struct.pack("<H", 0x0100 if encrypted else 0)
    return ole_file({"WordDocument": fib + b"\x00" * 500 + text.encode("cp1252"), "1Table": b"\x00" * 64})


def legacy_ppt(text: str) -> bytes:
    return ole_file(
        {"PowerPoint Document": b"\x00" * 40 + text.encode("utf-16-le"), "Current User": b"\x00" * 20}
    )


def encrypted_ooxml() -> bytes:
    """What Office writes for a password-protected DOCX/XLSX: an OLE file with the package encrypted."""
    return ole_file(
        {"EncryptionInfo": b"\x04\x00\x04\x00" + b"\x00" * 200, "EncryptedPackage": b"\x93" * 4000}
    )


def rtf(text: str) -> bytes:
    parts = split_runs(text)
    body = r"\b ".join(
        p.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}") + r"\b0 " for p in parts
    )
    return (r"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}\f0\fs22 " + body + r"\par }").encode("latin-1")


# -- the table of carriers --------------------------------------------------------------------------------
def _sentence(text: str) -> str:
    return f"Customer note: {text}. Thanks."


FORMATS: dict[str, Build] = {
    "tar": lambda t: Carrier(
        "notes.tar", "application/x-tar", tar_of({"a/notes.txt": _sentence(t).encode()})
    ),
    "tar.gz": lambda t: Carrier(
        "notes.tar.gz", "application/gzip", tar_of({"notes.txt": _sentence(t).encode()}, "w:gz")
    ),
    "tar.bz2": lambda t: Carrier(
        "notes.tar.bz2", "application/x-bzip2", tar_of({"notes.txt": _sentence(t).encode()}, "w:bz2")
    ),
    "tar.xz": lambda t: Carrier(
        "notes.tar.xz", "application/x-xz", tar_of({"notes.txt": _sentence(t).encode()}, "w:xz")
    ),
    "bz2": lambda t: Carrier("notes.txt.bz2", "application/x-bzip2", bz2.compress(_sentence(t).encode())),
    "xz": lambda t: Carrier("notes.txt.xz", "application/x-xz", lzma.compress(_sentence(t).encode())),
    "gzip-second-member": lambda t: Carrier(
        "notes.txt.gz", "application/gzip", gzip_members(b"Customer list follows.\n", _sentence(t).encode())
    ),
    "7z": lambda t: Carrier(
        "notes.7z", "application/x-7z-compressed", sevenzip_of({"notes.txt": _sentence(t).encode()})
    ),
    "tnef-body": lambda t: Carrier("winmail.dat", "application/ms-tnef", tnef(_sentence(t))),
    "tnef-attachment": lambda t: Carrier(
        "winmail.dat",
        "application/ms-tnef",
        tnef("See the attachment.", ("notes.txt", _sentence(t).encode())),
    ),
    "doc-ole": lambda t: Carrier("letter.doc", "application/msword", legacy_doc(_sentence(t))),
    "ppt-ole": lambda t: Carrier("deck.ppt", "application/vnd.ms-powerpoint", legacy_ppt(_sentence(t))),
    "odt": lambda t: Carrier("letter.odt", _ODF_TYPES["odt"], odf("odt", _sentence(t))),
    "ods": lambda t: Carrier("sheet.ods", _ODF_TYPES["ods"], odf("ods", _sentence(t))),
    "odp": lambda t: Carrier("deck.odp", _ODF_TYPES["odp"], odf("odp", _sentence(t))),
    "odt-footer": lambda t: Carrier(
        "letter.odt", _ODF_TYPES["odt"], odf("odt", "Dear customer", footer=_sentence(t))
    ),
    "rtf": lambda t: Carrier("letter.rtf", "application/rtf", rtf(_sentence(t))),
    "pptx-slide": lambda t: Carrier("deck.pptx", PPTX, pptx(_sentence(t))),
    "pptx-notes": lambda t: Carrier("deck.pptx", PPTX, pptx("Quarterly review", notes=_sentence(t))),
    "docx-body-split-runs": lambda t: Carrier("letter.docx", DOCX, docx(_sentence(t))),
    "docx-header": lambda t: Carrier("letter.docx", DOCX, docx(header=_sentence(t))),
    "docx-footer": lambda t: Carrier("letter.docx", DOCX, docx(footer=_sentence(t))),
    "docx-comment": lambda t: Carrier("letter.docx", DOCX, docx(comments=_sentence(t))),
    "docx-footnote": lambda t: Carrier("letter.docx", DOCX, docx(footnotes=_sentence(t))),
    "docx-endnote": lambda t: Carrier("letter.docx", DOCX, docx(endnotes=_sentence(t))),
    "docx-textbox": lambda t: Carrier("letter.docx", DOCX, docx(textbox=_sentence(t))),
    "docx-nested-table": lambda t: Carrier("letter.docx", DOCX, docx(nested_table=_sentence(t))),
    "docx-embedded-xlsx": lambda t: Carrier("letter.docx", DOCX, docx(embedded_xlsx=_sentence(t))),
    "docx-hyperlink": lambda t: Carrier(
        "letter.docx", DOCX, docx(link="https://pay.example.net/?note=" + t.replace(" ", "%20"))
    ),
    "xlsx-comment": lambda t: Carrier(
        "sheet.xlsx", XLSX, xlsx_book([["name", "status"]], comment=_sentence(t))
    ),
    "xlsx-header": lambda t: Carrier(
        "sheet.xlsx", XLSX, xlsx_book([["name", "status"]], header=_sentence(t))
    ),
    "xlsx-footer": lambda t: Carrier(
        "sheet.xlsx", XLSX, xlsx_book([["name", "status"]], footer=_sentence(t))
    ),
    "xlsx-hidden-sheet": lambda t: Carrier(
        "sheet.xlsx", XLSX, xlsx_book([["name", "status"]], hidden_sheet=_sentence(t))
    ),
    "xlsx-defined-name": lambda t: Carrier(
        "sheet.xlsx", XLSX, xlsx_book([["name", "status"]], defined_name=_sentence(t))
    ),
    "pdf-page": lambda t: Carrier("statement.pdf", "application/pdf", pdf(_sentence(t))),
    "pdf-metadata": lambda t: Carrier("statement.pdf", "application/pdf", pdf(metadata=_sentence(t))),
    "pdf-annotation": lambda t: Carrier("statement.pdf", "application/pdf", pdf(annotation=_sentence(t))),
    "pdf-form-field": lambda t: Carrier("statement.pdf", "application/pdf", pdf(form_field=_sentence(t))),
    "pdf-embedded-file": lambda t: Carrier("statement.pdf", "application/pdf", pdf(embedded=_sentence(t))),
}
