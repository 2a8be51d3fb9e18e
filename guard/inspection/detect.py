"""Detection: run the compiled rule packs over normalised text and score every candidate.

Every pattern is compiled with RE2, so matching is linear in the input (no catastrophic
backtracking, whatever a rule author writes). A candidate's score is explained step by step:
pattern, validator, context words (including a table's column header), negative context.
Overlapping candidates of different types are resolved by score.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import re2

from guard.inspection.digit_runs import digit_profile, min_digit_streak, min_run_digits
from guard.inspection.lone import LONE_LINE, lone_span
from guard.inspection.person import name_ends_at
from guard.inspection.registry import CHECKSUMS, ENGINES, REFINERS, REGEX_ENGINE, VALIDATORS, load_builtins
from guard.inspection.rules import Detector, re2_options
from guard.inspection.tables import TableContext
from guard.inspection.validators import card_brand


@dataclass(slots=True)
class Candidate:
    """A scored match in normalised text; `value` never leaves the inspection package."""

    detector: Detector
    start: int
    end: int
    value: str
    score: float
    explanation: list[str]
    confidence: str = ""  # high | medium | low; "" = from the score (engines that do not say)


#: Score bands for confidence when nothing else decides (see docs/detection.md).
HIGH_SCORE = 0.8
MEDIUM_SCORE = 0.55


def confidence_for(score: float) -> str:
    """The confidence a score stands for: high >= 0.80, medium >= 0.55, else low."""
    if score >= HIGH_SCORE:
        return "high"
    return "medium" if score >= MEDIUM_SCORE else "low"


def _words_regex(words: list[str], *, end_bound: bool = True) -> re.Pattern[str] | None:
    """Any of `words` standing alone (lower case; at one place the longest that fits), as a trie.

    The same matches as `(?<![a-z0-9])(?:longest|...|short)(?![a-z])`, but the alternation is
    factored by common prefixes: at each place only the words that share its first letters are
    tried, so a list of a hundred cue words costs a few steps per character, not a hundred.
    """
    if not words:
        return None
    tail = r"(?![a-z])" if end_bound else ""
    return re.compile(r"(?<![a-z0-9])(?:" + _trie({w.lower() for w in words}) + ")" + tail)


def _trie(words: set[str]) -> str:
    """A regex for `words` as a prefix tree, preferring the longer word at every branch (greedy `?`
    before the end of a shorter one), as the longest-first alternation does."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        kids = sorted(k for k in node if k)
        if not kids:
            return ""
        alts = [re.escape(k) + emit(node[k]) for k in kids]
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" not in node:
            return body
        return f"(?:{body})?" if len(alts) == 1 else body + "?"

    return emit(root)


_UNANCHORED = re2._Anchor.UNANCHORED
_LITERAL_CHUNK = 64 * 1024
_LITERAL_OVERLAP = 4 * 1024


