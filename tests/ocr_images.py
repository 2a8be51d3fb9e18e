"""Images the OCR tests draw: a card photo with a Luhn-valid number made here, a clean slide,
a logo, a scanned (image-only) PDF, and a PNG whose header claims a decompression bomb.

Text is drawn with DejaVu (Debian fonts-dejavu-core, see .ci/setup-extra.sh).
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from email.message import EmailMessage

from PIL import Image, ImageDraw, ImageFont

from guard.testing import luhn_complete

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
EXTERNAL = "bob@partner.net"
SENDER = "alice@example.com"


def luhn_card(seed: int) -> str:
    """A 16-digit Visa-shaped number whose Luhn check digit is computed here."""
    rng = random.Random(seed)
    body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    return luhn_complete(body)


def grouped(card: str) -> str:
    return " ".join(card[i : i + 4] for i in range(0, len(card), 4))


def _font(size: int, mono: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSansMono-Bold.ttf" if mono else "DejaVuSans.ttf"  # card digits are bold
    return ImageFont.truetype(f"{FONT_DIR}/{name}", size)


def card_photo(card: str, fmt: str = "PNG") -> bytes:
    """A payment card as a phone would photograph it: coloured background, number in the middle."""
    img = Image.new("RGB", (860, 540), (28, 58, 130))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((18, 18, 842, 522), radius=32, fill=(42, 84, 168))
    draw.text((60, 60), "EXAMPLE BANK", font=_font(40), fill="white")
    draw.text((60, 260), grouped(card), font=_font(58, mono=True), fill="white")
    draw.text((60, 400), "VALID THRU 12/29", font=_font(32), fill="white")
    return _save(img, fmt)


def clean_slide(fmt: str = "PNG") -> bytes:
    img = Image.new("RGB", (900, 400), "white")
    draw = ImageDraw.Draw(img)
    draw.text((40, 60), "Quarterly roadmap review", font=_font(44), fill="black")
    draw.text((40, 200), "Ship the new onboarding flow in May", font=_font(32), fill="black")
    return _save(img, fmt)


def logo(card: str) -> bytes:
    """A small image (below the OCR threshold) even if it shows digits: logos are not read."""
    img = Image.new("RGB", (180, 60), "white")
    ImageDraw.Draw(img).text((4, 20), grouped(card)[:9], font=_font(18), fill="black")
    return _save(img, "PNG")


def scanned_pdf(card: str) -> bytes:
    """An image-only PDF (no text layer), as a scanner makes it, via Pillow's PDF writer."""
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    draw.text((100, 150), "Customer payment form", font=_font(48), fill="black")
    draw.text((100, 400), f"Card number: {grouped(card)}", font=_font(44), fill="black")
    buf = io.BytesIO()
    page.save(buf, "PDF", resolution=150)
    return buf.getvalue()


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG whose header claims width x height pixels (the data is a stub: never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _save(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 92} if fmt == "JPEG" else {}))  # a phone camera's quality
    return buf.getvalue()


def mail_with(
    data: bytes, maintype: str, subtype: str, filename: str, text: str = "Photo attached."
) -> bytes:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = EXTERNAL
    msg["Subject"] = "as discussed"
    msg.set_content(text)
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(msg)
