"""Phone numbers through libphonenumber's matcher (the `phonenumbers` package), over the
organisation's regions (`org.phone_regions`), in national and international formats.

`PhoneNumberMatcher` is slow (it tries every region's patterns over the whole text), so it only
confirms what three cheap steps leave over:
  1. one RE2 pass finds runs that could be a phone (7-15 digits with the separators people type);
  2. a run in national format is checked against each region's number patterns (compiled once with
     RE2 from libphonenumber's metadata; regions sharing a calling code, e.g. US and CA, share one
     plan), pruned by the region's possible lengths; a run starting with + or 00 is parsed once;
  3. the matcher (leniency VALID) runs on a small window around the run for the region found, and
     its span is the finding.
The regex detectors PHONE_NANP and PHONE_INTERNATIONAL keep the two shapes that need no plan
(North American layouts, +country code), so the engine leaves those runs to them.
Confidence: a separated number (or one dialled with 00) is medium, a cue word ("phone", "Tel.",
"mobile", "Handy", "téléphone", "teléfono", ...) makes it high; a plain digit run is low and is only
taken with a trunk prefix at a phone's usual length (10-11 digits), with a cue, or - when the rule
says `lone:` - alone on its line or in its cell at 10-13 digits (`guard.inspection.lone`:
"5321234567" pasted on its own, at the rule's lone confidence);
a run labelled as something else ("order", "invoice", "tracking", ...) is dropped.
Two more written forms: a separated number glued to the word before it ("is415-555-0132", a missing
space) counts when its digits alone are a valid number in a phone's layout (a plain run glued to
letters, "abc1234567890", is an identifier); and a country code written with a dash instead of a
"+" ("44-20-7946-0958") counts when libphonenumber validates the whole number for that country.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import phonenumbers
import re2
from phonenumbers import Leniency, PhoneMetadata, PhoneNumberMatcher
from phonenumbers import re_util as phone_re_util

from guard.config import DEFAULT_PHONE_REGIONS
from guard.inspection.lone import lone_span
from guard.inspection.registry import engine

if TYPE_CHECKING:
    from guard.inspection.detect import Candidate, CompiledDetector
    from guard.inspection.tables import TableContext

DEFAULT_REGIONS = DEFAULT_PHONE_REGIONS

# A run of digits with the separators people type between them, optionally after + or (.
_RUN = re2.compile(rb"(?:\+ ?|\b00 ?)?\(?\d[\d()./ \t-]{4,24}\d")
_UNANCHORED = re2._Anchor.UNANCHORED
_MIN_DIGITS, _MAX_DIGITS = 7, 15
_MAX_NATIONAL = 13  # digits of a number in national format, trunk prefix included
_BEFORE, _AFTER = 2, 14  # context given to the matcher: the character before, an extension after
_DESCS = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


def known_region(code: str) -> bool:
    """True for an ISO 3166 region code libphonenumber has a numbering plan for."""
    return code in phonenumbers.SUPPORTED_REGIONS


@dataclass(frozen=True, slots=True)
class _Plans:
    """The numbering plans of a set of regions as one RE2 set, so which plans a dialled national
    number is valid in takes one anchored pass. A region with a trunk prefix (0 in most of the
    world) has two entries: the number dialled with it (as it is written at home) and without it
    (a weaker reading, tried after every region's strong one)."""

    regions: tuple[str, ...]  # per set entry
    strong: tuple[bool, ...]  # per set entry: written with its trunk prefix, or the region has none
    nanp: tuple[bool, ...]  # per set entry: calling code 1 (US, CA, ...): PHONE_NANP's shape covers these
    matcher: Any  # re2 Set, anchored both ends

    def valid_in(self, digits: str) -> list[str]:
        hits = self.matcher.Match(digits.encode()) or ()
        ordered = sorted(hits, key=lambda i: (not self.strong[i], i))
        if ordered and self.nanp[ordered[0]]:
            return []  # PHONE_NANP
        return list(dict.fromkeys(self.regions[i] for i in ordered))


def _plan_patterns(region: str) -> list[tuple[str, bool]]:
    """(pattern, strong) for the region's valid numbers as dialled at home."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return []
    patterns = [
        desc.national_number_pattern
        for desc in (getattr(meta, name, None) for name in _DESCS)
        if desc is not None and desc.national_number_pattern
    ]
    if not patterns:
        return []
    trunk = meta.national_prefix or ""
    body = "(?:" + "|".join(f"(?:{p})" for p in patterns) + ")"
    if not trunk.isdigit():
        return [(body, True)]
    return [(trunk + body, True), (body, trunk == "1")]  # NANP numbers are written without the 1


@lru_cache(maxsize=64)
def _plans(regions: tuple[str, ...]) -> _Plans:
    """Plans in the configured order, one per calling code: US and CA (both +1) validate the same
    numbers once parsed, so searching both would double the work for nothing."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    rset = re2.Set.FullMatchSet(options)
    seen: set[int] = set()
    kept: list[str] = []
    strong: list[bool] = []
    nanp: list[bool] = []
    for region in regions:
        cc = phonenumbers.country_code_for_region(region)
        if cc == 0 or cc in seen:
            continue
        seen.add(cc)
        for pattern, is_strong in _plan_patterns(region):
            try:
                rset.Add(pattern)
            except re2.error:  # a metadata pattern RE2 cannot read: that reading is left out
                continue
            kept.append(region)
            strong.append(is_strong)
            nanp.append(cc == 1)
    rset.Compile()
    return _Plans(tuple(kept), tuple(strong), tuple(nanp), rset)


@lru_cache(maxsize=8192)
def _regions_for(raw: str, regions: tuple[str, ...]) -> tuple[str, ...]:
    """The regions, in the configured order, in which the written run `raw` is a valid number;
    ("",) for one dialled with 00 and a valid country code; empty when none, and for numbers the
    regex detectors already cover (the NANP shape, +country code)."""
    digits = "".join(c for c in raw if c.isdigit())
    stripped = raw.lstrip("( ")
    if stripped.startswith("+"):
        return ()  # PHONE_INTERNATIONAL
    if stripped.startswith("00") and not stripped.startswith("000"):
        try:
            number = phonenumbers.parse("+" + digits[2:], None)
        except phonenumbers.NumberParseException:
            return ()
        return ("",) if phonenumbers.is_valid_number(number) else ()
    return tuple(_plans(regions).valid_in(digits))


def _dials_00(region: str) -> bool:
    meta = PhoneMetadata.metadata_for_region(region)
    return meta is not None and meta.international_prefix == "00"


@lru_cache(maxsize=8)
def _warm_up(regions: tuple[str, ...]) -> None:
    """Let libphonenumber compile each region's patterns once (it compiles them lazily, on first
    use), by matching the region's own example number in its national format."""
    for region in regions:
        example = phonenumbers.example_number(region)
        if example is not None:
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            _matches(f"tel {national} ", region)


def _keep_compiled_patterns() -> None:
    """phonenumbers compiles its metadata regexes with re.compile, whose cache holds 512; over the
    default forty regions they fall out of it and were compiled again for many numbers (a third of
    this engine's time). Its own cache keeps each one (a few thousand at most, once per process)."""
    enable = getattr(phone_re_util, "enable_pattern_cache", None)
    if enable is not None:
        enable()


class PhoneFinder:
    """The `phonenumbers` engine for one set of regions (callable like any registered engine)."""

    def __init__(self, regions: Iterable[str] = DEFAULT_REGIONS) -> None:
        self.regions = tuple(dict.fromkeys(r.upper() for r in regions))
        unknown = [r for r in self.regions if not known_region(r)]
        if unknown:
            raise ValueError(f"unknown phone region(s): {', '.join(unknown)}")
        # 00 + country code is read by the matcher in a region that dials abroad with 00.
        self.idd00 = next((r for r in self.regions if _dials_00(r)), "DE")
        _keep_compiled_patterns()
        _warm_up(tuple(dict.fromkeys(_plans(self.regions).regions)))  # compile now, not on the first messages

    def __call__(
        self, cd: CompiledDetector, text: str, low: str, tables: TableContext
    ) -> Iterator[Candidate]:
        from guard.inspection.detect import Candidate

        btext = text.encode("ascii", "replace")
        taken = -1
        match = _RUN._regexp.Match  # the binding's fast path, as in detect.py
        pos, n = 0, len(btext)
        while pos < n:
            spans = match(_UNANCHORED, btext, pos, n)
            s, e = spans[0]
            if s < 0:
                break
            pos = e
            if tables.has_table and b"\t" in btext[s:e]:
                # In a tab-separated table a tab ends a cell: the number is the cell's part.
                cut = btext.index(b"\t", s, e)
                pos, e = cut, len(text[s:cut].rstrip()) + s
            raw = text[s:e]
            if s < taken or _shape(raw) is None:
                continue
            glued = _glued(text, s)
            if glued is None or (glued and _shape(raw) == "plain"):
                continue  # "abc1234567890", "A1B415-555-0132": an identifier, not a phone number
            nanp = _nanp_shaped(raw)
            code = None if nanp else _country_code(raw)
            if (nanp and glued) or code is not None:
                # Glued to a word, or with a country code written "44-...": the matcher cannot
                # read these where they stand.
                found = self._whole(cd, text, low, tables, s, e, glued, code)
                if found is not None:
                    taken = e
                    yield found
                    continue
            if nanp:
                continue  # PHONE_NANP
            regions = _regions_for(raw, self.regions)
            # Worth asking the matcher only if the run would be reported once valid.
            if not regions or _evidence(cd, text, low, tables, s, raw) is None:
                continue
            for region in regions[:_MAX_REGIONS]:
                confirmed = list(self._confirm(cd, text, low, tables, s, e, region, glued))
                for ms, me, why, score in confirmed:
                    taken = me
                    # Carried by the lone-value rule: the confidence its `lone:` gives (else the score's).
                    level = (cd.det.lone.confidence or "") if cd.det.lone and _LONE_WHY in why else ""
                    yield Candidate(cd.det, ms, me, text[ms:me], score, why, level)
                if confirmed:
                    break

    def _whole(
        self,
        cd: CompiledDetector,
        text: str,
        low: str,
        tables: TableContext,
        s: int,
        e: int,
        glued: bool,
        code: int | None,
    ) -> Candidate | None:
        """A run the matcher cannot read where it stands (glued to a word, or a country code
        without "+"), when libphonenumber validates the whole number: a NANP number in the US plan,
        a leading 1-3 digit group followed by a dash as that country's calling code."""
        from guard.inspection.detect import Candidate

        raw = text[s:e]
        if not _valid_whole("".join(c for c in raw if c.isdigit()), code):
            return None
        scored = _evidence(cd, text, low, tables, s, raw)
        if scored is None:
            return None
        why, score = scored
        where = f"with country code {code}" if code is not None else "in US"
        if glued:
            why.append("glued to the word before it")
        return Candidate(cd.det, s, e, raw, score, [f"phonenumbers: valid {where}", *why])

    def _confirm(
        self,
        cd: CompiledDetector,
        text: str,
        low: str,
        tables: TableContext,
        s: int,
        e: int,
        region: str,
        glued: bool = False,
    ) -> Iterator[tuple[int, int, list[str], float]]:
        """The matcher's verdict on a window around one run, scored by structure and context
        (`glued`: the run follows a letter, which the matcher would take as part of a word)."""
        lo, hi = (s if glued else max(0, s - _BEFORE)), min(len(text), e + _AFTER)
        for start, end, raw in _matches(text[lo:hi], region or self.idd00):
            ms, me = lo + start, lo + end
            if me <= s or ms >= e:
                continue
            scored = _evidence(cd, text, low, tables, ms, raw)
            if scored is not None:
                why, score = scored
                where = "international" if not region else "in " + region
                yield ms, me, [f"phonenumbers: valid {where}", *why], score


@lru_cache(maxsize=4096)
def _matches(window: str, region: str) -> tuple[tuple[int, int, str], ...]:
    """PhoneNumberMatcher (leniency VALID) over a small window; cached, since the same number
    (a signature's phone line) comes back in message after message."""
    return tuple(
        (m.start, m.end, m.raw_string) for m in PhoneNumberMatcher(window, region, leniency=Leniency.VALID)
    )


@lru_cache(maxsize=4096)
def _valid_whole(digits: str, code: int | None) -> bool:
    """libphonenumber's validity of `digits` read with calling code `code` (its first digits), or
    in the US plan when None. Cached: a pure function of its arguments, and parsing is slow."""
    try:
        number = phonenumbers.parse("+" + digits if code is not None else digits, None if code else "US")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and (code is None or number.country_code == code)


# Small checks on a run already cut out (a few dozen characters): stdlib re, no backtracking.
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_GROUP = re.compile(r"\d+")
_MAX_REGIONS = 3  # matcher attempts per run: the first regions (in configured order) it is valid in
# Layouts other detectors own: 3-2-4 (US SSN) and 4-4-4[-4] (cards, Aadhaar). Phone only with a cue.
_NOT_PHONE_LAYOUTS = ((3, 2, 4), (4, 4, 4), (4, 4, 4, 4))


@lru_cache(maxsize=8192)
def _shape(raw: str) -> str | None:
    """How the run is written ("international", "separated", "plain"), or None when it cannot be a
    phone number: too few or too many digits, or a date. Cached: a run is shaped up to three times
    (found, glued check, scored) and the same runs recur across messages."""
    n = sum(c.isdigit() for c in raw)
    stripped = raw.lstrip("( ")
    if stripped.startswith("+") or (stripped.startswith("00") and not stripped.startswith("000")):
        return "international" if _MIN_DIGITS <= n <= _MAX_DIGITS + 2 else None
    if not _MIN_DIGITS <= n <= _MAX_NATIONAL:
        return None
    if _DATE.fullmatch(raw.strip()) is not None:
        return None
    return "separated" if any(not c.isdigit() for c in raw.strip()) else "plain"


_NANP_LAYOUTS = ((3, 3, 4), (10,), (1, 3, 3, 4), (11,), (3, 7))


@lru_cache(maxsize=8192)
def _nanp_shaped(raw: str) -> bool:
    """Written like a North American number: PHONE_NANP (a regex detector) reports these, even
    where the area code is not assigned, so the engine leaves them alone."""
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return (
        len(digits) == 10
        and digits[0] not in "01"
        and digits[3] not in "01"
        and _layout(raw) in _NANP_LAYOUTS
        and not raw.lstrip("( ").startswith("0")
    )


@lru_cache(maxsize=8192)
def _layout(raw: str) -> tuple[int, ...]:
    """Digit group lengths of a run ("0171 234 5678" -> (4, 3, 4)); cached, a pure function."""
    return tuple(len(g) for g in _GROUP.findall(raw))


def _glued(text: str, s: int) -> bool | None:
    """True when the run starts right after a word of letters ("is415-555-0132"); None when the
    letters before it are part of an identifier mixing digits or underscores ("A1B415-555-0132")."""
    i = s
    while i > 0 and s - i < 40 and text[i - 1].isalpha():
        i -= 1
    if i == s:
        return False
    return None if i > 0 and (text[i - 1].isdigit() or text[i - 1] in "_") else True


_CC_DASH = re.compile(r"(\d{1,3})-\d{1,5}(?:[-. ]\d{2,8}){1,4}")


@lru_cache(maxsize=8192)
def _country_code(raw: str) -> int | None:
    """The calling code of a number written "cc-area-exchange-line" ("44-20-7946-0958", "91-..."),
    or None: a dashed 1-3 digit group in front, at least two groups after it, 9-15 digits in all."""
    m = _CC_DASH.fullmatch(raw)
    if m is None or not 9 <= sum(c.isdigit() for c in raw) <= 15 or raw.startswith("0"):
        return None
    code = int(m.group(1))
    return code if phonenumbers.region_code_for_country_code(code) != "ZZ" and code != 1 else None


_LONE_WHY = "plain digits alone on their line: at the threshold"


def _evidence(
    cd: CompiledDetector, text: str, low: str, tables: TableContext, s: int, raw: str
) -> tuple[list[str], float] | None:
    """Score of a (valid) number written as `raw` at `s`: its format and the words before it."""
    det = cd.det
    shape = _shape(raw)
    if shape is None:
        return None
    why: list[str] = []
    line_start = tables.line_start(s)
    cue = None
    if cd.context is not None:
        for m in cd.context.finditer(low, max(line_start, s - det.context.before), s):
            cue = m
        header = tables.header_for(text, s) if cue is None else None  # only a cue's stand-in
        if header is not None:
            cue = cd.context.search(header)
    if cd.negative is not None:
        last = None
        for m in cd.negative.finditer(low, max(line_start, s - det.negative_context.before), s):
            last = m
        if last is not None and (cue is None or last.start() > cue.start()):
            return None  # labelled as something else: "order 0917 123 4567"
    if shape == "separated" and cue is None and _layout(raw) in _NOT_PHONE_LAYOUTS:
        return None
    if shape != "plain":
        score = det.score
        why.append(f"{shape} format: {score:.2f}")
    elif cue is not None or (raw.startswith("0") and 10 <= len(raw) <= 11):
        # Plain digits: dialled with a trunk prefix at a phone's usual length ("09171234567"), or a
        # cue says so. Without either, account and order numbers look the same.
        score = det.threshold
        why.append(f"plain digits: {score:.2f}")
    elif (
        det.lone is not None
        and 10 <= len(raw) <= _MAX_NATIONAL
        and lone_span(text, s, s + len(raw), tables)
        and (cd.negative is None or not cd.negative.search(low, max(0, s - det.negative_context.before), s))
    ):
        # Alone on its line or in its cell, at a mobile number's length, and no label on the line
        # before: nothing says it is anything else (the rule's `lone:`, guard.inspection.lone).
        score = det.threshold
        why.append(_LONE_WHY)
    else:
        return None
    if cue is not None:
        score = min(1.0, score + det.context.boost)
        why.append(f"context before: {cue.group()!r} +{det.context.boost:.2f} -> {score:.2f}")
    return why, score


DEFAULT_FINDER = PhoneFinder()
engine("phonenumbers")(DEFAULT_FINDER)


def engines_for(regions: Iterable[str] | None) -> dict[str, Any]:
    """The registered engines, with the phone engine searching `regions` (None: the defaults)."""
    from guard.inspection.registry import ENGINES, known

    engines = dict(known(ENGINES))
    if regions is not None:
        engines["phonenumbers"] = PhoneFinder(regions)
    return engines
