"""Phones through libphonenumber's matcher over the organisation's regions (org.phone_regions)."""

from __future__ import annotations

import pytest

from guard.config import ConfigError, load_settings
from guard.inspection import Inspector
from guard.inspection.phones import DEFAULT_REGIONS, PhoneFinder, _plans

POSITIVES = [
    ("call 0917 123 4567 now", "0917 123 4567"),  # PH mobile, national format
    ("Mobil: 0532 123 45 67", "0532 123 45 67"),  # TR mobile with trunk prefix
    ("Telefon 030 12345678", "030 12345678"),  # DE landline
    ("Tél. 06 12 34 56 78", "06 12 34 56 78"),  # FR mobile, pairs
    ("ring me on 020 7946 0958", "020 7946 0958"),  # GB London
    ("Phone: 532 123 45 67", "532 123 45 67"),  # TR without trunk prefix, with a cue
    ("telefoonnummer 06-12345678", "06-12345678"),  # NL mobile
    ("cellulare 347 123 4567", "347 123 4567"),  # IT mobile
    ("+44 20 7946 0958", "+44 20 7946 0958"),  # international (PHONE_INTERNATIONAL)
    ("from abroad dial 0044 20 7946 0958", "0044 20 7946 0958"),  # 00 international prefix
    ("Tel: (415) 555-0132 ext. 12", None),  # NANP (PHONE_NANP)
    ("09171234567", "09171234567"),  # plain, trunk prefix, a phone's length
]


@pytest.mark.parametrize(("text", "value"), POSITIVES)
def test_phone_found(inspector: Inspector, text: str, value: str | None) -> None:
    phones = [f for f in inspector.scan_text(text) if f.type == "PHONE"]
    assert len(phones) == 1, phones
    if value is not None:
        assert text[phones[0].start : phones[0].end] == value


NEGATIVES = [
    "order 12345678 today",
    "Order 0917 123 4567",  # labelled as an order number
    "on 12/03/2024 at 14:30",
    "version 2.14.3 build 20240305",
    "Invoice 2024-003817, 1.234,56 EUR",
    "FedEx 033906674545 is on its way",
    "Extension code 924 28 2051 - dial it",  # an SSN layout, no phone cue
    "ref 12345678901234",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_not_a_phone(inspector: Inspector, text: str) -> None:
    assert [f for f in inspector.scan_text(text) if f.type == "PHONE"] == []


def test_a_cue_raises_the_score(inspector: Inspector) -> None:
    bare = [f for f in inspector.scan_text("see 030 12345678 below") if f.type == "PHONE"]
    cued = [f for f in inspector.scan_text("Telefon: 030 12345678") if f.type == "PHONE"]
    assert bare and cued and cued[0].score > bare[0].score >= 0.55


def test_regions_sharing_a_calling_code_share_one_plan() -> None:
    plans = _plans(("US", "CA", "GB", "GG"))  # +1 twice, +44 twice
    assert set(plans.regions) == {"US", "GB"}


def test_national_formats_follow_the_configured_regions(tmp_path: pytest.TempPathFactory) -> None:
    text = "Telefon 030 12345678"
    us_only = Inspector.from_settings(
        load_settings(None, data_dir=str(tmp_path), rules={"hash_key": "t"}, org={"phone_regions": ["US"]})
    )
    assert [f for f in us_only.scan_text(text) if f.type == "PHONE"] == []
    de = Inspector.from_settings(
        load_settings(None, data_dir=str(tmp_path), rules={"hash_key": "t"}, org={"phone_regions": ["de"]})
    )
    assert [f.type for f in de.scan_text(text)] == ["PHONE"]


def test_bad_region_code_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"org\.phone_regions.*'XX'"):
        load_settings(None, org={"phone_regions": ["US", "XX"]})
    with pytest.raises(ValueError, match="XX"):
        PhoneFinder(["XX"])


def test_default_regions_are_broad() -> None:
    assert {"US", "GB", "DE", "FR", "IN", "PH", "BR", "JP", "KR", "ZA"} <= set(DEFAULT_REGIONS)
    assert load_settings(None).org.phone_regions == list(DEFAULT_REGIONS)


def _national_mobile(region: str) -> str:
    """libphonenumber's example mobile for `region`, as dialled at home without a trunk prefix."""
    import phonenumbers

    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None
    return phonenumbers.national_significant_number(number)


