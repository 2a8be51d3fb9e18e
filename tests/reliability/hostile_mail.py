"""Hostile messages for the SMTP path: decompression bombs, PDFs with reference loops and
oversized streams, deep and wide MIME trees, huge bodies, backtracking bait."""

from __future__ import annotations

import io
import zipfile
import zlib

from tests.reliability.evasion_cases import attachment_mail, raw_mail
from tests.reliability.sensitive_samples import CARD


def zip_bomb(mib: int) -> bytes:
    """One member of `mib` MiB of zeros (zip64), about 1 KiB per MiB compressed."""
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("zeros.txt", "w", force_zip64=True) as f,
    ):
        chunk = b"\0" * (1 << 20)
        for _ in range(mib):
            f.write(chunk)
    return buf.getvalue()


def nested_zip_bomb(levels: int, fanout: int, inner_mib: int) -> bytes:
    data = zip_bomb(inner_mib)
    for level in range(levels):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for j in range(fanout):
                zf.writestr(f"l{level}_{j}.zip", data)
        data = buf.getvalue()
    return data


def gzip_bomb(mib: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    return b"".join(c.compress(chunk) for _ in range(mib)) + c.flush()


def pdf(objects: list[bytes]) -> bytes:
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def pdf_pages_loop() -> bytes:
    """A page tree whose Pages node lists itself among its kids."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 3 0 R] /Count 1 >>",
        ]
    )


def pdf_reference_loop() -> bytes:
    """A stream whose /Length is an indirect object that refers to itself."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources 5 0 R >>",
            b"<< /Length 5 0 R >>\nstream\nBT ET\nendstream",
            b"5 0 R",
        ]
    )


def pdf_padded_text(pad_mib: int, text: str = f"card {CARD}") -> bytes:
    """One page whose (deflated) content stream is `pad_mib` MiB of spaces, then `text`."""
    content = b" " * (pad_mib << 20) + f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    data = zlib.compress(content, 9)
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length "
            + str(len(data)).encode()
            + b" /Filter /FlateDecode >>\nstream\n"
            + data
            + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def deep_mime(levels: int) -> bytes:
    inner = f"Content-Type: text/plain\r\n\r\ncard {CARD}\r\n"
    for i in range(levels):
        inner = f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n{inner}\r\n--b{i}--\r\n'
    return raw_mail("Subject: deep\r\nMIME-Version: 1.0\r\n", "").rstrip(b"\r\n") + b"\r\n" + inner.encode()


def wide_mime(parts: int) -> bytes:
    body = "".join(f"--w\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(parts)) + "--w--\r\n"
    return raw_mail(
        'Subject: wide\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="w"\r\n', body
    )


def huge_text(mib: int) -> bytes:
    line = "The quarterly report is attached; numbers are in the usual place.\r\n"
    return raw_mail("Subject: big\r\n", line * ((mib << 20) // len(line)) + f"card {CARD}\r\n")


def digit_soup(kib: int) -> bytes:
    """Backtracking bait: long runs of digits and separators that almost form numbers."""
    unit = "4111 1111 1111 111- 5-5-5-5 1.1.1.1.1 "
    line = unit * 2 + "\r\n"  # lines under the 1000-octet SMTP limit
    return raw_mail("Subject: soup\r\n", line * ((kib << 10) // len(line)))


#: name -> (message, what the reply may be). "held" = 250 2.6.0 (unscannable or found, quarantined).
HOSTILE_MAIL = {
    "zip-bomb-400mib": (lambda: attachment_mail("z.zip", zip_bomb(400)), {"held"}),
    "nested-zip-bomb-3x10": (lambda: attachment_mail("n.zip", nested_zip_bomb(3, 10, 20)), {"held"}),
    "gzip-bomb-400mib": (lambda: attachment_mail("g.txt.gz", gzip_bomb(400)), {"held"}),
    "pdf-pages-loop": (lambda: attachment_mail("loop.pdf", pdf_pages_loop(), "application", "pdf"), {"held"}),
    "pdf-reference-loop": (
        lambda: attachment_mail("ref.pdf", pdf_reference_loop(), "application", "pdf"),
        {"held"},
    ),
    "pdf-stream-bomb-120mib": (
        lambda: attachment_mail("b.pdf", pdf_padded_text(120), "application", "pdf"),
        {"held"},
    ),
    "mime-500-deep": (lambda: deep_mime(500), {"held", "tempfail"}),
    "mime-2000-parts": (lambda: wide_mime(2000), {"held"}),
    "body-20mib": (lambda: huge_text(20), {"held"}),
    "digit-soup-2mib": (lambda: digit_soup(2048), {"held", "refused", "relayed"}),
}
