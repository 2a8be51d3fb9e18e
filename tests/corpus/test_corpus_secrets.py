"""The credentials corpus (tests/corpus/gen_secrets.py), scored with floors.

Tokens are generated to each provider's documented format (GitHub and npm with their CRC32
checksum computed in the generator), written alone, in sentences and in config syntaxes;
passwords in prose in seven languages; key blocks, JWTs, an AWS id with its secret. Documentation
examples, placeholders, environment references, fingerprints, hashes and UUIDs next to "key"
must stay unreported.
"""

from __future__ import annotations

from collections import Counter

import pytest
from gen_secrets import CUED, PROVIDERS, records

from guard.config import load_settings
from guard.inspection import Inspector


@pytest.fixture(scope="module")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    data = tmp_path_factory.mktemp("secrets")
    return Inspector.from_settings(load_settings(None, data_dir=str(data), rules={"hash_key": "test"}))


@pytest.fixture(scope="module")
def scored(inspector: Inspector) -> dict[str, Counter[str]]:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for r in records(seed=20261201, per=6):
        findings = [f for f in inspector.scan_text(r.text) if f.type == "API_KEY"]
        if r.kind.startswith("weak/"):
            # a shape ids and hashes share: found, and at low confidence only (masked, not held)
            _, s, e = r.labels[0]
            totals[r.kind] += 1
            hits[r.kind] += any(f.start < e and f.end > s for f in findings)
            totals["weak_above_low"] += 1
            hits["weak_above_low"] += any(f.confidence != "low" for f in findings)
        elif r.labels:
            _, s, e = r.labels[0]
            found = any(f.start < e and f.end > s for f in findings)
            for key in (r.kind, f"form/{r.form}", "all_positive"):
                totals[key] += 1
                hits[key] += found
        elif r.kind == "negative/github_wrong_checksum":
            # a GitHub-shaped token whose checksum fails is never reported as a verified one
            totals[r.kind] += 1
            hits[r.kind] += any(f.detector == "GITHUB_TOKEN" or f.confidence == "high" for f in findings)
        else:
            for key in (r.kind, "all_negative"):
                totals[key] += 1
                hits[key] += bool(findings)
    return {"hits": hits, "totals": totals}


def rate(scored: dict[str, Counter[str]], key: str) -> float:
    return scored["hits"][key] / scored["totals"][key]


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_provider_format_is_found(scored: dict[str, Counter[str]], name: str) -> None:
    assert rate(scored, f"provider/{name}") >= 5 / 6, name


@pytest.mark.parametrize("name", sorted(CUED))
def test_weak_formats_are_found_next_to_their_provider(scored: dict[str, Counter[str]], name: str) -> None:
    assert rate(scored, f"cued/{name}") >= 5 / 6, name


@pytest.mark.parametrize(
    ("kind", "floor"),
    [
        ("generic/password_prose", 0.97),
        ("generic/password_assigned", 0.94),
        ("generic/secret_assigned", 0.97),
        ("generic/secret_sentence", 0.94),
        ("generic/lone_token", 0.97),
        ("generic/aws_pair", 0.97),
        ("generic/private_key", 1.0),
        ("generic/jwt", 1.0),
        ("generic/basic_auth", 1.0),
        ("generic/punctuated_assigned", 0.97),
        ("generic/shaped_assigned", 0.97),
        ("generic/token_sentence", 0.97),
        ("generic/key_sentence_languages", 0.97),
        ("generic/curl", 0.97),
        ("generic/key_armour", 1.0),
        ("generic/jwt_unsigned", 1.0),
    ],
)
def test_generic_forms_meet_their_floor(scored: dict[str, Counter[str]], kind: str, floor: float) -> None:
    assert rate(scored, kind) >= floor, kind


@pytest.mark.parametrize("form", ["bare", "sentence", "config"])
def test_recall_by_form(scored: dict[str, Counter[str]], form: str) -> None:
    assert rate(scored, f"form/{form}") >= 0.99, form


@pytest.mark.parametrize("kind", ["weak/lone_message", "weak/lone_pair", "weak/key_sentence"])
def test_shapes_ids_share_are_found_at_low_confidence(scored: dict[str, Counter[str]], kind: str) -> None:
    assert rate(scored, kind) >= 0.9, kind


def test_shapes_ids_share_are_never_held(scored: dict[str, Counter[str]]) -> None:
    assert scored["totals"]["weak_above_low"] >= 30
    assert scored["hits"]["weak_above_low"] == 0


def test_overall_recall(scored: dict[str, Counter[str]]) -> None:
    assert rate(scored, "all_positive") >= 0.99


def test_placeholders_examples_and_lookalikes_stay_unreported(scored: dict[str, Counter[str]]) -> None:
    negatives = [
        k for k in scored["totals"] if k.startswith("negative/") and k != "negative/github_wrong_checksum"
    ]
    assert len(negatives) >= 10
    assert rate(scored, "all_negative") <= 0.01
    for kind in negatives:
        assert rate(scored, kind) <= 0.1, kind


def test_a_wrong_github_checksum_is_never_a_verified_token(scored: dict[str, Counter[str]]) -> None:
    assert scored["totals"]["negative/github_wrong_checksum"] >= 5
    assert scored["hits"]["negative/github_wrong_checksum"] == 0


def test_the_pack_covers_150_services() -> None:
    from guard.inspection.rules import load_detectors, shipped_rules_dir

    providers = [
        d
        for d in load_detectors([shipped_rules_dir() / "credentials-providers.yaml"])
        if not d.id.endswith(("_UNVERIFIED", "_LEGACY", "_2021", "_2024"))
    ]
    assert len(providers) >= 150
