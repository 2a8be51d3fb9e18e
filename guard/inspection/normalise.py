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

import re2

_UNANCHORED = re2._Anchor.UNANCHORED

# What changes: every non-ASCII character, HTML character references, and HTML tags and
# comments (so "41<b>11</b>" reads "4111"; block tags read as line breaks).
_SPECIAL = re.compile(
    r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)"
    r"|<!--[^>]{0,2000}?-->|</?[A-Za-z][A-Za-z0-9]{0,15}(?:\s[^<>]{0,500})?/?>"
    r"|[\u202e\u2067][^\u202c\u2069\n]{1,200}[\u202c\u2069]?"  # right-to-left override / isolate
    r"|[^\x00-\x7f]+"
)
_RTL_OPEN = "\u202e\u2067"
_RTL_CLOSE = "\u202c\u2069"
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|tr|li|ul|ol|table|h[1-6]|blockquote|pre|hr|dd|dt|section|article)\b", re.I
)
_CELL_TAG = re.compile(r"</?t[dh]\b", re.I)

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d"), "-")
_SPACES = {
    0x00A0: " ",
    0x1680: " ",
    0x2000: " ",
    0x2001: " ",
    0x2002: " ",
    0x2003: " ",
    0x2004: " ",
    0x2005: " ",
    0x2006: " ",
    0x2007: " ",
    0x2008: " ",
    0x2009: " ",
    0x200A: " ",
    0x202F: " ",
    0x205F: " ",
    0x3000: " ",
    # Blank-looking letters and symbols used as invisible separators ("4926⠀2243"): Braille
    # blank, Hangul fillers (NFKC folds U+3164 and U+FFA0 to U+1160, so all are listed).
    0x2800: " ",
    0x3164: " ",
    0xFFA0: " ",
    0x115F: " ",
    0x1160: " ",
    0x2028: "\n",
    0x2029: "\n",
    0x0085: "\n",
}
# Cyrillic and Greek capitals that look like Latin ones, as used to hide an IBAN's country code.
_CONFUSABLE_LETTERS = {
    "А": "A",
    "В": "B",
    "Е": "E",
    "К": "K",
    "М": "M",
    "Н": "H",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Т": "T",
    "Х": "X",
    "Ѕ": "S",
    "І": "I",
    "Ј": "J",
    "Α": "A",
    "Β": "B",
    "Ε": "E",
    "Ζ": "Z",
    "Η": "H",
    "Ι": "I",
    "Κ": "K",
    "Μ": "M",
    "Ν": "N",
    "Ο": "O",
    "Ρ": "P",
    "Τ": "T",
    "Υ": "Y",
    "Χ": "X",
}
_DOTS = {
    0x00B7: ".",
    0x2022: ".",
    0x2027: ".",
    0x30FB: ".",
    0xFF0E: ".",
    0x2024: ".",
    0x2219: ".",
    0x22C5: ".",
}


_KEYCAPS = {0x1F51F: "10"}  # keycap ten; "4\ufe0f\u20e3" keycaps are a digit and two marks


@lru_cache(maxsize=4096)
def _is_mark(ch: str) -> bool:
    """A combining or enclosing mark (U+0332 underline, U+20E3 keycap), not a variation selector."""
    return unicodedata.category(ch) in ("Mn", "Me") and not 0xFE00 <= ord(ch) <= 0xFE0F


def _drops_mark(text: str, at: int) -> bool:
    """Whether the mark at `at` decorates a digit or a Latin letter that has no precomposed form
    with it ("4\u0332", "A\u0332", a keycap "4\u20e3"): a reader sees the base character, so it is
    read without the mark. "e\u0301" (é) keeps its accent."""
    j = at - 1
    while j >= 0 and (_is_mark(text[j]) or 0xFE00 <= ord(text[j]) <= 0xFE0F):
        j -= 1
    if j < 0:
        return False
    base = text[j]
    if not (base.isascii() and base.isalnum()) and not _normalise_char(base).isdigit():
        return False
    return len(unicodedata.normalize("NFC", base + text[at])) != 1


