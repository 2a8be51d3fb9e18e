"""Passports by country: each issuer's structure next to a cue in its language; bare only where
the structure is unmistakable (German alphabet with letters among digits, Korea's 2021 series)."""

from __future__ import annotations

import pytest

from guard.inspection import Inspector

CUED = [
    ("US passport number 568742205", "568742205"),
    ("passport no. A48291734 (next generation)", "A48291734"),  # US letter + 8
    ("UK passport: GB4829173", "GB4829173"),
    ("Canadian passport AB482917", "AB482917"),
    ("Reisepass: C4F7N2K91", "C4F7N2K91"),
    ("Reisepass-Nr. L48X20T95", "L48X20T95"),
    ("numéro de passeport 19AB48291", "19AB48291"),
    ("Mi pasaporte es xdb583920", "xdb583920"),  # lower case, as typed
    ("xdb583920 es mi número de pasaporte", "xdb583920"),  # cue after the value
    ("numero di passaporto YA4829173", "YA4829173"),
    ("paspoortnummer NW8K4P2R3", "NW8K4P2R3"),
    ("Indian passport J4829173", "J4829173"),
    ("여권번호는 M482K3917입니다", "M482K3917"),  # glued to Hangul
    ("旅券番号 TK4829137", "TK4829137"),
    ("护照号码 E58291734", "E58291734"),
    ("Australian passport PA4829173", "PA4829173"),
    ("número do passaporte FZ482917", "FZ482917"),
    ("pasaporte mexicano G48291734", "G48291734"),
    ("Passports: AB4829173 and XY9876543", "AB4829173"),
]


@pytest.mark.parametrize(("text", "value"), CUED)
def test_passport_with_a_cue(inspector: Inspector, text: str, value: str) -> None:
    found = [(f.type, text[f.start : f.end]) for f in inspector.scan_text(text)]
    assert ("PASSPORT", value) in found


def test_both_passports_of_a_list_are_found(inspector: Inspector) -> None:
    text = "Passports: AB4829173 and XY9876543"
    assert [text[f.start : f.end] for f in inspector.scan_text(text) if f.type == "PASSPORT"] == [
        "AB4829173",
        "XY9876543",
    ]


@pytest.mark.parametrize("text", ["Please see C4F7N2K91 below", "L48X20T95", "M482K3917"])
def test_unmistakable_structures_without_a_cue_are_low(inspector: Inspector, text: str) -> None:
    found = [f for f in inspector.scan_text(text) if f.type == "PASSPORT"]
    assert len(found) == 1 and found[0].score < 0.55


@pytest.mark.parametrize("text", ["A48291734", "  xr4829173", '"HZK482917"', "C48291734\n"])
def test_a_lettered_structure_alone_on_its_line_is_low(inspector: Inspector, text: str) -> None:
    """The lone-value rule: nothing around it says what it is, so it is reported, at low (redacted
    for an external recipient, not held)."""
    found = [f for f in inspector.scan_text(text) if f.type == "PASSPORT"]
    assert len(found) == 1 and found[0].confidence == "low", found


NEGATIVES = [
    "order 58291734",
    "code A48291734 in the list",  # letter + 8 digits inside a sentence: many codes look like this
    "Item:\nA48291734",  # labelled on the line before
    "(PR482917)",  # a reference in brackets
    "568742205",  # digits alone: too many numbers look like this
    "flight LH4829 gate C12",
    "Our model CF4829137 ships",  # labelled as a model number
    "Reference C4F7N2K91",  # labelled as something else
    "passport expires 2030-01-01",
    "passport renewal fee 130 USD, form DS-82",
    "CHFGHJKLM",  # the German alphabet without digits
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_not_a_passport(inspector: Inspector, text: str) -> None:
    assert [f for f in inspector.scan_text(text) if f.type == "PASSPORT"] == []
