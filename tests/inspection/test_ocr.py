"""OCR of images and scanned PDFs with the real tesseract binary: what is read, what is skipped,
and what is held as UNSCANNABLE (too large, undecodable, failed or out of time)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from ocr_images import bomb_png, card_photo, clean_slide, logo, luhn_card, mail_with, scanned_pdf

from guard.config import Settings
from guard.inspection import Inspector
from guard.inspection.ocr import find_binary, ocr_from_settings
from guard.model import Channel, OutboundMessage, Verdict

pytestmark = pytest.mark.skipif(find_binary() is None, reason="tesseract-ocr is not installed")
CARD = luhn_card(20261201)


@pytest.fixture(scope="module")
def ocr_inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    from guard.config import load_settings

    tmp = tmp_path_factory.mktemp("ocr")
    return Inspector.from_settings(load_settings(None, data_dir=str(tmp), rules={"hash_key": "k"}))


def inspect(inspector: Inspector, raw: bytes) -> Verdict:
    message = OutboundMessage(channel=Channel.SMTP, raw=raw, recipients=("bob@partner.net",))
    return inspector.inspect(message)


def _with(make_settings: Callable[..., Settings], **extract: Any) -> Inspector:
    return Inspector.from_settings(make_settings(extract=extract))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_card_photo_is_read(ocr_inspector: Inspector, fmt: str) -> None:
    started = time.perf_counter()
    verdict = inspect(
        ocr_inspector, mail_with(card_photo(CARD, fmt), "image", fmt.lower(), f"card.{fmt.lower()}")
    )
    print(f"\nOCR card photo {fmt}: {time.perf_counter() - started:.2f} s")
    assert verdict.counts() == {"CREDIT_CARD": 1}
    seg = verdict.segments[verdict.findings[0].segment]
    assert (seg.source, seg.kind) == (f"ocr part 2 attachment card.{fmt.lower()}", "ocr")


def test_clean_image_passes(ocr_inspector: Inspector) -> None:
    verdict = inspect(ocr_inspector, mail_with(clean_slide(), "image", "png", "roadmap.png"))
    assert verdict.findings == ()
    assert any(s.kind == "ocr" and "roadmap" in s.text.lower() for s in verdict.segments)


def test_small_images_are_not_read(ocr_inspector: Inspector) -> None:
    verdict = inspect(ocr_inspector, mail_with(logo(CARD), "image", "png", "logo.png"))
    assert verdict.findings == () and not any(s.kind == "ocr" for s in verdict.segments)


def test_scanned_pdf_page_is_read(ocr_inspector: Inspector) -> None:
    started = time.perf_counter()
    verdict = inspect(ocr_inspector, mail_with(scanned_pdf(CARD), "application", "pdf", "form.pdf"))
    print(f"\nOCR scanned PDF page: {time.perf_counter() - started:.2f} s")
    assert verdict.counts() == {"CREDIT_CARD": 1}
    assert verdict.segments[verdict.findings[0].segment].source == "ocr part 2 attachment form.pdf page 1"


@pytest.mark.parametrize(
    ("data", "extract", "reason"),
    [
        (bomb_png(10_000, 10_000), {}, "exceeds the OCR pixel limit"),
        (bomb_png(), {}, "larger than the OCR pixel limit"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, {}, "could not be decoded"),
        (card_photo(luhn_card(7)), {"ocr_timeout_s": 0.2}, "time budget"),
    ],
    ids=["pixel-bomb", "pixel-bomb-pillow", "undecodable", "timeout"],
)
def test_unreadable_images_are_unscannable(
    make_settings: Callable[..., Settings], data: bytes, extract: dict[str, Any], reason: str
) -> None:
    verdict = inspect(_with(make_settings, **extract), mail_with(data, "image", "png", "scan.png"))
    assert [f.type for f in verdict.findings] == ["UNSCANNABLE"]
    assert reason in verdict.findings[0].preview
    assert verdict.action.value == "quarantine"


def test_failing_tesseract_is_unscannable(make_settings: Callable[..., Settings]) -> None:
    inspector = _with(make_settings)
    ocr = inspector.extractor.limits.ocr
    assert ocr is not None
    inspector.extractor.limits = type(inspector.extractor.limits)(ocr=type(ocr)("/bin/false"))
    verdict = inspect(inspector, mail_with(clean_slide(), "image", "png", "slide.png"))
    assert [f.type for f in verdict.findings] == ["UNSCANNABLE"]
    assert "exit status 1" in verdict.findings[0].preview


def test_ocr_off_reads_no_image(make_settings: Callable[..., Settings]) -> None:
    verdict = inspect(_with(make_settings, ocr=False), mail_with(card_photo(CARD), "image", "png", "c.png"))
    assert verdict.findings == ()


def test_check_config_sentence(make_settings: Callable[..., Settings]) -> None:
    assert ocr_from_settings(make_settings().extract)[1].startswith("on (tesseract found: ")
    assert ocr_from_settings(make_settings(extract={"ocr": False}).extract)[1] == "off (extract.ocr = false)"


def test_redacted_draft_drops_an_image_it_cannot_mask(ocr_inspector: Inspector) -> None:
    """The check API's draft to send instead: the card photo is replaced by a notice."""
    from guard.inspection.redact import redact_message

    raw = mail_with(card_photo(CARD), "image", "png", "card.png")
    verdict = inspect(ocr_inspector, raw)
    draft = redact_message(raw, verdict, ("CREDIT_CARD",), drop_unmaskable=True)
    assert b"card.png.removed.txt" in draft and b"image/png" not in draft
    again = ocr_inspector.recheck(OutboundMessage(channel=Channel.API, raw=draft), ("CREDIT_CARD",))
    assert again.clean
