"""The digit-run gate (guard.inspection.digit_runs) skips a pattern only where it cannot match."""

from __future__ import annotations

import time

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guard.inspection import Inspector
from guard.inspection.digit_runs import MAX_GAP, digit_profile, min_digit_streak, min_run_digits
from guard.inspection.rules import re2_options


@pytest.mark.parametrize(
    ("regex", "run", "streak"),
    [
        (r"\d{3}-\d{2}-\d{4}", 9, 4),
        (r"\d(?:[ -]?\d){11,}", 12, 1),
        (r"(?:\d{1,6}[ .-]){0,4}(?:\d{6}[ -][1-8]\d{6})(?:[ .-]\d{1,6}){0,4}", 13, 7),
        (r"(?:\d\d){3,}", 6, 6),
        # A letter may split a match across runs: only the streak is known.
        (r"[12378]\d{4}(?:\d{2}|2[AB])\d{8}", 0, 8),
        (r"(?i)ssn \d{9}", 0, 9),
        # Unbounded gaps, unknown syntax, RE2-only syntax: never gated.
        (r"\d{3}\s*\d{4}", 0, 4),
        (r"\d{3}.\d{4}", 0, 4),
        (r"\pL\d{5}", 0, 0),
        (r"\d{,3}", 0, 0),
        (r"[[:digit:]]{9}", 0, 0),
        (r"x|\d{9}", 0, 0),
    ],
)
def test_pattern_needs(regex: str, run: int, streak: int) -> None:
    assert min_run_digits(regex) == run
    assert min_digit_streak(regex) == streak


def test_profile_of_text() -> None:
    assert digit_profile(b"card 4111 1111 1111 1111 and 12-34") == (16, 4)
    assert digit_profile(b"no digits here") == (0, 0)
    assert digit_profile(b"1a2") == (1, 1)  # a letter ends a run
    assert digit_profile(b"1" + b" " * MAX_GAP + b"2") == (2, 1)
    assert digit_profile(b"1" + b" " * (MAX_GAP + 1) + b"2") == (1, 1)


def test_profile_is_linear_on_bait() -> None:
    bait = (b"1" + b" " * (MAX_GAP + 1)) * 50_000 + (b"1-" * 50_000)
    started = time.perf_counter()
    digit_profile(bait)
    assert time.perf_counter() - started < 2.0


_TEXT = st.lists(
    st.sampled_from(
        [*"0123456789", *"0123456789", " ", "-", ".", "/", "\n", "\t", ",", "+", "?", "a", "Z", "  "]
    ),
    min_size=1,
    max_size=60,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_gated_pattern_never_matches_a_text_it_would_skip(
    inspector: Inspector, data: st.DataObject
) -> None:
    """Soundness over the shipped patterns: wherever a pattern matches, the text has the digit
    run and the streak the gate asks of it."""
    gated = [
        (src, need)
        for cd in inspector.engine.detectors
        for src, need in zip(cd.sources, cd.run_digits, strict=True)
        if any(need)
    ]
    src, (run, streak) = data.draw(st.sampled_from(gated))
    text = data.draw(_TEXT).encode("ascii")
    m = re2.compile(src, re2_options()).search(text)
    if m is not None:
        have_run, have_streak = digit_profile(text)
        assert run <= have_run and streak <= have_streak, (src, text)


def test_text_without_long_numbers_still_finds_short_patterns(inspector: Inspector) -> None:
    """A text with no long digit run still gets every detector that needs none (an email)."""
    found = inspector.scan_text("write to jane.doe@example.com about it")
    assert [f.type for f in found] == ["EMAIL"]