@lru_cache(maxsize=4096)
def _normalise_char(ch: str) -> str:
    """The ASCII-leaning replacement for one non-ASCII character ('' drops it)."""
    code = ord(ch)
    if code in _SPACES:
        return _SPACES[code]
    if code in _DASHES:
        return "-"
    if code in _DOTS:
        return "."
    if ch in _CONFUSABLE_LETTERS:
        return _CONFUSABLE_LETTERS[ch]
    category = unicodedata.category(ch)
    if category == "Cf" or ch == "\u00ad" or (category == "Mn" and code in range(0xFE00, 0xFE10)):
        return ""  # zero-width, bidi controls, soft hyphen, variation selectors
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    if category == "No":
        # Circled, parenthesised, full-stop and dingbat digits (①, ⑴, ⒈, ❶, ➊, ⓿, 🄋),
        # superscripts and subscripts: the digit a reader sees, without the decoration.
        value = unicodedata.numeric(ch, None)
        if value is not None and value.is_integer() and 0 <= value <= 20:
            return str(int(value))
    if code in _KEYCAPS:
        return _KEYCAPS[code]
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch:
        return "".join(_normalise_char(c) if not c.isascii() else c for c in folded)
    return ch


#: Spelled-out digits in the languages our customers write, each word to its digit. A run of
#: four or more is read as digits; shorter ones ("one or two", "un deux trois") never are, and
#: a run only becomes a finding if the digits it reads as form a valid sensitive value.
_NUMBER_WORDS: dict[str, tuple[str, ...]] = {
    "0": ("zero", "oh", "null", "nul", "cero", "zéro"),
    "1": ("one", "eins", "un", "une", "uno", "una", "um", "uma", "een", "één"),
    "2": ("two", "zwei", "zwo", "deux", "dos", "due", "dois", "duas", "twee"),
    "3": ("three", "drei", "trois", "tres", "três", "tre", "drie"),
    "4": ("four", "vier", "quatre", "cuatro", "quattro", "quatro"),
    "5": ("five", "fünf", "fuenf", "cinq", "cinco", "cinque", "vijf"),
    "6": ("six", "sechs", "seis", "sei", "zes"),
    "7": ("seven", "sieben", "sept", "siete", "sette", "sete", "zeven"),
    "8": ("eight", "acht", "huit", "ocho", "otto", "oito"),
    "9": ("nine", "neun", "neuf", "nueve", "nove", "negen"),
}
_WORD_DIGITS = {w: d for d, words in _NUMBER_WORDS.items() for w in words}
#: Slack/Discord emoji shortcodes that render as keycap digits.
_EMOJI_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_EMOJI_DIGITS = {f":{w}:": str(d) for d, w in enumerate(_EMOJI_NAMES)} | {":keycap_ten:": "10"}


def _ascii_word(word: str) -> str:
    """The word as the ASCII bytes the disguise pattern sees: non-ASCII letters are '?'."""
    return "".join(c if c.isascii() else "\\?" for c in word)


