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


@refiner("digit_groups")
def digit_groups(
    text: str, s: int, e: int, det: Detector, validate: Callable[[str], bool] | None
) -> Iterator[Span]:
    groups = [(m.start(), m.end(), m.group()) for m in _DIGIT_RUN.finditer(text, s, e)]
    lo, hi = det.min_digits or 1, det.max_digits or 64
    n = len(groups)
    if n == 1:  # the common case: one unbroken number
        gs, ge, digits = groups[0]
        if lo <= len(digits) <= hi and (validate is None or validate(digits)):
            yield gs, ge, digits
        return
    a = 0
    while a < n:
        total = 0
        b = a
        ends: list[int] = []
        while b < n and total + len(groups[b][2]) <= hi:
            total += len(groups[b][2])
            if total >= lo:
                ends.append(b)
            b += 1
        hit = None
        for b in reversed(ends):
            value = "".join(g[2] for g in groups[a : b + 1])
            if validate is None or validate(value):
                hit = (groups[a][0], groups[b][1], value, b)
                break
        if hit is not None:
            yield hit[0], hit[1], hit[2]
            a = hit[3] + 1
        else:
            a += 1


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
