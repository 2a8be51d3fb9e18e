"""Column headers as context: in a pasted table a value's cue is its column's header.

"name<TAB>routing<TAB>account" above a row of numbers says what each number is, however far
down the row is. Delimiters: tab, pipe, semicolon, comma; double-quoted cells may contain the
delimiter (CSV).
"""

from __future__ import annotations

from bisect import bisect_left

_DELIMS = ("\t", "|", ";", ",")
_MAX_HEADER_CELL = 40


def _count(line: str, delim: str) -> int:
    """Delimiters outside double quotes in `line`."""
    return line.count(delim) if '"' not in line else len(_positions(line, delim))


def _positions(line: str, delim: str) -> list[int]:
    """Offsets of the delimiters outside double quotes in `line`."""
    if '"' not in line:
        out = []
        i = line.find(delim)
        while i != -1:
            out.append(i)
            i = line.find(delim, i + 1)
        return out
    out = []
    quoted = False
    for i, c in enumerate(line):
        if c == '"':
            quoted = not quoted
        elif c == delim and not quoted:
            out.append(i)
    return out


def _split(line: str, delim: str) -> list[str]:
    cells: list[str] = []
    cur: list[str] = []
    quoted = False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == delim and not quoted:
            cells.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    cells.append("".join(cur))
    return cells


def _delimiter(line: str) -> str | None:
    if "\t" in line:
        return "\t"
    for d in _DELIMS[1:]:
        if _count(line, d) >= 2:
            return d
    return None


class TableContext:
    """Line bounds and table headers for one text, computed once per text.

    Line bounds come from a sorted list of newline offsets (bisect), so asking for the line of
    every candidate stays linear even in a text with no line breaks at all.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines: list[int] | None = None
        # A table needs at least two lines with delimiters; most messages have none.
        self._has_table = "\t" in text or any(text.count(d) >= 4 for d in ("|", ";", ","))
        self._cache: dict[int, list[str] | None] = {}
        self._lines: dict[int, tuple[str, str | None, int]] = {}
        # Per table row: (indentation, delimiter offsets outside quotes), for header_for.
        self._rows: dict[int, tuple[int, list[int]]] = {}

    @property
    def has_table(self) -> bool:
        return self._has_table

    def _nl(self) -> list[int]:
        if self._newlines is None:
            text = self._text
            out = []
            i = text.find("\n")
            while i != -1:
                out.append(i)
                i = text.find("\n", i + 1)
            self._newlines = out
        return self._newlines

    def line_start(self, pos: int) -> int:
        """Offset just after the last newline before `pos` (0 on the first line)."""
        nl = self._nl()
        i = bisect_left(nl, pos)
        return nl[i - 1] + 1 if i else 0

    def line_end(self, pos: int) -> int:
        """Offset of the first newline at or after `pos` (the text's length on the last line)."""
        nl = self._nl()
        i = bisect_left(nl, pos)
        return nl[i] if i < len(nl) else len(self._text)

    def _line(self, text: str, ls: int) -> tuple[str, str | None, int]:
        """(line without its indentation, delimiter, delimiter count); leading tabs and spaces
        indent a line (a changelog entry), they do not make it a table row."""
        info = self._lines.get(ls)
        if info is None:
            line = text[ls : self.line_end(ls)].rstrip("\r").lstrip(" \t")
            delim = _delimiter(line)
            info = (line, delim, _count(line, delim) if delim else 0)
            self._lines[ls] = info
        return info

    def header_for(self, text: str, pos: int) -> str | None:
        if not self._has_table:
            return None
        ls = self.line_start(pos)
        line, delim, count = self._line(text, ls)
        if delim is None:
            return None
        cells = self._cells_for_line(text, ls, delim, count)
        if not cells:
            return None
        row = self._rows.get(ls)
        if row is None:
            raw = text[ls : self.line_end(ls)]
            row = (len(raw) - len(raw.lstrip(" \t")), _positions(line, delim))
            self._rows[ls] = row
        indent, positions = row
        # Delimiters before offset `upto` of the line: the value's column.
        col = bisect_left(positions, max(0, pos - ls - indent))
        return cells[col] if col < len(cells) else None

    def cell_bounds(self, text: str, start: int, end: int) -> tuple[int, int] | None:
        """The bounds of the cell holding text[start:end] when its line is a row of a table (a
        neighbouring line is split by the same delimiter the same number of times), else None."""
        if not self._has_table:
            return None
        ls, le = self.line_start(start), self.line_end(start)
        if end > le:
            return None
        _, delim, count = self._line(text, ls)
        if delim is None or text.find(delim, start, end) >= 0:
            return None  # not a table row, or the value runs across cells
        alike = False
        if ls > 0:
            _, d, c = self._line(text, self.line_start(ls - 1))
            alike = d == delim and c == count
        if not alike and le < len(text):
            _, d, c = self._line(text, le + 1)
            alike = d == delim and c == count
        if not alike:
            return None
        cs = text.rfind(delim, ls, start) + 1 or ls
        ce = text.find(delim, end, le)
        return cs, le if ce < 0 else ce

    def _cells_for_line(self, text: str, ls: int, delim: str, count: int) -> list[str] | None:
        """Header cells for the row starting at `ls`: walk up while rows have the same shape."""
        if ls in self._cache:
            return self._cache[ls]
        walked = [ls]
        header_start = ls
        result: list[str] | None = None
        found_cached = False
        while header_start > 0:
            prev_start = self.line_start(header_start - 1)
            prev, prev_delim, prev_count = self._line(text, prev_start)
            # Unquoted cells may hold a stray delimiter ("May 30, 1985"): allow a little slack.
            if prev_delim != delim or abs(prev_count - count) > 2 or not prev.strip():
                break
            if prev_start in self._cache:
                result = self._cache[prev_start]
                found_cached = True
                break
            header_start = prev_start
            walked.append(prev_start)
        if not found_cached and header_start != ls:
            header, _, _ = self._line(text, header_start)
            cells = [c.strip().lower() for c in _split(header, delim)]
            # A header names columns in a few words; a line of prose above indented text does not.
            if sum(c.isdigit() for c in header) <= 2 and all(len(c) <= _MAX_HEADER_CELL for c in cells):
                result = cells
        for w in walked:
            if w != header_start or found_cached:
                self._cache[w] = result
        return result
