"""Normalisation offsets always map back to the exact original characters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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
