"""The bounds every reader works within, and the one exception that says "cannot read this".

Every reader (MIME, HTML, archives, documents) raises `Unscannable` with a reason a person can
act on; the extractor records it and the policy holds the message (fail closed). Any other
exception from a parser is turned into an `Unscannable` reason by the extractor too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guard.inspection.ocr import Ocr


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 6  # nesting of multiparts, forwards and archives together
    max_parts: int = 500
    max_archive_members: int = 1000
    max_total_bytes: int = 200 * 1024 * 1024  # decompressed bytes across the message
    max_ratio: int = 150  # decompressed / compressed size of one archive member
    max_chars: int = 20_000_000  # text handed to the detectors
    max_seconds: float = 60.0  # reading one message; beyond it the rest is UNSCANNABLE
    ocr: Ocr | None = None  # reads images and scanned PDF pages (guard/inspection/ocr.py)


class Unscannable(Exception):
    """This content cannot be read within the limits; the message says why (never a value)."""


def expansion_cap(compressed: int, budget: int, limits: Limits) -> int:
    """How many bytes a compressed stream of `compressed` bytes may expand to."""
    return max(0, min(budget, compressed * limits.max_ratio + 1024 * 1024))


__all__ = ["Limits", "Unscannable", "expansion_cap"]
