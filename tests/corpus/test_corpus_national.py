"""The national ID corpus (tests/corpus/gen_national.py), scored with floors.

Values are generated with their check digits computed by python-stdnum, in many phrasings and
languages; near misses (one check digit changed) and look-alike texts must stay unreported.
"""

from __future__ import annotations

from collections import Counter

import pytest
from gen_national import GENERATORS, STRUCTURED, records

from guard.config import load_settings
from guard.inspection import Inspector
from guard.model import NATIONAL_ID_TYPES


@pytest.fixture(scope="module")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    data = tmp_path_factory.mktemp("national")
    return Inspector.from_settings(load_settings(None, data_dir=str(data), rules={"hash_key": "test"}))


@pytest.fixture(scope="module")
def scored(inspector: Inspector) -> dict[str, Counter[str]]:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for r in records(seed=20261201, per_type=24):
        findings = inspector.scan_text(r.text)
        if r.labels:
            typ, s, e = r.labels[0]
            key = f"{typ}/{r.kind}"
            totals[key] += 1
            hits[key] += any(f.type == typ and f.start < e and f.end > s for f in findings)
            # Reported once, as its own type: no second national-ID type on the same value.
            totals["wrong_type"] += 1
            hits["wrong_type"] += any(
                f.type in NATIONAL_ID_TYPES and f.type != typ and f.start < e and f.end > s for f in findings
            )
        else:
            totals[r.kind] += 1
            hits[r.kind] += any(f.type in NATIONAL_ID_TYPES for f in findings)
    return {"hits": hits, "totals": totals}


@pytest.mark.parametrize("typ", sorted(GENERATORS))
def test_cued_values_are_found(scored: dict[str, Counter[str]], typ: str) -> None:
    key = f"{typ}/cued"
    assert scored["totals"][key] >= 20
    assert scored["hits"][key] / scored["totals"][key] >= 0.95, key


@pytest.mark.parametrize("typ", sorted(STRUCTURED))
def test_structured_values_are_found_without_a_cue(scored: dict[str, Counter[str]], typ: str) -> None:
    key = f"{typ}/bare"
    assert scored["hits"][key] / scored["totals"][key] >= 0.95, key


def test_every_type_of_the_pack_is_generated() -> None:
    assert set(GENERATORS) == set(NATIONAL_ID_TYPES)


def test_near_misses_and_lookalikes_stay_unreported(scored: dict[str, Counter[str]]) -> None:
    assert scored["totals"]["near_miss"] >= 150
    assert scored["hits"]["near_miss"] / scored["totals"]["near_miss"] <= 0.01
    assert scored["hits"]["lookalike"] == 0


def test_a_value_is_not_reported_as_a_second_id_type(scored: dict[str, Counter[str]]) -> None:
    assert scored["hits"]["wrong_type"] / scored["totals"]["wrong_type"] <= 0.01