class CompiledDetector:
    """One detector with its patterns compiled and its context word lists ready."""

    def __init__(self, det: Detector, custom: Callable[..., Iterator[Candidate]] | None = None) -> None:
        self.det = det
        flags = "(?i)" if det.case_insensitive else ""
        self.sources = [flags + p.regex for p in det.patterns]
        self._literals = [
            [lit.lower() for lit in p.literals] if det.case_insensitive else p.literals for p in det.patterns
        ]
        # As the literal pre-check sees them: the text is read as ASCII with "?" for anything else.
        self._cue_words = [w.lower().encode("ascii", "replace").decode() for w in det.context.words]
        self._cue_set = frozenset(self._cue_words)
        # Every pattern needs a literal: the detector can be skipped when none occurs.
        self._all_literals = (
            [lit for lits in self._literals for lit in lits]
            if all(self._literals) and self._literals
            else None
        )
        self._literal_set = frozenset(self._all_literals) if self._all_literals is not None else None
        self._pattern_literals = [frozenset(lits) for lits in self._literals]
        self.patterns = [
            (re2.compile(src, re2_options()), p) for src, p in zip(self.sources, det.patterns, strict=True)
        ]
        # Digits each pattern needs in one digit run and in one unbroken streak (0: not known);
        # a pattern is tried only when the text has both (see digit_runs).
        self.run_digits = [(min_run_digits(src), min_digit_streak(src)) for src in self.sources]
        self.min_run = min((r for r, _ in self.run_digits), default=0)
        self.min_streak = min((k for _, k in self.run_digits), default=0)
        load_builtins()
        self.validator = VALIDATORS[det.validator] if det.validator else None
        # A checksum-valid value is never dropped for its context, only given a lower confidence.
        self.checksum = det.validator in CHECKSUMS
        self.refiner = REFINERS[det.refiner]
        self.context = _words_regex(det.context.words)
        # The cue regex without its end bound: a search of part of the text stops at the part's
        # end, where the end bound always holds, so this over the whole text is never stricter.
        self._cue_anywhere = _words_regex(det.context.words, end_bound=False)
        self.negative = _words_regex(det.negative_context.words)
        self.strong_negative = _words_regex(det.negative_context.strong_words)
        self.custom = custom
        # Patterns whose values are reported without a cue when alone on their line (rules.Lone).
        self.lone: frozenset[str] | None = None
        if det.lone is not None:
            self.lone = frozenset(det.lone.patterns or [p.name for p in det.patterns])

    def _boundary_ok(self, text: str, start: int, end: int | None) -> bool:
        """No letter or digit glued to either side (`end=None`: check the start only)."""
        kind = self.det.boundary
        if kind == "none":
            return True
        before = text[start - 1] if start > 0 else " "
        if end is None:
            end = len(text)
        after = text[end] if end < len(text) else " "
        if kind == "word":
            return not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_")
        if kind == "ascii":
            # Latin letters and digits only: "여권번호는 M789C1234입니다" glues the value to Hangul.
            return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())
        if before.isalnum() or after.isalnum():
            return False
        if kind == "numeric":
            # "1234-567-89-0123": a separator followed by more digits means we are inside a longer number.
            if before in "-./" and start > 1 and text[start - 2].isdigit():
                return False
            # "fuzzer-5667125715927040", "testcase-detail/5229304507138048": the tail of an
            # identifier or a URL path, not a number standing alone.
            # Only an unbroken digit run: "/x/4926 2243 …" is written in groups by a person.
            if before in "-/_" and start > 1 and text[start - 2].isalpha() and text[start:end].isdigit():
                return False
            if after in "-/" and end + 1 < len(text) and text[end + 1].isdigit():
                return False
        return True

    def might_match(self, present: tuple[set[str], set[str]], lone: bool = False) -> bool:
        """A cheap test that rules the detector out for most texts: `present` holds the literals
        (case-sensitive, lower-cased) that occur in the text, from one RE2 set pass each; `lone`:
        the text may hold a lone value, which needs no cue."""
        found = present[1] if self.det.case_insensitive else present[0]
        if self._literal_set is not None and self._literal_set.isdisjoint(found):
            return False
        if self.det.require_context and self._cue_words and not lone:
            return not self._cue_set.isdisjoint(present[1])  # substring test: looser than the cue regex
        return True

    def cue_possible(self, low: str, tables: TableContext) -> bool:
        """False when a detector that needs a cue cannot find one anywhere: the literal pre-check
        is a substring test ("sin" in "business", "pan" in "company"), this one is word-bounded at
        the start like the cue regex. A table's column headers are looked up separately, so a text
        with a table always passes."""
        if not self.det.require_context or self._cue_anywhere is None or tables.has_table:
            return True
        return self._cue_anywhere.search(low) is not None

    def candidates(
        self,
        text: str,
        btext: bytes,
        low: str,
        tables: TableContext,
        present: tuple[set[str], set[str]],
        only: set[int] | None = None,
        digits: tuple[int, int] = (1 << 30, 1 << 30),
    ) -> Iterator[Candidate]:
        """Candidates from this detector's patterns (`only`: indices known to match somewhere;
        `digits`: the text's `digit_profile`).

        Matching runs on `btext`, the text with every non-ASCII character replaced by one
        `?` byte, so byte offsets are character offsets and RE2 needs no conversion.
        """
        det = self.det
        refined_match = det.refiner != "none"
        end_of_text = len(btext)
        for index, (compiled, pattern) in enumerate(self.patterns):
            if only is not None and index not in only:
                continue
            need_run, need_streak = self.run_digits[index]
            if need_run > digits[0] or need_streak > digits[1]:
                continue  # no digit run in the text is long enough for this pattern
            if pattern.literals and self._pattern_literals[index].isdisjoint(
                present[1] if det.case_insensitive else present[0]
            ):
                continue
            matcher = compiled._regexp.Match  # the binding's fast path: bytes in, spans out
            group = pattern.group
            pos = 0
            while pos <= end_of_text:
                spans = matcher(_UNANCHORED, btext, pos, end_of_text)
                m_start, m_end = spans[0]
                if m_start < 0:
                    break
                s, e = spans[group]
                pos = m_end if m_end > m_start else m_start + 1
                if s < 0 or s == e:
                    continue
                # The whole match must stand alone (not glued to letters or digits) before any
                # part of it is considered, so "AT90 6875 ..." never yields a card from its tail.
                if refined_match and not self._boundary_ok(text, s, e if det.refiner != "iban" else None):
                    # A run of list items glued to a word at one end ("x3616<TAB>4111 ..."): only the
                    # glued item is dropped.
                    trimmed = _unglued(text, s, e) if det.refiner == "digit_groups" else None
                    if trimmed is None or not self._boundary_ok(text, *trimmed):
                        continue
                    s, e = trimmed
                if (
                    self.context is not None
                    and det.require_context
                    and not self._cue_near(low, s, e, tables, text)
                    and not (self.lone is not None and pattern.name in self.lone)  # each value is checked
                ):
                    continue
                last_end = None
                for cs, ce, value in self.refiner(text, s, e, det, self.validator):
                    if not self._boundary_ok(text, cs, ce):
                        continue
                    base = det.score if pattern.score is None else pattern.score
                    why = [f"pattern {pattern.name}: {base:.2f}"]
                    if self.validator is not None:
                        if not self.validator(value):
                            continue
                        if det.validated_score is not None:
                            base = max(base, det.validated_score)
                        why.append(f"validator {det.validator}: pass -> {base:.2f}")
                    lone = (
                        self.lone is not None
                        and pattern.name in self.lone
                        and lone_span(text, cs, ce, tables)
                    )
                    scored = self.score_context(text, low, cs, ce, base, why, tables, lone)
                    if scored is None:
                        continue
                    if (
                        scored[2] is None
                        and not scored[3]
                        and det.type == "CREDIT_CARD"
                        and card_brand(value) == "uatp"
                    ):
                        continue  # airline (UATP) numbers start with 1 like timestamps: only next to a cue
                    last_end = ce
                    yield Candidate(det, cs, ce, value, scored[0], why, scored[1])
                if det.refiner == "iban":
                    # An IBAN is cut to its country's length: look again right after it, since
                    # the greedy pattern may have run on into the next one.
                    pos = last_end if last_end is not None else s + 1

    def _cue_near(self, low: str, start: int, end: int, tables: TableContext, text: str) -> bool:
        """Cheap pre-check for detectors that need a cue: any cue word around the whole match."""
        ctx = self.det.context
        assert self.context is not None
        if self.context.search(low, max(0, start - ctx.before), min(len(low), end + ctx.after)):
            return True
        if not tables.has_table:
            return False
        # A run read across table cells: the header of every column it covers.
        cells = [start] + [i + 1 for i in range(start, end) if text[i] in "\t|;,"]
        for pos in cells[:64]:
            header = tables.header_for(text, pos)
            if header is not None and self.context.search(header) is not None:
                return True
        return False

    def score_context(
        self,
        text: str,
        low: str,
        start: int,
        end: int,
        base: float,
        why: list[str],
        tables: TableContext,
        lone: bool = False,
    ) -> tuple[float, str, int | None, bool] | None:
        """The score, confidence, cue distance (None: no cue) and whether the lone-value rule
        carried it, of one candidate, or None when it is not worth reporting. `lone`: the value is
        alone on its line or in its cell."""
        det = self.det
        score = base
        cue_distance: int | None = None
        header = tables.header_for(text, start)
        line_start = tables.line_start(start)
        line_end = tables.line_end(end)
        if self.context is not None:
            ctx = det.context
            if header is not None and self.context.search(header):
                cue_distance = 0
                why.append("context: column header")
            else:
                lo = max(line_start if ctx.same_line else 0, start - ctx.before)
                best = None
                for m in self.context.finditer(low, lo, start):
                    best = m
                if best is not None:
                    cue_distance = start - best.end()
                    why.append(f"context before: {best.group()!r}")
                elif ctx.after:
                    hi = min(line_end if ctx.same_line else len(low), end + ctx.after)
                    m2 = self.context.search(low, end, hi)
                    if m2 is not None:
                        cue_distance = (m2.start() - end) + ctx.before // 2
                        why.append(f"context after: {m2.group()!r}")
            if cue_distance is not None:
                span = max(ctx.before, 1)
                gain = ctx.boost * (1.0 - 0.5 * min(cue_distance, span) / span)
                score = min(1.0, score + gain)
                why.append(f"context boost +{gain:.2f} -> {score:.2f}")
        if det.require_context and cue_distance is None and not lone:
            return None
        neg = det.negative_context
        lo = max(line_start if neg.same_line else 0, start - neg.before)
        penalised = False
        if self.strong_negative is not None and (
            self.strong_negative.search(low, lo, start)
            or (header is not None and self.strong_negative.search(header))
        ):
            penalised = True
        if not penalised and self.negative is not None:
            last = None
            for m in self.negative.finditer(low, lo, start):
                last = m
            hit_after = neg.after and self.negative.search(low, end, min(len(low), end + neg.after))
            header_neg = header is not None and self.negative.search(header)
            neg_distance = start - last.end() if last is not None else None
            penalised = bool(
                (last is not None or hit_after or header_neg)
                and (cue_distance is None or (neg_distance is not None and neg_distance < cue_distance))
            )
        label_only = False
        if not penalised and neg.foreign_label and cue_distance is None:
            label = _label_before(low, start, line_start)
            if label is not None and not name_ends_at(text, start):
                penalised = label_only = True
                why.append(f"labelled as something else: {label!r}")
        # Alone, no cue, and nothing labels it: the lone-value rule carries it (rules.Lone).
        lone = lone and cue_distance is None and det.lone is not None and not penalised
        if det.require_context and cue_distance is None and not lone:
            return None  # a label (on the line before) says what it is: not a lone value after all
        if penalised:
            score -= neg.penalty
            why.append(f"negative context -{neg.penalty:.2f} -> {score:.2f}")
        # The lone-value rule decides the confidence where nothing else would report the value.
        lone_level = lone and (det.require_context or (score < det.threshold and not self.checksum))
        if score < det.threshold:
            # Kept at low confidence: a checksum-valid value whatever its context, and a value whose
            # structure alone made the threshold when an unrelated word labels it ("see", "Room").
            if not (self.checksum or lone or (label_only and base >= det.threshold)):
                return None
            # Checksum-valid, but labelled as something else: kept, at low confidence.
            score = max(score, 0.0)
        if penalised:
            level, reason = "low", "counter-evidence labels this value"
        elif lone_level:
            assert det.lone is not None
            level = det.lone.confidence or confidence_for(score)
            reason = ("checksum valid" if self.checksum else "structure") + ", alone on its line, no cue"
        else:
            level = confidence_for(score)
            reason = "checksum valid" if self.checksum else "pattern"
            reason += ", cue near" if cue_distance is not None else ", no cue"
        why.append(f"confidence {level}: {reason}")
        return score, level, cue_distance, lone


