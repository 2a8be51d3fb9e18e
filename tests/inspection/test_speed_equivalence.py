"""Speed-ups that must not change a finding: each fast path against the plain form it replaced."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guard.inspection import Inspector
from guard.inspection.detect import _words_regex
from guard.inspection.person import _SINGLE, _single_spans
from guard.inspection.tables import TableContext, _count, _delimiter


def _alternation(words: list[str], end_bound: bool) -> re.Pattern[str]:
    """The cue-word regex as it was before the prefix tree: longest word first."""
    alternatives = sorted({re.escape(w.lower()) for w in words}, key=len, reverse=True)
    tail = r"(?![a-z])" if end_bound else ""
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + ")" + tail)


def _all_words(inspector: Inspector) -> list[str]:
    return sorted(
        {
            w.lower()
            for cd in inspector.engine.detectors
            for w in (*cd.det.context.words, *cd.det.negative_context.words)
        }
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cue_word_trie_finds_what_the_alternation_found(inspector: Inspector, data: st.DataObject) -> None:
    words = _all_words(inspector)
    chosen = data.draw(st.lists(st.sampled_from(words), min_size=1, max_size=40))
    piece = st.one_of(st.sampled_from(words), st.text("abcdeknoprstx #-.:1é\n", max_size=5))
    glue = st.sampled_from(["", " ", "x", "1", ": ", "\n", "s"])
    text = "".join(data.draw(st.lists(st.tuples(piece, glue).map("".join), max_size=12)))
    lo = data.draw(st.integers(0, len(text)))
    hi = data.draw(st.integers(lo, len(text)))
    for end_bound in (True, False):
        fast = _words_regex(chosen, end_bound=end_bound)
        assert fast is not None
        plain = _alternation(chosen, end_bound)
        assert [m.span() for m in fast.finditer(text, lo, hi)] == [
            m.span() for m in plain.finditer(text, lo, hi)
        ]


def test_longest_cue_word_wins_and_the_end_bound_falls_back() -> None:
    rx = _words_regex(["card", "card number", "cards", "car"])
    assert rx is not None
    assert [m.group() for m in rx.finditer("card number, cards, cardholder, car")] == [
        "card number",
        "cards",
        "car",
    ]


def _count_before(line: str, delim: str, upto: int) -> int:
    """The column by counting, as header_for did before: delimiters outside quotes in line[:upto]."""
    n, quoted = 0, False
    for c in line[:upto]:
        if c == '"':
            quoted = not quoted
        elif c == delim and not quoted:
            n += 1
    return n


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", ",", ";", "|", "\t", '"', " ", "\n", "name", "1"]), max_size=80))
def test_table_column_from_offsets_matches_counting(parts: list[str]) -> None:
    text = "".join(parts)
    tables = TableContext(text)
    for pos in range(len(text)):
        ls = tables.line_start(pos)
        raw = text[ls : tables.line_end(ls)]
        line = raw.rstrip("\r").lstrip(" \t")
        delim = _delimiter(line)
        if delim is None:
            continue
        indent = len(raw) - len(raw.lstrip(" \t"))
        header = tables.header_for(text, pos)
        cells = tables._cells_for_line(text, ls, delim, _count(line, delim))
        col = _count_before(line, delim, max(0, pos - ls - indent))
        assert header == (cells[col] if cells and col < len(cells) else None)


@given(st.text("MrsDLe. xyzAnaBob'-myNAMEis\u00fc\u00c9", max_size=60))
def test_single_name_fast_path_matches_the_wrapper(text: str) -> None:
    assert list(_single_spans(text)) == [m.span(1) for m in _SINGLE.finditer(text)]