_DIGIT_WORD = "(?:" + "|".join(sorted({_ascii_word(w) for w in _WORD_DIGITS}, key=len, reverse=True)) + ")"
# Chat markup that splits a number without changing what a reader sees: emphasis, strike,
# code and spoiler delimiters next to a digit ("4111 *1111*", "||4111||"), a Slack or Google
# Chat link's hidden URL ("41<http://x|11>"), a Markdown link's target ("41[11](http://x)").
_MARKUP = r"[*_~`|\[>]{1,4}"
_LINK_OPEN = r"<[^<>|\s]{1,300}\|"
_LINK_TARGET = r"\]\([^()\s]{0,300}\)"
# Disguises made of ASCII: a run of four or more spelled-out digits ("five nine one six",
# "vier-eins-eins-zwei", "four.one.one.one"), emoji shortcodes (":four::one:"), chat markup
# inside a number, and digit look-alikes in a token that is otherwise digits ("4lll", "1O11").
# RE2 (linear, fast on megabytes); the token pattern needs no lookaround because every
# character of a matching token is in the class and \b ends it.
_ASCII_DISGUISE = re2.compile(
    rf"(?i:\b{_DIGIT_WORD}(?:[ \t,./_:-]{{1,3}}{_DIGIT_WORD}){{3,}}\b)"
    rf"|:(?:{'|'.join(_EMOJI_NAMES)}|keycap_ten):"
    rf"|[0-9](?:{_MARKUP}|{_LINK_OPEN}|{_LINK_TARGET})[0-9]?"
    rf"|(?:{_MARKUP}|{_LINK_OPEN})[0-9]"
    # a run of three or more groups of digits and look-alikes ("4lll llll llll llll"): kept
    # only if it holds a real digit (checked in _ascii_disguises)
    r"|\b[0-9OolI]{2,}(?:[ .-][0-9OolI]{2,}){2,}\b"
    r"|\b[0-9OolI]*(?:[0-9][0-9OolI]*[OolI]|[OolI][0-9OolI]*[0-9])[0-9OolI]*\b"
)
_SPELLED = re.compile(rb"(?i)(?:" + _DIGIT_WORD.encode() + rb")\b")
_MARKUP_PIECE = re.compile(rf"([0-9]?)(?:{_MARKUP}|{_LINK_OPEN}|{_LINK_TARGET})([0-9]?)", re.ASCII)
_WORD = re.compile(r"[^\W\d_]+")
_LOOKALIKE_DIGITS = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1"})


def _word_digit(m: re.Match[str]) -> str:
    word = m.group().lower()
    return _WORD_DIGITS.get(word, word)


def _ascii_replacement(piece: str) -> str:
    if piece[0] == ":":
        return _EMOJI_DIGITS.get(piece.lower(), piece)
    markup = _MARKUP_PIECE.fullmatch(piece)
    if markup:
        return markup.group(1) + markup.group(2)
    if piece[0].isdigit() or (piece[0] in "OolI" and not piece.isalpha()):
        return piece.translate(_LOOKALIKE_DIGITS)
    return " ".join(_word_digit(m) for m in _WORD.finditer(piece))


def _replacement(piece: str) -> str:
    if piece[0] == "<":
        if _BLOCK_TAG.match(piece):
            return "\n"
        return "\t" if _CELL_TAG.match(piece) else ""
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

    def changed_spans(self) -> list[tuple[int, int]]:
        """Where this reading differs from the text it was made from (offsets in this reading)."""
        return list(zip(self.norm_starts, self.norm_ends, strict=True))

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


@dataclass(frozen=True, slots=True)
class _Composed:
    """Two normalisation stages: offsets map through the second, then the first."""

    text: str
    original: str
    first: Normalised
    second: Normalised

    @property
    def identity(self) -> bool:
        return False

    def changed_spans(self) -> list[tuple[int, int]]:
        return self.second.changed_spans()

    def start_to_original(self, pos: int) -> int:
        return self.first.start_to_original(self.second.start_to_original(pos))

    def end_to_original(self, pos: int) -> int:
        return self.first.end_to_original(self.second.end_to_original(pos))

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        s = self.start_to_original(start)
        return s, max(s, self.end_to_original(end))


def _build(text: str, pieces: list[tuple[int, int, str]]) -> Normalised:
    if not pieces:
        return Normalised(text, text)
    out: list[str] = []
    norm_starts: list[int] = []
    norm_ends: list[int] = []
    orig_starts: list[int] = []
    orig_ends: list[int] = []
    last = 0
    length = 0
    for s, e, rep in pieces:
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
    out.append(text[last:])
    return Normalised("".join(out), text, norm_starts, norm_ends, orig_starts, orig_ends)


