"""Digit runs: skip a numeric pattern when the text holds no run of digits long enough for it.

Most detectors are numeric ("3 digits, a dash, 2 digits, a dash, 4 digits"); each RE2 call has a
fixed cost, and most texts hold no number such a pattern could match. So the text's digit runs are
measured once (`longest_run`), and each pattern's smallest number of digits is derived from the
pattern itself (`min_run_digits`), never declared: a rule added tomorrow is analysed the same way,
and a pattern the analysis does not understand is simply always run.

A *digit run* is a stretch of the matched bytes (non-ASCII characters already read as "?") made of
digits and non-alphanumeric characters, where no more than `MAX_GAP` non-digits stand between two
digits. A pattern is gated only if none of its matches can hold an ASCII letter and no two digits
of a match can be more than `MAX_GAP` characters apart: then all the digits of any match lie in one
run, and a text whose longest run has fewer digits than the pattern needs cannot match it. A second,
weaker bound holds for every pattern, letters or not: the longest streak of consecutive digits
every match must hold (`min_digit_streak`: "\\d{7}" needs seven in a row). The gates therefore
never change what is found, only what is tried.
"""

from __future__ import annotations

import importlib
import re
import warnings
from dataclasses import dataclass
from typing import Any

# The stdlib's own regex parser, used here only to read a pattern's structure; untyped (its tuples
# are whatever the parser builds), hence Any.
try:
    _c: Any = importlib.import_module("re._constants")
    _p: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - Python < 3.11
    _c = importlib.import_module("sre_constants")
    _p = importlib.import_module("sre_parse")

#: Most non-digits allowed between two digits of one run (the widest separator a shipped pattern
#: allows is a line break with indentation and a quote marker, nine characters).
MAX_GAP = 12
INF = 1 << 30
_MAX_UNROLL = 64  # a bounded repeat folded copy by copy up to this count; above it, as unbounded

_DIGITS = frozenset(range(0x30, 0x3A))
_LETTERS = frozenset(range(0x41, 0x5B)) | frozenset(range(0x61, 0x7B))
_ASCII = frozenset(range(128))
_CATEGORY = {
    _c.CATEGORY_DIGIT: _DIGITS,
    _c.CATEGORY_NOT_DIGIT: _ASCII - _DIGITS,
    _c.CATEGORY_SPACE: frozenset(b" \t\n\r\f\v"),
    _c.CATEGORY_NOT_SPACE: _ASCII - frozenset(b" \t\n\r\f\v"),
    _c.CATEGORY_WORD: _DIGITS | _LETTERS | {0x5F},
    _c.CATEGORY_NOT_WORD: _ASCII - (_DIGITS | _LETTERS | {0x5F}),
}


class _Unknown(Exception):
    """A construct the analysis does not model: the pattern is always run."""


@dataclass(frozen=True, slots=True)
class _Shape:
    """What every match of a piece of pattern looks like, as bounds over all its matches.

    digits: fewest digits; pre/suf: most non-digits before the first / after the last digit (the
    whole match when it has none); gap: most non-digits between two digits; bare: longest match
    without any digit (-1: every match has a digit).
    """

    digits: int
    pre: int
    suf: int
    gap: int
    bare: int


_EMPTY = _Shape(0, 0, 0, 0, 0)


def _add(a: int, b: int) -> int:
    return min(INF, a + b)


def _seq(a: _Shape, b: _Shape) -> _Shape:
    pre = a.pre if a.bare < 0 else max(a.pre, _add(a.bare, b.pre))
    suf = b.suf if b.bare < 0 else max(b.suf, _add(a.suf, b.bare))
    bare = _add(a.bare, b.bare) if a.bare >= 0 and b.bare >= 0 else -1
    return _Shape(_add(a.digits, b.digits), pre, suf, max(a.gap, b.gap, _add(a.suf, b.pre)), bare)


def _alt(a: _Shape, b: _Shape) -> _Shape:
    return _Shape(
        min(a.digits, b.digits), max(a.pre, b.pre), max(a.suf, b.suf), max(a.gap, b.gap), max(a.bare, b.bare)
    )


def _chars(chars: frozenset[int]) -> _Shape:
    if chars & _LETTERS:
        raise _Unknown("may match a letter")
    if not chars:
        raise _Unknown("empty class")
    if chars <= _DIGITS:
        return _Shape(1, 0, 0, 0, -1)
    return _Shape(0, 1, 1, 0, 1)  # may be a non-digit (whether or not it may also be a digit)


def _class(items: Any) -> frozenset[int]:
    out: set[int] = set()
    negate = False
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            out.add(int(av))
        elif op is _c.RANGE:
            lo, hi = av
            out.update(range(lo, min(hi, 127) + 1))
        elif op is _c.CATEGORY:
            out |= _CATEGORY.get(av, _ASCII)
        else:
            raise _Unknown(f"class item {op}")
    chars = frozenset(c for c in out if c < 128)
    return _ASCII - chars if negate else chars


def _repeat(x: _Shape, lo: int, hi: int) -> _Shape:
    if hi <= _MAX_UNROLL:
        out = _EMPTY
        for _ in range(lo):
            out = _seq(out, x)
        optional = _alt(x, _EMPTY)
        for _ in range(hi - lo):
            out = _seq(out, optional)
        return out
    if x.bare > 0:
        raise _Unknown("unbounded repeat of a piece that may hold no digit")
    head = _EMPTY
    for _ in range(min(lo, _MAX_UNROLL)):
        head = _seq(head, x)
    # Any number of further copies: every copy that is not empty holds a digit.
    gap = max(x.gap, _add(x.suf, x.pre))
    rest = _Shape(0, x.pre, x.suf, gap, 0)
    out = _seq(head, rest)
    return _Shape(max(out.digits, min(INF, lo * x.digits)), out.pre, out.suf, out.gap, out.bare)


