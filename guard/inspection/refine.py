"""Refiners: turn one pattern match into the exact value spans worth validating.

`digit_groups` tries every run of whole digit groups inside a separated number (longest
first), so "4111 1111 1111 1111 123" still yields the card and "1234 5678" never yields
half a group. `iban` cuts a match to its country's IBAN length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from guard.inspection.registry import REFINERS, Refiner, Span, refiner
from guard.inspection.validators import iban_length

if TYPE_CHECKING:
    from guard.inspection.rules import Detector

__all__ = ["REFINERS", "Refiner", "Span"]


def _compact(value: str) -> str:
    return "".join(c for c in value if c.isalnum()).upper()


@refiner("none")
def none(text: str, s: int, e: int, det: Detector, validate: Callable[[str], bool] | None) -> Iterator[Span]:
    yield s, e, text[s:e]


_DIGIT_RUN = re.compile(r"\d+")
# Separators people put inside one number: a space, dash, dot, slash (and a line break). Any
# other separator (comma, pipe, plus, colon, semicolon, tab, a run of spaces) also separates
# values in a list, so a value read across one must have a layout people write numbers in.
_PLAIN_SEPARATORS = frozenset(" -./_*~'\r\n>")
_LAYOUTS = frozenset(
    {
        (4, 4, 4, 4),
        (4, 4, 4, 4, 3),
        (4, 4, 4, 4, 2),
        (4, 4, 4, 4, 1),
        (4, 4, 4, 3),
        (4, 4, 4, 2),
        (4, 4, 4, 1),
        (4, 4, 5),
        (4, 6, 5),
        (4, 6, 4),
        (3, 2, 4),
        (4, 4, 1),
        (3, 3, 3),
    }
)


_LIST_SEPARATORS = frozenset(",|+:;")


def _plain(sep: str) -> bool:
    """A separator inside one number: a space, dash, dot or slash, or a line break (with its
    indentation or quote marker); not a list separator, a tab or a run of spaces on one line."""
    if any(c in _LIST_SEPARATORS for c in sep):
        return False
    if "\n" in sep:
        return True
    return "  " not in sep and all(c in _PLAIN_SEPARATORS for c in sep)


def _kind(sep: str) -> str:
    """What separates two digit groups: a line break, one of the list separators, a tab, a run
    of spaces, or "" for a plain separator inside a number."""
    if "\n" in sep:
        return "\n"
    marks = "".join(sorted({c for c in sep if c in _LIST_SEPARATORS or c == "\t"}))
    if marks:
        return marks
    return "  " if "  " in sep else ""


@refiner("digit_groups")
def digit_groups(
    text: str, s: int, e: int, det: Detector, validate: Callable[[str], bool] | None
) -> Iterator[Span]:
    """Every value in a run of digit groups: from each group, the longest run of whole groups
    that validates; a run read across a list separator must have a known layout (4-4-4-4...)."""
    groups = [(m.start(), m.end()) for m in _DIGIT_RUN.finditer(text, s, e)]
    lo, hi = det.min_digits or 1, det.max_digits or 64
    n = len(groups)
    if n == 1:  # the common case: one unbroken number
        gs, ge = groups[0]
        digits = text[gs:ge]
        if lo <= len(digits) <= hi and (validate is None or validate(digits)):
            yield gs, ge, digits
        return
    digits = "".join(text[gs:ge] for gs, ge in groups)
    offsets = [0]  # offsets[i]: where group i starts in `digits`
    breaks = [0]  # breaks[i]: list separators before group i
    for i, (gs, ge) in enumerate(groups):
        offsets.append(offsets[-1] + ge - gs)
        if i + 1 < n:
            breaks.append(breaks[-1] + (not _plain(text[ge : groups[i + 1][0]])))
    # A value read across list separators must be the whole line (or run): "4111<TAB>1111<TAB>1111
    # <TAB>1111" is one card, four numbers in a row of a wider table are not.
    # Bounded by another kind of separator also works: "Jane,4111+1111+1111+1111,2026-11-30".
    kinds = [_kind(text[groups[i][1] : groups[i + 1][0]]) for i in range(n - 1)]

    def bounded(a: int, b: int) -> bool:
        inner = set(kinds[a:b])
        before = kinds[a - 1] if a > 0 else "\n"
        after = kinds[b] if b < n - 1 else "\n"
        return before not in inner and after not in inner

    seen: dict[str, bool] = {}  # hostile runs repeat the same values: validate each once
    taken = [False] * n

    def best_from(a: int, crossing: bool) -> int:
        """The last group of the longest valid value starting at group `a`, or -1.
        `crossing`: only values read across a list separator (in a known layout)."""
        b = a
        while b + 1 < n and not taken[b + 1] and offsets[b + 2] - offsets[a] <= hi:
            b += 1
        while b >= a:
            if offsets[b + 1] - offsets[a] < lo:
                return -1
            if (breaks[b] != breaks[a]) != crossing:
                b -= 1
                continue
            if crossing and not (
                b - a < 5
                and bounded(a, b)
                and tuple(offsets[k + 1] - offsets[k] for k in range(a, b + 1)) in _LAYOUTS
            ):
                b -= 1
                continue
            value = digits[offsets[a] : offsets[b + 1]]
            ok = seen.get(value)
            if ok is None:
                ok = validate is None or validate(value)
                seen[value] = ok
            if ok:
                return b
            b -= 1
        return -1

    hits: list[tuple[int, int]] = []
    # First the values inside one list item (the usual case), then values read across items.
    for crossing in (False, True):
        if crossing and breaks[-1] == 0:
            break
        a = 0
        while a < n:
            hit = -1 if taken[a] else best_from(a, crossing)
            if hit >= 0:
                hits.append((a, hit))
                for k in range(a, hit + 1):
                    taken[k] = True
                a = hit + 1
            else:
                a += 1
    for a, b in sorted(hits):
        yield groups[a][0], groups[b][1], digits[offsets[a] : offsets[b + 1]]


@refiner("iban")
def iban(text: str, s: int, e: int, det: Detector, validate: Callable[[str], bool] | None) -> Iterator[Span]:
    positions = [i for i in range(s, e) if text[i].isalnum()]
    if len(positions) < 15:
        return
    country = (text[positions[0]] + text[positions[1]]).upper()
    length = iban_length(country)
    if length is None or len(positions) < length:
        return
    last = positions[length - 1]
    if last + 1 < len(text) and text[last + 1].isalnum() and last + 1 < e and last + 1 == positions[length]:
        # The country's length ends inside a longer token: not an IBAN of this shape.
        return
    value = "".join(text[p] for p in positions[:length]).upper()
    yield s, last + 1, value