_LIST_SEPARATOR = re.compile(r"[,|+:;\t]|  ")


def _unglued(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The part of a digit run between its first and last list separator, where the run's
    own ends are glued to letters or digits; None when no list separator is there to cut at."""
    s, e = start, end
    if start > 0 and text[start - 1].isalnum():
        m = _LIST_SEPARATOR.search(text, start, end)
        if m is None:
            return None
        s = m.end()
        while s < end and not text[s].isdigit():
            s += 1
    if end < len(text) and text[end].isalnum():
        last = None
        for m in _LIST_SEPARATOR.finditer(text, s, end):
            last = m
        if last is None:
            return None
        e = last.start()
        while e > s and not text[e - 1].isdigit():
            e -= 1
    return (s, e) if e > s else None


_LABEL_FILLERS = re.compile(r"(?:\s*(?:[:#=]|no\.?|nr\.?|number|num|id|code|ref)\s*)*$")
_LABEL_WORD = re.compile(r"([a-z][a-z_-]{2,})\W{0,3}$")
_FUNCTION_WORDS = frozenset(
    """
to with on is was were of for and or the your my our his her their at in into from using via by as
be are its it's this that these those a an new old same following below above here there again
ending end ends use used try tried enter entered gave give given provided provide has have had
please sent send got get reads read shows show showing say says said confirm confirmed update
updated replace replaced verify verified check checked add added remove removed keep kept store
stored save saved filed record recorded listed list digits numbers value values still now also just
only into onto about regarding re fwd file out backup primary secondary alternate other another
correct right full complete whole long details detail info information here's heres below is: was:
are
""".split()
)


def _label_before(low: str, start: int, line_start: int) -> str | None:
    """The word that labels a number ("Subscription 4111…", "Room 211-42-5735"), if any.

    Fillers such as "no.", "#", "number", "id" between the word and the value are skipped; a
    function word ("to", "with", "is") is no label. Only the text on the value's line counts.
    """
    head = low[max(line_start, start - 40) : start]
    head = _LABEL_FILLERS.sub("", head)
    m = _LABEL_WORD.search(head)
    if m is None:
        return None
    word = m.group(1)
    return None if word in _FUNCTION_WORDS else word


#: On equal score and length, the better-supported reading wins: a payment card (brand prefix and
#: Luhn) before a bank number before other identifiers, any of them before contact details.
_TIE_ORDER = {"pci": 0, "bank": 1, "pii": 2, "identity": 3, "credential": 4, "contact": 8}


def _support(c: Candidate) -> tuple[bool, bool, float, int, int, int]:
    det = c.detector
    high = (c.confidence or confidence_for(c.score)) == "high"
    validated = det.validator is not None and det.validator != "always" and det.category != "contact"
    return (not high, not validated, -c.score, -(c.end - c.start), _TIE_ORDER.get(det.category, 9), c.start)


def resolve_overlaps(cands: list[Candidate]) -> list[Candidate]:
    """Keep the better-supported candidate where several overlap: a cue-backed (high confidence)
    one first; then a sensitive value its validator accepted over a contact detail or an
    unvalidated match (a Medicare or personal number is not reported as a phone number); then
    the higher score, then the longer span."""
    if len(cands) < 2:
        return cands
    ordered = sorted(cands, key=_support)
    kept: list[Candidate] = []
    starts: list[int] = []  # kept spans, sorted by start; they never overlap each other
    ends: list[int] = []
    for c in ordered:
        i = bisect_right(starts, c.start)
        if i > 0 and ends[i - 1] > c.start:
            continue
        if i < len(starts) and starts[i] < c.end:
            continue
        starts.insert(i, c.start)
        ends.insert(i, c.end)
        kept.append(c)
    kept.sort(key=lambda c: c.start)
    return kept


class DetectionEngine:
    """All enabled detectors, compiled once; `find(text)` is pure and thread-safe.

    Two RE2 sets of plain strings tell which literals and cue words occur; only the detectors
    they wake run, and a numeric pattern only where a digit run is long enough for it. (An RE2
    set of every pattern was tried first: its DFA over hundreds of patterns is rebuilt for every
    unseen text, costing more than the patterns it skips and up to 256 MB per process.)
    """

    def __init__(self, detectors: list[Detector], custom_engines: dict[str, Any] | None = None) -> None:
        load_builtins()
        engines = ENGINES if custom_engines is None else custom_engines
        self.detectors: list[CompiledDetector] = []
        for det in detectors:
            custom = engines.get(det.engine) if det.engine != REGEX_ENGINE else None
            self.detectors.append(CompiledDetector(det, custom))
        self._build_literal_sets()
        self._build_gates()

    def _build_gates(self) -> None:
        """Which detectors a present literal (or cue word) can wake: with hundreds of provider
        rules, only those whose literals occur in a text are looked at, in their pack order."""
        self._always: list[int] = []
        self._lone = frozenset(di for di, cd in enumerate(self.detectors) if cd.lone is not None)
        self._gates: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
        for di, cd in enumerate(self.detectors):
            if cd.custom is None and cd._literal_set is not None:
                gate = self._gates[1 if cd.det.case_insensitive else 0]
                keys: frozenset[str] = cd._literal_set
            elif cd.custom is None and cd.det.require_context and cd._cue_words:
                gate, keys = self._gates[1], cd._cue_set
            else:
                self._always.append(di)
                continue
            for key in keys:
                gate.setdefault(key, []).append(di)

    def _woken(self, present: tuple[set[str], set[str]]) -> list[int]:
        woken = set(self._always)
        for gate, found in zip(self._gates, present, strict=True):
            for key in found:
                woken.update(gate.get(key, ()))
        return sorted(woken)

    def __len__(self) -> int:
        return len(self.detectors)

    def _build_literal_sets(self) -> None:
        """Two RE2 sets of plain strings: which literals and cue words occur, in one pass each."""
        sensitive: list[str] = []
        insensitive: list[str] = []
        for cd in self.detectors:
            for lits in cd._literals:  # every pattern's literals, also where a sibling pattern has none
                (insensitive if cd.det.case_insensitive else sensitive).extend(lits)
            if cd.det.require_context:
                insensitive.extend(cd._cue_words)
        self._literal_sets = []
        for words in (sorted(set(sensitive)), sorted(set(insensitive))):
            options = re2_options()
            options.literal = True
            lset = re2.Set.SearchSet(options)
            for w in words:
                # The sets read the text with non-ASCII characters as "?" (see find): spell the
                # word the same way, so a cue like "fødselsnummer" or "주민등록번호" is seen.
                lset.Add(w.encode("ascii", "replace").decode())
            lset.Compile()
            self._literal_sets.append((lset, words))

    def _present_literals(self, btext: bytes, blow: bytes) -> tuple[set[str], set[str]]:
        out = []
        for (lset, words), data in zip(self._literal_sets, (btext, blow), strict=True):
            found: set[str] = set()
            for start in range(0, max(len(data), 1), _LITERAL_CHUNK - _LITERAL_OVERLAP):
                for k in lset.Match(data[start : start + _LITERAL_CHUNK]) or ():
                    found.add(words[k])
            out.append(found)
        return out[0], out[1]

    def find(self, text: str) -> list[Candidate]:
        low = text.lower()
        if len(low) != len(text):  # a few characters change length when lowered; keep offsets exact
            low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        btext = text.encode("ascii", "replace")
        tables = TableContext(text)
        present = self._present_literals(btext, low.encode("ascii", "replace"))
        digits = digit_profile(btext)
        found: list[Candidate] = []
        woken = self._woken(present)
        lone = bool(self._lone) and (tables.has_table or LONE_LINE.search(btext) is not None)
        if lone:
            woken = sorted(set(woken).union(self._lone))
        for di in woken:
            cd = self.detectors[di]
            lone_here = lone and cd.lone is not None
            if cd.custom is not None:
                found.extend(cd.custom(cd, text, low, tables))
            elif (
                cd.min_run > digits[0]
                or cd.min_streak > digits[1]
                or not cd.might_match(present, lone_here)
                or not (lone_here or cd.cue_possible(low, tables))
            ):
                continue
            else:
                found.extend(cd.candidates(text, btext, low, tables, present, None, digits))
        return resolve_overlaps(found)
