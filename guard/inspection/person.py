"""Person names, best effort: capitalised word runs scored by name lists and position cues.

Name lists (rules/names/) are derived from the names-dataset package (real-world names per
country; scripts/build_name_lists.py). Cues: a greeting ("Dear", "Hi"), a label ("Customer:"),
a signature block (the lines after "Thanks," or "--"), a table's "name" column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import re2

from guard.inspection.registry import engine

if TYPE_CHECKING:
    from guard.inspection.detect import Candidate, CompiledDetector
    from guard.inspection.rules import Detector
    from guard.inspection.tables import TableContext


def _read(path: Path) -> frozenset[str]:
    if not path.exists():
        return frozenset()
    return frozenset(
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )


def _read_words(name: str) -> frozenset[str]:
    from guard.inspection.rules import shipped_rules_dir

    return _read(shipped_rules_dir() / "names" / name)


_UP = "A-ZÀ-ÖØ-Þ"
_LO = "a-zß-öø-ÿ"
_TOKEN = rf"(?:[{_UP}][{_LO}]+(?:[{_UP}][{_LO}]+)?(?:[-'][{_UP}]?[{_LO}]+)?)"
_RUN = re.compile(rf"(?<![\w@.]){_TOKEN}(?: (?:[A-Z]\. )?{_TOKEN}){{1,3}}(?![\w@])")
# The same runs for ASCII text, with RE2 (several times faster on long texts); the
# lookarounds above become explicit checks of the characters around each match.
_ASCII_TOKEN = r"(?:[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:[-'][A-Z]?[a-z]+)?)"
_ASCII_RUN = re2.compile(rf"{_ASCII_TOKEN}(?: (?:[A-Z]\. )?{_ASCII_TOKEN}){{1,3}}")
_UNANCHORED = re2._Anchor.UNANCHORED


def _runs(text: str) -> Iterator[tuple[int, int]]:
    """Spans of capitalised word runs that stand alone (not inside an address or identifier)."""
    if not text.isascii():
        for m in _RUN.finditer(text):
            yield m.span()
        return
    data = text.encode("ascii")
    match = _ASCII_RUN._regexp.Match
    pos, end = 0, len(data)
    while pos < end:
        s, e = match(_UNANCHORED, data, pos, end)[0]
        if s < 0:
            break
        before = text[s - 1] if s else " "
        after = text[e] if e < end else " "
        if before.isalnum() or before in "_@." or after.isalnum() or after in "_@":
            pos = s + 1
            continue
        yield s, e
        pos = e


_GREETING_WORDS = _read_words("name_cues.txt")


def _is_greeting(prefix: str) -> bool:
    """Does the text before a name end with a greeting or a label ("Dear", "Customer:")?"""
    stripped = prefix.rstrip()
    if not stripped or len(prefix) - len(stripped) > 3:
        return False
    last = stripped.rsplit(None, 1)[-1].lower().strip(".:,")
    return last in _GREETING_WORDS or stripped.lower().endswith("thank you")


_CLOSINGS = re.compile(
    r"(?:thanks|thank you|regards|best|cheers|sincerely|respectfully|yours|warmly|--|—)[ ,.!]*\s*$",
    re.IGNORECASE,
)
_AFTER_CUES = re.compile(
    r"^(?:\s*(?:\||\(|,\s*(?:customer|agent|manager|team)|called|said|wrote|asked|wants|requested|"
    r"confirmed|\(born|has been|is |was |will ))",
    re.IGNORECASE,
)

# Capitalised words that are never part of a person's name in this setting.
_STOP = _read_words("not_names.txt")


# Words stripped from the front of a run ("Good morning Anna Lee", "North Harbor Bank").
_LEADING = _STOP | frozenset(["good", "north", "south", "east", "west", "dear"])


@lru_cache(maxsize=1)
def _names() -> tuple[frozenset[str], frozenset[str]]:
    from guard.inspection.rules import shipped_rules_dir

    base = shipped_rules_dir() / "names"
    first = _read(base / "first_names.txt")
    last = _read(base / "last_names.txt")
    return first, last


def _fold(word: str) -> str:
    """Lower-case without accents, as the name lists are stored."""
    if word.isascii():
        return word.lower()
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


_NAME_BEFORE = re.compile(r"([A-Z][a-z]+(?:-[A-Z][a-z]+)?) ([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\W{0,3}$")


def name_ends_at(text: str, end: int) -> bool:
    """True when a person's name ("John Smith") ends right before `end`: a number after a name is
    that person's number, not a number labelled as something else."""
    m = _NAME_BEFORE.search(text, max(0, end - 50), end)
    if m is None:
        return False
    first_names, last_names = _names()
    return _fold(m.group(1)) in first_names and _fold(m.group(2)) in last_names


