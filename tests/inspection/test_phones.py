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
