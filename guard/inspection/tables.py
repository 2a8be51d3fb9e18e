"""Column headers as context: in a pasted table a value's cue is its column's header.

"name<TAB>routing<TAB>account" above a row of numbers says what each number is, however far
down the row is.
"""

from __future__ import annotations

_DELIMS = ("\t", "|", ";", ",")


def _delimiter(line: str) -> str | None:
    if "\t" in line:
        return "\t"
    for d in _DELIMS[1:]:
        if line.count(d) >= 2:
            return d
    return None


class TableContext:
    """Finds the header cell above a position, caching per line."""

    def __init__(self, text: str) -> None:
        self._has_table = "\t" in text or "|" in text or ";" in text or "," in text
        self._cache: dict[int, list[str] | None] = {}

    def header_for(self, text: str, pos: int) -> str | None:
        if not self._has_table:
            return None
        ls = text.rfind("\n", 0, pos) + 1
        le = text.find("\n", pos)
        if le == -1:
            le = len(text)
        line = text[ls:le]
        delim = _delimiter(line)
        if delim is None:
            return None
        cells = self._cells_for_line(text, ls, delim, line.count(delim))
        if not cells:
            return None
        col = text.count(delim, ls, pos)
        return cells[col] if col < len(cells) else None

    def _cells_for_line(self, text: str, ls: int, delim: str, count: int) -> list[str] | None:
        """Header cells for the row starting at `ls`: walk up while rows have the same shape."""
        if ls in self._cache:
            return self._cache[ls]
        walked = [ls]
        header_start = ls
        result: list[str] | None = None
        while header_start > 0:
            prev_end = header_start - 1
            prev_start = text.rfind("\n", 0, prev_end) + 1
            if prev_start in self._cache:
                cached = self._cache[prev_start]
                prev = text[prev_start:prev_end].rstrip("\r")
                if prev.count(delim) == count and cached is not None:
                    result = cached
                    header_start = -1
                break
            prev = text[prev_start:prev_end].rstrip("\r")
            if prev.count(delim) != count or not prev.strip():
                break
            header_start = prev_start
            walked.append(prev_start)
        if header_start != -1 and header_start != ls:
            end = text.find("\n", header_start)
            header = text[header_start:end if end != -1 else len(text)].rstrip("\r")
            if sum(c.isdigit() for c in header) <= 2:
                result = [c.strip().lower() for c in header.split(delim)]
        for w in walked:
            if w != header_start:
                self._cache[w] = result
        return result