# One capitalised name after words that say it is one: an honorific ("Mr. Mayers", "Dr Lee") or
# a self-introduction ("my name is Dan", "call me Ana"). RE2: linear whatever the input.
_SINGLE = re2.compile(
    r"(?:(?i:\b(?:my name is|my name's|name is|call me|i am called|je m'appelle|me llamo|mi chiamo|"
    r"ich heiße|ich heisse|mein name ist|meu nome é|mijn naam is|ik heet))\s+"
    r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+)?"
    r"|\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Mme|Mlle|Sr|Sra|Sig)\.?\s+)"
    r"(\p{Lu}\p{Ll}+(?:[-']\p{Lu}\p{Ll}+)?)"
)


def _single_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the name group of every `_SINGLE` match; ASCII text through the binding's fast
    path on bytes (offsets are the same), as `_runs` does."""
    if not text.isascii():
        for m in _SINGLE.finditer(text):
            yield m.span(1)
        return
    data = text.encode("ascii")
    match = _SINGLE._regexp.Match
    pos, end = 0, len(data)
    while pos <= end:
        spans = match(_UNANCHORED, data, pos, end)
        if spans[0][0] < 0:
            break
        yield spans[1]
        pos = spans[0][1] if spans[0][1] > pos else pos + 1


def _single_names(det: Detector, text: str) -> Iterator[Candidate]:
    from guard.inspection.detect import Candidate

    for start, end in _single_spans(text):
        if end < len(text) and (text[end].isalnum() or text[end] == "@"):
            continue
        if _fold(text[start:end]) in _STOP:
            continue
        why = ["a name after an honorific or an introduction: 0.70"]
        yield Candidate(det, start, end, text[start:end], 0.7, why)


@engine("person_names")
def person_candidates(cd: CompiledDetector, text: str, low: str, tables: TableContext) -> Iterator[Candidate]:
    from guard.inspection.detect import Candidate

    first_names, last_names = _names()
    det = cd.det
    yield from _single_names(det, text)
    for run_start, run_end in _runs(text):
        tokens: list[tuple[int, int]] = []
        pos = run_start
        for part in text[run_start:run_end].split(" "):
            tokens.append((pos, pos + len(part)))
            pos += len(part) + 1
        while tokens and text[tokens[0][0] : tokens[0][1]].lower().rstrip(".") in _LEADING:
            tokens.pop(0)
        while tokens and text[tokens[-1][0] : tokens[-1][1]].lower().rstrip(".") in _STOP:
            tokens.pop()
        if len(tokens) < 2:
            continue
        words = [_fold(text[s:e]) for s, e in tokens]
        if words[0] not in first_names and words[-1] not in last_names:
            continue
        if any(w.rstrip(".") in _STOP for w in words):
            continue
        start, end = tokens[0][0], tokens[-1][1]
        first, last = words[0], words[-1]
        score = 0.0
        why: list[str] = []
        if first in first_names:
            score += 0.4
            why.append("first name listed +0.40")
        if last in last_names:
            score += 0.3
            why.append("last name listed +0.30")
        if score == 0.0:
            continue
        line_start = tables.line_start(start)
        prefix = text[max(line_start, start - 40) : start]
        if _is_greeting(prefix):
            score += 0.3
            why.append("greeting or label before +0.30")
        elif not prefix.strip():
            # First on its line: a signature if a closing line precedes it.
            prev_end = line_start - 1
            prev_start = tables.line_start(max(prev_end, 0))
            if prev_end > 0 and _CLOSINGS.search(text[prev_start:prev_end]):
                score += 0.3
                why.append("signature position +0.30")
            else:
                score += 0.1
        if _AFTER_CUES.search(text[end : end + 20]):
            score += 0.15
            why.append("cue after +0.15")
        header = tables.header_for(text, start)
        if header is not None and "name" in header:
            score += 0.3
            why.append("table column 'name' +0.30")
        score = min(score, 1.0)
        if score >= det.threshold:
            yield Candidate(det, start, end, text[start:end], score, why)
