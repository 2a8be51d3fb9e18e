"""The personal-data corpus (tests/corpus/gen_personal.py), scored with floors.

Values carry valid check digits and appear in seven languages and many layouts; hard negatives
(order numbers, versions, dates, CVEs, fingerprints, UUIDs, prices...) must stay unreported at
medium confidence or above, and mostly unreported at all.
"""

from __future__ import annotations

from collections import Counter

import pytest
from gen_personal import CUES, LONE, STRUCTURED, records

from guard.config import load_settings
from guard.inspection import Inspector
from guard.model import NATIONAL_ID_TYPES

SENSITIVE = {"CREDIT_CARD", "US_SSN", "IBAN", "US_BANK_ACCOUNT", "ABA_ROUTING", "DATE_OF_BIRTH", "PASSPORT"}
SENSITIVE |= set(NATIONAL_ID_TYPES)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Counter[str]]:
    data = tmp_path_factory.mktemp("personal")
    inspector = Inspector.from_settings(load_settings(None, data_dir=str(data), rules={"hash_key": "test"}))
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for r in records(seed=20261201, per_type=42):
        findings = inspector.scan_text(r.text)
        if r.labels:
            for typ, s, e in r.labels:
                found = any(f.type == typ and f.start < e and f.end > s for f in findings)
                for key in (typ, r.kind, f"{typ}/{r.kind}"):
                    totals[key] += 1
                    hits[key] += found
        else:
            if r.kind.startswith("negative/not-a-phone"):
                totals[r.kind] += 1
                hits[r.kind] += any(f.type == "PHONE" for f in findings)
                continue
            flagged = [f for f in findings if f.type in SENSITIVE]
            totals["negative"] += 1
            hits["negative"] += bool(flagged)
            hits["negative/medium+"] += any(f.confidence != "low" for f in flagged)
            totals[r.kind] += 1
            hits[r.kind] += bool(flagged)
    return {"hits": hits, "totals": totals}


def _rate(scored: dict[str, Counter[str]], key: str) -> float:
    assert scored["totals"][key] > 0, key
    return scored["hits"][key] / scored["totals"][key]


@pytest.mark.parametrize("typ", sorted(CUES))
def test_recall_per_type(scored: dict[str, Counter[str]], typ: str) -> None:
    assert _rate(scored, typ) >= 0.99, typ


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es", "it", "pt", "nl"])
def test_cues_in_every_language(scored: dict[str, Counter[str]], lang: str) -> None:
    assert _rate(scored, f"positive/cued-{lang}") >= 0.98, lang


@pytest.mark.parametrize(
    "layout",
    ["bare", "json", "yaml", "log", "quoted", "bracket", "csv-row", "beside-numbers"]
    + [f"multi-{s}" for s in ("lines", "bullets", "one-line", "table", "table-header", "pipes")],
)
def test_layouts(scored: dict[str, Counter[str]], layout: str) -> None:
    assert _rate(scored, f"positive/{layout}") >= 0.97, layout


def test_structured_types_need_no_cue() -> None:
    assert set(STRUCTURED) <= set(CUES)


def test_hard_negatives_stay_quiet(scored: dict[str, Counter[str]]) -> None:
    n = scored["totals"]["negative"]
    assert n >= 400
    assert scored["hits"]["negative"] / n <= 0.01, {
        k: v for k, v in scored["hits"].items() if k.startswith("negative/") and v
    }
    assert scored["hits"]["negative/medium+"] / n <= 0.005


@pytest.mark.parametrize("kind", [f"lone-{typ}" for typ in sorted(LONE)] + ["glued-phone", "cc-dash-phone"])
def test_lone_and_glued_values(scored: dict[str, Counter[str]], kind: str) -> None:
    """Alone on their line or cell (no cue), glued to the word before, a dashed country code."""
    assert _rate(scored, f"positive/{kind}") >= 0.98, kind


@pytest.mark.parametrize("kind", ["glued-plain", "identifier", "in-sentence", "labelled"])
def test_not_a_phone(scored: dict[str, Counter[str]], kind: str) -> None:
    assert _rate(scored, f"negative/not-a-phone-{kind}") == 0.0, kind