def _unicode_stage(text: str) -> Normalised:
    """Entities, invisible characters, Unicode digits, compatibility forms."""
    if text.isascii() and "&" not in text and "<" not in text:
        return Normalised(text, text)
    pieces: list[tuple[int, int, str]] = []
    for m in _SPECIAL.finditer(text):
        s, e = m.span()
        piece = m.group()
        if piece[0] in "&<":
            rep = _replacement(piece)
            if rep != piece:
                pieces.append((s, e, rep))
            continue
        if piece[0] in _RTL_OPEN:
            # Displayed right to left: "\u202e4321" shows as 1234, so the reading is reversed.
            inner = piece[1:].rstrip(_RTL_CLOSE)
            pieces.append((s, e, "".join(c if c.isascii() else _normalise_char(c) for c in reversed(inner))))
            continue
        for k, ch in enumerate(piece):  # one by one, so a span may start or end inside a run
            rep = _normalise_char(ch)
            if rep == ch and _is_mark(ch) and _drops_mark(text, s + k):
                rep = ""
            if rep != ch:
                pieces.append((s + k, s + k + 1, rep))
    return _build(text, pieces)


def _ascii_disguises(text: str) -> list[tuple[int, int]]:
    """Spans of ASCII disguises; non-ASCII characters are masked so offsets stay character offsets."""
    data = text.encode("ascii", "replace")
    spans = []
    pos = 0
    end = len(data)
    while pos < end:
        m_start, m_end = _ASCII_DISGUISE._regexp.Match(_UNANCHORED, data, pos, end)[0]
        if m_start < 0:
            break
        if m_end > m_start:
            piece = data[m_start:m_end]
            if not any(48 <= b <= 57 for b in piece) and not _SPELLED.match(piece) and piece[0] != 58:
                pos = m_start + 1  # look-alike letters only ("Ill lol"): words, not a number
                continue
            if not _underscore_in_word(data, m_start, m_end):
                spans.append((m_start, m_end))
        pos = max(m_end, m_start + 1)
    return spans


def _underscore_in_word(data: bytes, start: int, end: int) -> bool:
    """An underscore joining a digit to a letter ("ghp_9T", "id_7x") is part of an identifier,
    not emphasis markup: Slack and Markdown only italicise at word edges."""
    piece = data[start:end]
    if piece.strip(b"0123456789") != b"_":
        return False
    before = data[start - 1 : start] if piece[:1] == b"_" else b""
    after = data[end : end + 1] if piece[-1:] == b"_" else b""
    return before.isalpha() or after.isalpha()


def _ascii_stage(text: str, spans: list[tuple[int, int]]) -> Normalised:
    """Spelled-out digits and digit look-alikes, once invisible characters are gone."""
    pieces = [(s, e, _ascii_replacement(text[s:e])) for s, e in spans]
    return _build(text, [p for p in pieces if p[2] != text[p[0] : p[1]]])


def normalise(text: str) -> Normalised:
    """Return `text` with Unicode and markup disguises undone and an offset map back to `text`."""
    return _unicode_stage(text)


def ascii_variant(first: Normalised) -> Normalised | _Composed | None:
    """A second reading with spelled-out digits and digit look-alikes ("4lll", "O") replaced.

    It is a separate reading, not a replacement: an Italian IBAN's letter O must stay a letter,
    so detection runs on both and keeps what the second finds in addition.
    """
    spans = _ascii_disguises(first.text)
    if not spans:
        return None
    second = _ascii_stage(first.text, spans)
    if second.identity:
        return None
    if first.identity:
        return Normalised(
            second.text,
            first.original,
            second.norm_starts,
            second.norm_ends,
            second.orig_starts,
            second.orig_ends,
        )
    return _Composed(second.text, first.original, first, second)
