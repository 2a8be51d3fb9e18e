"""OCR: the text drawn in images and scanned PDF pages (a photographed card, a scanned passport).

Tesseract (Debian's `tesseract-ocr`) runs as a subprocess, one image at a time, single-threaded,
with a time budget; nothing is decoded before its size is read from the header. What happens to
an image:

  smaller than `ocr_min_pixels`        not read: logos, icons, signature images (pass)
  larger than `ocr_max_pixels`         UNSCANNABLE, never decoded (decompression bombs)
  not decodable                        UNSCANNABLE
  tesseract fails or runs out of time  UNSCANNABLE: an image we did not read may show anything
  read, no text in it                  nothing found (pass)

The time budget (`ocr_timeout_s`) is per message: every image of one message shares it, so a
message with many images is held rather than allowed to stall the worker. A scanned PDF page is
a page with no text layer that carries images; each of its images is read as above.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guard.config import ExtractSettings

#: Image formats read by OCR, by their first bytes (a content type or file name is a claim only).
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
_UPSCALE_BELOW = 1000  # narrower images are enlarged before OCR: Tesseract reads ~30 px glyphs best


class OcrUnreadable(Exception):
    """An image above the size threshold that could not be read; the message is UNSCANNABLE."""


def image_format(data: bytes) -> str | None:
    """The image format named by the data's own first bytes (WebP by its RIFF header)."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(slots=True)
class OcrBudget:
    """What is left of one message's OCR time."""

    deadline: float

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


@dataclass(frozen=True, slots=True)
class Ocr:
    """OCR settings plus the tesseract binary; shared by threads (it holds no per-message state)."""

    binary: str
    timeout_s: float = 10.0
    max_pixels: int = 40_000_000
    min_pixels: int = 40_000
    language: str = "eng"

    def budget(self) -> OcrBudget:
        return OcrBudget(time.monotonic() + self.timeout_s)

    def image_text(self, data: bytes, budget: OcrBudget) -> str | None:
        """The text in an image; None when it is too small to matter; OcrUnreadable otherwise."""
        from PIL import Image

        with warnings.catch_warnings():
            # Pillow warns (and above 2x raises) past MAX_IMAGE_PIXELS; our own limit is below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                img = Image.open(io.BytesIO(data))  # reads the header only
                width, height = img.size
            except Image.DecompressionBombError:
                raise OcrUnreadable("image larger than the OCR pixel limit (decompression bomb)") from None
            except Exception:
                raise OcrUnreadable("image could not be decoded") from None
            return self._read(img, width, height, budget)

    def _read(self, img: Any, width: int, height: int, budget: OcrBudget) -> str | None:
        from PIL import ImageOps, ImageStat

        pixels = width * height
        if pixels < self.min_pixels:
            return None
        if pixels > self.max_pixels:
            raise OcrUnreadable(f"image of {pixels // 1_000_000} megapixels exceeds the OCR pixel limit")
        try:
            gray = img.convert("L")
            if ImageStat.Stat(gray).mean[0] < 128:  # light text on a dark card: Tesseract wants dark on light
                gray = ImageOps.invert(gray)
            gray = ImageOps.autocontrast(gray)
            if width < _UPSCALE_BELOW and pixels * 4 <= self.max_pixels:
                gray = gray.resize((width * 2, height * 2))
            buf = io.BytesIO()
            gray.save(buf, "PNG", compress_level=1)
        except Exception:
            raise OcrUnreadable("image could not be decoded") from None
        return self._tesseract(buf.getvalue(), budget)

    def _tesseract(self, png: bytes, budget: OcrBudget) -> str:
        remaining = budget.remaining()
        if remaining <= 0:
            raise OcrUnreadable(f"OCR time budget ({self.timeout_s:g} s) used up by earlier images")
        env = {"OMP_THREAD_LIMIT": "1", "PATH": os.environ.get("PATH", "/usr/bin")}
        try:
            done = subprocess.run(
                [self.binary, "stdin", "stdout", "-l", self.language, "--psm", "3"],
                input=png,
                capture_output=True,
                timeout=remaining,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise OcrUnreadable(f"OCR did not finish within the time budget ({self.timeout_s:g} s)") from None
        except OSError as exc:
            raise OcrUnreadable(f"OCR could not run ({type(exc).__name__})") from None
        if done.returncode != 0:
            raise OcrUnreadable(f"OCR failed (exit status {done.returncode})")
        return done.stdout.decode("utf-8", "replace")

    def pdf_page_texts(self, reader: Any, budget: OcrBudget) -> Iterator[tuple[int, str]]:
        """(page number, text) for the images of every page without a text layer."""
        for number, page in enumerate(reader.pages, 1):
            sizes = list(_pdf_image_sizes(page))  # cheap: the page dictionary, nothing decoded
            if not sizes or (page.extract_text() or "").strip():
                continue
            if any(w * h > self.max_pixels for w, h in sizes):
                raise OcrUnreadable(f"page {number} holds an image beyond the OCR pixel limit")
            if all(w * h < self.min_pixels for w, h in sizes):
                continue
            for image_file in page.images:
                img = image_file.image
                if img is None:
                    continue
                text = self._read(img, img.size[0], img.size[1], budget)
                if text and text.strip():
                    yield number, text


def _pdf_image_sizes(page: Any) -> Iterator[tuple[int, int]]:
    """Width and height of each image XObject on a page, read from its dictionary (not decoded)."""
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is None:
        return
    for ref in xobjects.get_object().values():
        obj = ref.get_object()
        if obj.get("/Subtype") == "/Image":
            yield int(obj.get("/Width", 0)), int(obj.get("/Height", 0))


def find_binary() -> str | None:
    return shutil.which("tesseract")


def ocr_from_settings(settings: ExtractSettings) -> tuple[Ocr | None, str]:
    """The OCR reader (or None) and a sentence saying why, for `guard check-config`."""
    binary = find_binary()
    if settings.ocr is False:
        return None, "off (extract.ocr = false)"
    if binary is None:
        if settings.ocr:
            return None, "off: extract.ocr = true but no tesseract binary on PATH (apt install tesseract-ocr)"
        return None, "off: no tesseract binary on PATH (apt install tesseract-ocr to read images)"
    try:
        import PIL  # noqa: F401
    except ImportError:
        return None, "off: Pillow is not installed"
    ocr = Ocr(binary, settings.ocr_timeout_s, settings.ocr_max_pixels, settings.ocr_min_pixels)
    why = "extract.ocr = true" if settings.ocr else "tesseract found"
    return ocr, f"on ({why}: {binary})"
