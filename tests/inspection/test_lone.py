"""The lone-value rule (guard.inspection.lone, `lone:` in a rule): a value that is the whole of its
message, line or headerless table cell is reported without a cue, at the confidence its rule says;
inside a sentence, after a label, under a table header or in brackets it is not alone."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from guard.errors import RuleError
from guard.inspection import Inspector
from guard.inspection.lone import lone_span
from guard.inspection.normalise import ascii_variant, normalise
from guard.inspection.pipeline import _VARIANT_WINDOW
from guard.inspection.rules import load_detectors
from guard.inspection.tables import TableContext
from guard.testing import luhn_complete


def _aba(rng: random.Random) -> str:
    """A routing number with a Federal Reserve prefix and its 3-7-1 check digit."""
    body = f"{rng.choice([1, 2, 11, 21, 26, 31, 63, 71]):02d}" + "".join(
        rng.choice("0123456789") for _ in range(6)
    )
    d = [int(c) for c in body]
    partial = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5])
    return body + str((10 - partial % 10) % 10)


ABAS = [_aba(random.Random(seed)) for seed in range(4)]
UATP = luhn_complete("1" + "".join(random.Random(7).choice("0123456789") for _ in range(13)))


def _found(inspector: Inspector, text: str, typ: str) -> list[tuple[str, str]]:
    return [(text[f.start : f.end], f.confidence) for f in inspector.scan_text(text) if f.type == typ]


@pytest.mark.parametrize("aba", ABAS)
@pytest.mark.parametrize(
    "layout",
    [
        "{v}",
        "   {v}  \n",
        "Here it is:\n\n{v}\n\nThanks",
        "> {v}",  # a quoted reply
        '"{v}"',
        "- {v}",  # a list item
        "Jane Roe\t{v}\tOK\nJo Doe\t{v}\tOK",  # a table without a header
    ],
)
def test_a_routing_number_alone_is_low(inspector: Inspector, aba: str, layout: str) -> None:
    text = layout.format(v=aba)
    found = _found(inspector, text, "ABA_ROUTING")
    assert found and all(f == (aba, "low") for f in found), found


@pytest.mark.parametrize(
    "layout",
    [
        "we imported {v} rows yesterday",  # inside a sentence
        "Order:\n{v}",  # labelled on the line before
        "Bug #{v}",
        "#{v}",
        "({v})",
        "name\tid\tstatus\nJane\t{v}\tok\nJo\t{v}\tok",  # under a header that is no routing cue
        "{v}.5",  # a number with decimals
        "CVE-2026-{v}",
        "for inputs:\n\t{g}\n",  # grouped digits alone: a routing number is printed as one run
    ],
)
def test_a_routing_number_not_alone_needs_its_cue(inspector: Inspector, layout: str) -> None:
    v = ABAS[0]
    text = layout.format(v=v, g=f"{v[:3]} {v[3:6]} {v[6:]}")
    assert _found(inspector, text, "ABA_ROUTING") == []


def test_a_cue_still_makes_it_high(inspector: Inspector) -> None:
    assert _found(inspector, f"Routing:\n{ABAS[1]}", "ABA_ROUTING") == [(ABAS[1], "high")]


def test_an_airline_card_alone_is_reported(inspector: Inspector) -> None:
    """UATP numbers (issuer digit 1, like timestamps) need a card cue, unless alone on their line."""
    assert _found(inspector, UATP, "CREDIT_CARD") == [(UATP, "medium")]
    assert _found(inspector, f"{UATP}\n{luhn_complete('4' + '7' * 14)}\n", "CREDIT_CARD")[0] == (
        UATP,
        "medium",
    )
    assert _found(inspector, f"processed at {UATP} by the batch", "CREDIT_CARD") == []
    assert _found(inspector, f"Order:\n{UATP}", "CREDIT_CARD") == []


@pytest.mark.parametrize(
    "text",
    [
        "2.14.1",  # a version
        "2026-11-30",  # a date
        "8443",  # a port
        "1999",
        "Closes: #1082345",  # a bug number with its label
        "CVE-2026-12345",
        "$ 1,234.56",
        "10115",  # a ZIP code
        "20261130",  # a compact date
    ],
)
def test_changelog_lines_are_no_lone_values(inspector: Inspector, text: str) -> None:
    sensitive = [f for f in inspector.scan_text(text) if f.category != "contact"]
    assert sensitive == [], sensitive


def test_lone_span_reads_lines_and_cells() -> None:
    text = "a b\n  123456789 \nx\t123456789\ty\nz\t987654321\tw"
    tables = TableContext(text)
    first = text.index("123456789")
    assert lone_span(text, first, first + 9, tables)
    cell = text.index("123456789", first + 9)
    assert lone_span(text, cell, cell + 9, tables)
    assert not lone_span(text, 0, 1, tables)  # "a" shares its line with "b"


def test_a_variant_window_edge_is_no_line_break(inspector: Inspector) -> None:
    """The second reading (look-alike digits) is scanned in windows around what it changed; a
    window that ends right after a value must not make that value look alone on its line."""
    head = "Card 4lll 1111 1111 1111 was declined.\n"
    variant = ascii_variant(normalise(head))
    assert variant is not None
    changed_end = max(e for _, e in variant.changed_spans())
    token = "C48291734"
    # The token starts a line and ends where the window does (300 characters after the change).
    filler = "y" * (changed_end + _VARIANT_WINDOW - len(token) - len(head) - 1)
    text = head + filler + "\n" + token + " is the code we use\n"
    assert text.index(token) + len(token) == changed_end + _VARIANT_WINDOW
    assert [f for f in inspector.scan_text(text) if f.type == "PASSPORT"] == []


def test_lone_patterns_must_name_patterns_of_the_rule(tmp_path: pytest.TempPathFactory) -> None:
    pack = tmp_path / "x.yaml"  # type: ignore[operator]
    pack.write_text(
        "detectors:\n  - id: X\n    type: X\n    category: other\n"
        "    patterns: [{name: a, regex: 'x\\d+'}]\n    lone: {patterns: [b]}\n"
    )
    with pytest.raises(RuleError, match=r"lone\.patterns"):
        load_detectors([pack])


def _pesel(rng: random.Random) -> str:
    from stdnum.pl import pesel

    born = f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = born + f"{rng.randint(0, 9999):04d}"
    return body + pesel.calc_check_digit(body)


def _tckn(rng: random.Random) -> str:
    from stdnum.tr import tckimlik

    body = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(8))
    return body + tckimlik.calc_check_digits(body)


def _fodselsnummer(rng: random.Random) -> str:
    from stdnum.no import fodselsnummer

    while True:
        born = f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(40, 99):02d}"
        body = born + f"{rng.randint(0, 499):03d}"
        body += fodselsnummer.calc_check_digit1(body)
        number = body + fodselsnummer.calc_check_digit2(body)
        if "10" not in number[-2:] and fodselsnummer.is_valid(number):
            return number


@pytest.mark.parametrize(
    ("typ", "draw"), [("PL_PESEL", _pesel), ("TR_TCKN", _tckn), ("NO_FODSELSNUMMER", _fodselsnummer)]
)
def test_a_national_id_with_two_checks_alone_is_low(
    inspector: Inspector, typ: str, draw: Callable[[random.Random], str]
) -> None:
    """Eleven digits whose birth date and check digits hold (or two check digits): alone on its
    line, reported at low; in a sentence, the cue is still needed."""
    rng = random.Random(typ)
    for _ in range(5):
        value = draw(rng)
        assert (value, "low") in _found(inspector, f"  {value}\n", typ)
        assert _found(inspector, f"we counted {value} events", typ) == []


def test_a_pesel_born_in_the_future_is_no_pesel(inspector: Inspector) -> None:
    from stdnum.pl import pesel

    body = "0949" + "12" + "3456"  # month 49: born in 2109
    value = body + pesel.calc_check_digit(body)
    assert _found(inspector, value, "PL_PESEL") == []
