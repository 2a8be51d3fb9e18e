"""Normalisation offsets always map back to the exact original characters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guard.inspection import Inspector
from guard.inspection.normalise import ascii_variant, normalise

PIECES = st.sampled_from(
    [
        "4",
        "1",
        "7",
        " ",
        "-",
        ".",
        "\n",
        "a",
        "Z",
        "é",
        "\u200b",
        "\u200c",
        "\u2060",
        "\ufeff",
        "\u00ad",
        "\u202e",
        "４",
        "０",
        "٤",
        "&#52;",
        "&#x34;",
        "&nbsp;",
        "&amp;",
        "&bogus;",
        "&",
        "O",
        "l",
        "I",
        "five",
        " nine ",
        "·",
        "\u3000",
        "—",
        "ﬁ",
        "Ⅻ",
        "²",
        "\u0332",
        "\u20e3",
        "\ufe0f",
        "\u0301",
        "❶",
        "➊",
        "⑴",
        "⒈",
        "🔟",
        "*",
        "||",
        ":one:",
        "<http://x|",
        ">",
        "](http://x)",
        "[",
        " eins",
        " zéro",
        " quatre ",
    ]
)
TEXTS = st.lists(PIECES, max_size=40).map("".join)


def _boundaries(norm: object) -> set[int]:
    """Positions in the normalised text that are not strictly inside one replacement."""
    text = norm.text  # type: ignore[attr-defined]
    inside = set()
    for s, e in zip(norm.norm_starts, norm.norm_ends, strict=True):  # type: ignore[attr-defined]
        inside.update(range(s + 1, e))
    return {i for i in range(len(text) + 1) if i not in inside}


@settings(max_examples=400, deadline=None)
@given(TEXTS, st.data())
def test_spans_map_back_exactly(text: str, data: st.DataObject) -> None:
    norm = normalise(text)
    bounds = sorted(_boundaries(norm))
    s = data.draw(st.sampled_from(bounds))
    e = data.draw(st.sampled_from([b for b in bounds if b >= s]))
    os_, oe = norm.span_to_original(s, e)
    assert 0 <= os_ <= oe <= len(text)
    # The original slice, normalised on its own, reads exactly like the normalised slice.
    assert normalise(text[os_:oe]).text == norm.text[s:e]


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_whole_text_maps_to_whole_text(text: str) -> None:
    norm = normalise(text)
    s0, e0 = norm.span_to_original(0, len(norm.text))
    assert normalise(text[s0:e0]).text == norm.text  # only leading/trailing invisible characters fall outside
    variant = ascii_variant(norm)
    if variant is not None:
        s, e = variant.span_to_original(0, len(variant.text))
        assert 0 <= s <= e <= len(text)


def test_identity_for_plain_ascii() -> None:
    norm = normalise("plain ascii text, 4111 1111")
    assert norm.identity and norm.text == "plain ascii text, 4111 1111"


def test_disguises_are_undone() -> None:
    assert normalise("４１\u200b１１").text == "4111"
    assert normalise("&#x34;&#52;&nbsp;1").text == "44 1"
    assert normalise("12\u00ad34").text == "1234"
    v = ascii_variant(normalise("card 4lll five one one one"))
    assert v is not None and v.text == "card 4111 5 1 1 1"


def test_map_of_a_deleted_character_excludes_it() -> None:
    text = "x \u200b4111 y"
    norm = normalise(text)
    s = norm.text.index("4")
    assert norm.span_to_original(s, s + 4) == (3, 7)


def test_decorated_digits_read_as_digits() -> None:
    """Combining marks, keycaps, circled/parenthesised/full-stop/dingbat digits (issue 11)."""
    assert normalise("4\u03321\u0332").text == "41"
    assert normalise("4\ufe0f\u20e31\u20e3").text == "41"
    assert normalise("❶➋⑶⒋⓿🄋🔟").text == "12340010"
    assert normalise("12\u280034\u316456\uffa078").text == "12 34 56 78"  # blank-looking separators
    assert normalise("Jose\u0301").text == "Jose\u0301"  # an accent that composes is kept
    text = "card 4\u0332 9"
    norm = normalise(text)
    assert norm.span_to_original(5, 6) == (5, 6)  # the digit alone; its mark is outside


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("four.one.one.one", "4 1 1 1"),
        ("four/one/one/one", "4 1 1 1"),
        ("vier-eins-eins-zwei", "4 1 1 2"),
        ("zéro un deux trois", "0 1 2 3"),
        ("cero uno dos tres", "0 1 2 3"),
        ("zero uno due tre", "0 1 2 3"),
        ("zero um dois três", "0 1 2 3"),
        ("nul een twee drie", "0 1 2 3"),
        ("fünf sechs sieben acht", "5 6 7 8"),
        (":four::one: x", "41 x"),
        ("41<http://x|11> 1111", "4111 1111"),
        ("41[11](http://x) 22", "4111 22"),
        ("||4111 1111|| *22* ~33~ `44`", "4111 1111 22 33 44"),
        ("4111_1111_22", "4111111122"),
    ],
)
def test_second_reading_of_words_and_markup(text: str, reading: str) -> None:
    variant = ascii_variant(normalise(text))
    assert variant is not None and variant.text == reading
    s, e = variant.span_to_original(0, len(variant.text))
    assert (s, e) == (0, len(text))


@pytest.mark.parametrize(
    "text",
    [
        "one or two",
        "un deux trois",
        "Un, deux, trois!",
        "snake_case and *bold* words",
        "a|b|c",
        "ghp_9T9x id_7x",
    ],
)
def test_short_runs_and_plain_markup_are_not_read_as_numbers(text: str) -> None:
    variant = ascii_variant(normalise(text))
    assert variant is None or not any(c.isdigit() for c in variant.text)


def test_second_reading_wins_over_a_fragment_of_the_first(inspector: Inspector) -> None:
    """A card whose middle group is written as emoji shortcodes: the first reading sees only its
    last two groups (a phone number); the second reading's card covers that span and replaces it."""
    card = "4926224393328363"  # Luhn-valid, made for this test (checked below)
    assert sum(int(d) if i % 2 else (2 * int(d)) % 9 or 9 * (d == "9") for i, d in enumerate(card)) % 10 == 0
    names = "zero one two three four five six seven eight nine".split()
    text = f"card {card[:4]} {''.join(f':{names[int(c)]}:' for c in card[4:8])} {card[8:12]} {card[12:]}"
    found = [(f.type, f.start, f.end) for f in inspector.scan_text(text)]
    assert found == [("CREDIT_CARD", 5, len(text))]