@pytest.mark.parametrize("region", ["GB", "PH", "TR", "DE"])
@pytest.mark.parametrize("layout", ["{v}", "  {v}\n", "> {v}", "Jane Roe\t{v}\tLeeds\nJo Doe\t{v}\tYork"])
def test_plain_digits_alone_are_a_phone_at_low(inspector: Inspector, region: str, layout: str) -> None:
    """A mobile number pasted alone on its line (or in a cell of a table whose header is no cue)
    needs no trunk prefix and no cue; nothing around it says it is anything else. (A cell under a
    header is not alone: the header names the column.)"""
    value = _national_mobile(region)
    text = layout.format(v=value)
    phones = [f for f in inspector.scan_text(text) if f.type == "PHONE"]
    assert phones and all(text[f.start : f.end] == value for f in phones), phones
    # (TR's and DE's examples also read as North American numbers: PHONE_NANP reports those.)
    assert all(f.confidence == "low" for f in phones if f.detector == "PHONE_NUMBER"), phones


@pytest.mark.parametrize(
    "text",
    [
        "ref {v} was closed",  # inside a sentence: plain digits need a cue or a trunk prefix
        "Order:\n{v}",  # labelled on the line before
        "#{v}",
        "Ticket {v}",
    ],
)
def test_plain_digits_not_alone_are_no_phone(inspector: Inspector, text: str) -> None:
    text = text.format(v=_national_mobile("GB"))
    assert [f for f in inspector.scan_text(text) if f.type == "PHONE"] == []


def _us_example(sep: str) -> str:
    digits = _national_mobile("US")
    return sep.join((digits[:3], digits[3:6], digits[6:]))


@pytest.mark.parametrize("word", ["is", "at", "Tel", "number"])
def test_a_formatted_number_glued_to_the_word_before_is_found(inspector: Inspector, word: str) -> None:
    value = _us_example("-")
    text = f"My office number {word}{value}, call after 9."
    phones = [f for f in inspector.scan_text(text) if f.type == "PHONE"]
    assert [text[f.start : f.end] for f in phones] == [value]


@pytest.mark.parametrize(
    "text",
    [
        "abc{plain}",  # plain digits glued to letters: an identifier
        "part A1B{dashed} in stock",  # letters mixed with digits before it: an identifier
        "x_id{dashed}",
        "SKU{dashed}",  # glued to a label for something else
    ],
)
def test_letters_glued_to_digits_are_still_no_phone(inspector: Inspector, text: str) -> None:
    text = text.format(plain=_us_example(""), dashed=_us_example("-"))
    assert [f for f in inspector.scan_text(text) if f.type == "PHONE"] == []


@pytest.mark.parametrize("region", ["GB", "IN", "DE", "FR", "PH"])
def test_a_country_code_written_with_a_dash(inspector: Inspector, region: str) -> None:
    """ "44-20-7946-0958": the "+" left out, the groups joined by dashes; validated as a whole
    number of the country the leading group calls."""
    import phonenumbers

    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None
    written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    value = written.lstrip("+").replace(" ", "-")
    text = f"you can reach her on {value} until Friday"
    phones = [f for f in inspector.scan_text(text) if f.type == "PHONE"]
    assert [text[f.start : f.end] for f in phones] == [value]


@pytest.mark.parametrize("text", ["ref 12-345-678-9012", "build 99-123-456-7890", "on 20-11-2026"])
def test_dashed_groups_that_are_no_valid_international_number(inspector: Inspector, text: str) -> None:
    assert [f for f in inspector.scan_text(text) if f.type == "PHONE"] == []


def test_the_lone_reading_is_the_rules_to_switch_off(tmp_path: pytest.TempPathFactory) -> None:
    """`lone:` on PHONE_NUMBER is data: a local override without it takes plain digits alone on
    their line as before (a trunk prefix or a cue needed)."""
    import yaml

    from guard.inspection.rules import shipped_rules_dir

    pack = yaml.safe_load((shipped_rules_dir() / "contact.yaml").read_text(encoding="utf-8"))
    record = next(d for d in pack["detectors"] if d["id"] == "PHONE_NUMBER")
    record.pop("lone")
    local = tmp_path / "local"  # type: ignore[operator]
    local.mkdir()
    (local / "phones.yaml").write_text(yaml.safe_dump({"version": 1, "detectors": [record]}))
    value = _national_mobile("GB")
    plain = Inspector.from_settings(
        load_settings(None, data_dir=str(tmp_path), rules={"hash_key": "t", "local_dir": str(local)})
    )
    assert [f for f in plain.scan_text(value) if f.type == "PHONE"] == []
    shipped = Inspector.from_settings(load_settings(None, data_dir=str(tmp_path), rules={"hash_key": "t"}))
    assert [(f.type, f.confidence) for f in shipped.scan_text(value)] == [("PHONE", "low")]
