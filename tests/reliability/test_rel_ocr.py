"""OCR through the real SMTP listener: a photographed card and a scanned form are held, a clean
image is relayed unchanged, an image the guard could not read in time is held as UNSCANNABLE.

Every image is drawn by the test (tests/ocr_images.py) with a card number computed here.
"""

from __future__ import annotations

import time

import pytest
from ocr_images import EXTERNAL, SENDER, card_photo, clean_slide, luhn_card, mail_with, scanned_pdf

from guard.inspection import Inspector
from guard.inspection.ocr import find_binary
from guard.testing import SmtpSink
from tests.reliability.conftest import GuardFactory
from tests.reliability.relkit import smtp_attempt

pytestmark = pytest.mark.skipif(find_binary() is None, reason="tesseract-ocr is not installed")
CARD = luhn_card(11_2026)

HELD = [
    ("card-photo-png", mail_with(card_photo(CARD), "image", "png", "IMG_2041.png"), "CREDIT_CARD"),
    ("card-photo-jpeg", mail_with(card_photo(CARD, "JPEG"), "image", "jpeg", "IMG_2042.jpg"), "CREDIT_CARD"),
    ("scanned-pdf", mail_with(scanned_pdf(CARD), "application", "pdf", "scan0001.pdf"), "CREDIT_CARD"),
]


@pytest.mark.parametrize(("case", "raw", "entity"), HELD, ids=[h[0] for h in HELD])
async def test_image_with_card_is_held(
    start_guard: GuardFactory, sink: SmtpSink, case: str, raw: bytes, entity: str
) -> None:
    guard = await start_guard(smtp={"upstream": sink.url})
    started = time.perf_counter()
    attempt = await smtp_attempt(guard.smtp_port, raw, tag=case, kind=entity, rcpts=[EXTERNAL], sender=SENDER)
    print(f"\nOCR {case}: {attempt.code} {attempt.text[:60]} in {time.perf_counter() - started:.2f} s")
    assert attempt.code == 250 and "Held for security review" in attempt.text
    assert sink.messages == []


async def test_clean_image_is_relayed(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard(smtp={"upstream": sink.url})
    raw = mail_with(clean_slide(), "image", "png", "roadmap.png")
    attempt = await smtp_attempt(
        guard.smtp_port, raw, tag="clean", kind="none", rcpts=[EXTERNAL], sender=SENDER
    )
    assert attempt.outcome == "acked" and "Held" not in attempt.text
    assert len(sink.messages) == 1
    assert raw.split(b"\n\n", 1)[1].replace(b"\r\n", b"\n") in sink.messages[0].content.replace(
        b"\r\n", b"\n"
    )


async def test_image_not_read_in_time_is_held(
    start_guard: GuardFactory, sink: SmtpSink, make_settings: object
) -> None:
    settings = make_settings(extract={"ocr_timeout_s": 0.2})  # type: ignore[operator]
    guard = await start_guard(smtp={"upstream": sink.url}, inspector=Inspector.from_settings(settings))
    raw = mail_with(clean_slide(), "image", "png", "slide.png")
    attempt = await smtp_attempt(
        guard.smtp_port, raw, tag="slow", kind="UNSCANNABLE", rcpts=[EXTERNAL], sender=SENDER
    )
    assert attempt.code == 250 and "Held for security review" in attempt.text
    assert sink.messages == []