def _shape(items: Any) -> _Shape:
    out = _EMPTY
    for op, av in items:
        if op is _c.LITERAL:
            part = _chars(frozenset([int(av)]) if av < 128 else frozenset())
        elif op is _c.NOT_LITERAL:
            part = _chars(_ASCII - {int(av)})
        elif op is _c.IN:
            part = _chars(_class(av))
        elif op is _c.ANY:
            raise _Unknown("any character")
        elif op is _c.AT:
            part = _EMPTY
        elif op is _c.SUBPATTERN:
            part = _shape(av[-1])
        elif op is _c.BRANCH:
            branches = [_shape(b) for b in av[1]]
            part = branches[0]
            for b in branches[1:]:
                part = _alt(part, b)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            lo, hi, sub = av
            part = _repeat(_shape(sub), lo, INF if hi is _c.MAXREPEAT else hi)
        else:
            raise _Unknown(f"construct {op}")
        out = _seq(out, part)
    return out


@dataclass(frozen=True, slots=True)
class _Streak:
    """Bounds over all matches: the longest unbroken digit streak is at least `inner`; the match
    starts / ends with at least `pre` / `suf` digits; `full`: every match is all digits, at least
    `length` long."""

    inner: int
    pre: int
    suf: int
    full: bool
    length: int


_NO_STREAK = _Streak(0, 0, 0, True, 0)
_ONE_DIGIT = _Streak(1, 1, 1, True, 1)
_OTHER = _Streak(0, 0, 0, False, 1)


def _streak_seq(a: _Streak, b: _Streak) -> _Streak:
    return _Streak(
        max(a.inner, b.inner, a.suf + b.pre),
        a.length + b.pre if a.full else a.pre,
        a.suf + b.length if b.full else b.suf,
        a.full and b.full,
        a.length + b.length,
    )


def _streak_alt(a: _Streak, b: _Streak) -> _Streak:
    return _Streak(
        min(a.inner, b.inner),
        min(a.pre, b.pre),
        min(a.suf, b.suf),
        a.full and b.full,
        min(a.length, b.length),
    )


def _streak_chars(chars: frozenset[int]) -> _Streak:
    return _ONE_DIGIT if chars and chars <= _DIGITS else _OTHER


def _streak(items: Any) -> _Streak:
    out = _NO_STREAK
    for op, av in items:
        if op is _c.LITERAL:
            part = _ONE_DIGIT if int(av) in _DIGITS else _OTHER
        elif op in (_c.NOT_LITERAL, _c.ANY):
            part = _OTHER
        elif op is _c.IN:
            part = _streak_chars(_class(av))
        elif op is _c.AT:
            part = _NO_STREAK
        elif op is _c.SUBPATTERN:
            part = _streak(av[-1])
        elif op is _c.BRANCH:
            branches = [_streak(b) for b in av[1]]
            part = branches[0]
            for b in branches[1:]:
                part = _streak_alt(part, b)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            lo, hi, sub = av
            x = _streak(sub)
            part = _NO_STREAK
            for _ in range(min(lo, _MAX_UNROLL)):
                part = _streak_seq(part, x)
            if hi is _c.MAXREPEAT or hi > lo:
                # Further optional copies: no more digits can be counted on, and a match that is
                # all digits stays all digits only if every copy is.
                part = _streak_seq(part, _Streak(0, 0, 0, x.full, 0))
        else:
            raise _Unknown(f"construct {op}")
        out = _streak_seq(out, part)
    return out


def _parse(regex: str) -> Any:
    if "{," in regex or "\\p" in regex or "\\P" in regex or "[:" in regex or "\\C" in regex:
        return None  # RE2 and Python read these differently: not analysed
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return _p.parse(regex, 0)
    except (re.error, Warning, ValueError, TypeError, RecursionError, OverflowError):
        return None


def min_digit_streak(regex: str) -> int:
    """The fewest consecutive digits (no separator between them) every match of `regex` holds;
    0 when not known."""
    parsed = _parse(regex)
    if parsed is None:
        return 0
    try:
        return _streak(parsed).inner
    except (_Unknown, ValueError, TypeError, RecursionError):
        return 0


def min_run_digits(regex: str) -> int:
    """The fewest digits any match of `regex` (RE2 syntax) holds in one digit run; 0 when the
    pattern may match a letter, allows wider gaps, or uses syntax this analysis does not read."""
    parsed = _parse(regex)
    if parsed is None:
        return 0
    try:
        shape = _shape(parsed)
    except (_Unknown, ValueError, TypeError, RecursionError):
        return 0
    if shape.gap > MAX_GAP:
        return 0
    return shape.digits


# Digits with at most MAX_GAP non-alphanumeric bytes between two of them. Stdlib re, and it cannot
# backtrack far: the gap class excludes digits, so each repetition is decided within MAX_GAP bytes.
_RUN = re.compile(rb"[0-9](?:[^0-9A-Za-z]{0,%d}[0-9])*" % MAX_GAP)
_STREAK = re.compile(rb"[0-9]+")
_DIGIT_BYTES = b"0123456789"


def digit_profile(btext: bytes) -> tuple[int, int]:
    """(the most digits in one digit run, the longest streak of consecutive digits) of `btext`."""
    best = streak = 0
    for run in _RUN.findall(btext):
        digits = len(run) - len(run.translate(None, _DIGIT_BYTES))
        if digits > best:
            best = digits
        if digits > streak:
            streak = max(streak, max(map(len, _STREAK.findall(run))))
    return best, streak
