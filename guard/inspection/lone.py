"""Lone values: a value that is the whole of its message, its line or its table cell.

People paste a number on its own: a routing number answered in a chat, a passport number on a line
of its own in a mail, a column of card numbers. Nothing around such a value says what it is, but
nothing says it is something else either (no "order", no "#", no sentence around it). A detector
opts in with `lone:` in its rule (`guard.inspection.rules.Lone`): its values that validate and stand
alone are reported without a cue, at the confidence the rule gives. A value inside a sentence, after
a label or a "#", or in a table column with a header is not alone.
"""

from __future__ import annotations

import re2

from guard.inspection.tables import TableContext

# What may stand around a lone value on its line: indentation, mail quote markers, a list bullet
# ("- ", "* "), and one pair of quotes. Not brackets: "(PR102753)" on a line of its own is a
# reference to something named elsewhere.
_HEAD = frozenset(" \t>")
_OPEN = frozenset("\"'`")
_CLOSE = frozenset("\"'`")
_TAIL = frozenset(" \t\r")

#: A line that could hold a lone value (one token with a digit, or digit groups): texts without
#: one skip the detectors that only a lone value wakes.
LONE_LINE = re2.compile(
    rb"(?m)^[ \t>]*(?:[-*] )?[\"'`]?(?:[A-Za-z]{0,3}[0-9][A-Za-z0-9]{4,40}|[0-9][0-9 ./-]{5,40}[0-9])"
    rb"[\"'`]?[ \t\r]*$"
)


def _bare(text: str, lo: int, start: int, end: int, hi: int, head: frozenset[str]) -> bool:
    """text[lo:hi] is text[start:end] with only `head` characters, a bullet and one pair of
    quotes around it."""
    i = lo
    while i < start and text[i] in head:
        i += 1
    if i + 1 < start and text[i] in "-*" and text[i + 1] == " ":  # a list bullet
        i += 2
        while i < start and text[i] in head:
            i += 1
    opened = i < start and text[i] in _OPEN
    if opened:
        i += 1
    if i != start:
        return False
    j = end
    if opened and j < hi and text[j] in _CLOSE:
        j += 1
    while j < hi and text[j] in _TAIL:
        j += 1
    return j == hi


def lone_span(text: str, start: int, end: int, tables: TableContext) -> bool:
    """True when text[start:end] is alone on its line, or alone in a cell of a table without a
    header (a header names the column: a cue when it is one, a label for something else when not)."""
    ls = tables.line_start(start)
    le = tables.line_end(start)
    if end > le:
        return False
    if _bare(text, ls, start, end, le, _HEAD):
        return True
    cell = tables.cell_bounds(text, start, end)
    if cell is None or tables.header_for(text, start) is not None:
        return False
    return _bare(text, cell[0], start, end, cell[1], _TAIL)
