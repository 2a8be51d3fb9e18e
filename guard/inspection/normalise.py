"""Normalisation: undo disguises before detection, keeping an exact map back to the original.

What is undone: HTML character references (`&#x34;`, `&nbsp;`), zero-width, bidi and other
format characters, soft hyphens, fullwidth and other Unicode digits (any script), compatibility
forms (NFKC), Unicode dashes and spaces. Digits separated by spaces, dots, dashes, slashes or line
breaks are left to the detectors' patterns, which allow separators, so no digits are ever joined
here that the writer kept apart.

Only the characters that change are touched: pure ASCII text without `&` costs nothing.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

# Characters that change: every non-ASCII character, and HTML character references.
_SPECIAL = re.compile(r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)|[^\x00-\x7f]+")

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d"), "-")
_SPACES = {
    0x00A0: " ", 0x1680: " ", 0x2000: " ", 0x2001: " ", 0x2002: " ", 0x2003: " ", 0x2004: " ", 0x2005: " ",
    0x2006: " ", 0x2007: " ", 0x2008: " ", 0x2009: " ", 0x200A: " ", 0x202F: " ", 0x205F: " ", 0x3000: " ",
    0x2028: "\n", 0x2029: "\n", 0x0085: "\n",
}
_DOTS = {0x00B7: ".", 0x2022: ".", 0x2027: ".", 0x30FB: ".", 0xFF0E: ".", 0x2024: "."}


@lru_cache(maxsize=4096)
def _normalise_char(ch: str) -> str:
    """The ASCII-leaning replacement for one non-ASCII character ('' drops it)."""
    code = ord(ch)
    if code in _SPACES:
        return _SPACES[code]
    if code in _DASHES:
        return "-"
    if code in _DOTS:
        # A middle dot is a separator inside a number, but a word divider in a signature
        # ("555-1234 · name@example.com"); keep it distinct from a full stop there.
        return "." if code != 0x00B7 else "\u00b7"
    category = unicodedata.category(ch)
    if category == "Cf" or ch == "\u00ad" or category == "Mn" and code in range(0xFE00, 0xFE10):
        return ""  # zero-width, bidi controls, soft hyphen, variation selectors
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch:
        return "".join(_normalise_char(c) if not c.isascii() else c for c in folded)
    return ch


def _replacement(piece: str) -> str:
    if piece[0] == "&":
        decoded = html.unescape(piece)
        if decoded == piece:
            return piece
        return "".join(c if c.isascii() else _normalise_char(c) for c in decoded)
    return "".join(_normalise_char(c) for c in piece)


@dataclass(frozen=True, slots=True)
class Normalised:
    """Normalised text plus the map from its offsets back to the original's."""

    text: str
    original: str
    # One entry per replaced piece: start/end in the normalised text and in the original.
    norm_starts: list[int] = field(default_factory=list)
    norm_ends: list[int] = field(default_factory=list)
    orig_starts: list[int] = field(default_factory=list)
    orig_ends: list[int] = field(default_factory=list)

    @property
    def identity(self) -> bool:
        return not self.norm_starts

    def start_to_original(self, pos: int) -> int:
        if not self.norm_starts:
            return pos
        i = bisect_right(self.norm_starts, pos) - 1
        if i < 0:
            return pos
        if pos < self.norm_ends[i]:
            return self.orig_starts[i]  # inside a replaced piece: take all of it
        return self.orig_ends[i] + (pos - self.norm_ends[i])

    def end_to_original(self, pos: int) -> int:
        if not self.norm_starts:
            return pos
        i = bisect_right(self.norm_starts, pos - 1) - 1
        if i < 0:
            return pos
        if pos <= self.norm_ends[i] and pos > self.norm_starts[i]:
            return self.orig_ends[i]
        return self.orig_ends[i] + (pos - self.norm_ends[i])

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        return self.start_to_original(start), max(self.start_to_original(start), self.end_to_original(end))


def normalise(text: str) -> Normalised:
    """Return `text` with disguises undone and an offset map back to `text`."""
    if text.isascii() and "&" not in text:
        return Normalised(text, text)
    out: list[str] = []
    norm_starts: list[int] = []
    norm_ends: list[int] = []
    orig_starts: list[int] = []
    orig_ends: list[int] = []
    last = 0
    length = 0
    for m in _SPECIAL.finditer(text):
        s, e = m.span()
        piece = m.group()
        if piece[0] != "&":
            # Map character by character so a span can start or end inside a run.
            if s > last:
                out.append(text[last:s])
                length += s - last
            for k, ch in enumerate(piece):
                rep = _normalise_char(ch)
                if rep == ch:
                    out.append(ch)
                    length += 1
                    continue
                norm_starts.append(length)
                orig_starts.append(s + k)
                orig_ends.append(s + k + 1)
                out.append(rep)
                length += len(rep)
                norm_ends.append(length)
            last = e
            continue
        rep = _replacement(piece)
        if rep == piece:
            continue
        if s > last:
            out.append(text[last:s])
            length += s - last
        norm_starts.append(length)
        orig_starts.append(s)
        orig_ends.append(e)
        out.append(rep)
        length += len(rep)
        norm_ends.append(length)
        last = e
    if not norm_starts:
        return Normalised(text, text)
    out.append(text[last:])
    return Normalised("".join(out), text, norm_starts, norm_ends, orig_starts, orig_ends)
