"""Rules as data: pack validation, the local policy override, advice, severity and masks from YAML,
and the one registry of validators, refiners and engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.config import load_settings
from guard.errors import RuleError
from guard.inspection import Inspector
from guard.inspection.policy import Policy
from guard.inspection.registry import ENGINES, REFINERS, VALIDATORS, load_builtins
from guard.inspection.rules import load_detectors, shipped_rules_dir
from guard.inspection.severity import severity, severity_levels
from guard.model import Action, Audience, Channel, OutboundMessage
from guard.testing import luhn_complete

SHIPPED_POLICY = shipped_rules_dir() / "policy.yaml"


def _luhn_card(prefix: str = "4") -> str:
    """A 16-digit number with a valid Luhn check digit, made here (not copied from anywhere)."""
    body = prefix + "5" * (15 - len(prefix))
    return luhn_complete(body)


def _write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def _inspector(tmp_path: Path, **rules: object) -> Inspector:
    settings = load_settings(None, data_dir=str(tmp_path / "var"), rules={"hash_key": "test", **rules})
    return Inspector.from_settings(settings)


def _decide(
    inspector: Inspector, text: str, to: str = "x@customer.net"
) -> tuple[Action, tuple[str, ...], str]:
    v = inspector.inspect(OutboundMessage(channel=Channel.API, text=text, recipients=(to,)))
    return v.action, v.rows, v.decision.advice


# -- packs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("version: 2\ndetectors: []\n", "version: unknown version 2"),
        ("version: '1'\ndetectors: []\n", "version: unknown version '1'"),
        ("version: 1\nrules: []\ndetectors: []\n", "rules: unknown key"),
        (
            "detectors:\n  - id: X1\n    type: API_KEY\n    category: credential\n    refiner: zigzag\n"
            "    patterns: [{regex: 'a'}]\n",
            "rule X1: refiner: Value error, unknown refiner 'zigzag'",
        ),
        (
            "detectors:\n  - id: X2\n    type: API_KEY\n    category: credential\n    engine: crystal_ball\n"
            "    patterns: [{regex: 'a'}]\n",
            "rule X2: engine: Value error, unknown engine 'crystal_ball'",
        ),
        (
            "detectors:\n  - id: X3\n    type: API_KEY\n    category: credential\n    mask: blur\n"
            "    patterns: [{regex: 'a'}]\n",
            "rule X3: mask: Value error, unknown mask 'blur'",
        ),
        (
            "detectors:\n  - id: X4\n    type: API_KEY\n    category: credential\n    severity: extreme\n"
            "    patterns: [{regex: 'a'}]\n",
            "rule X4: severity",
        ),
    ],
)
def test_packs_refuse_unknown_keys_versions_and_names(tmp_path: Path, body: str, message: str) -> None:
    local = _write(tmp_path / "local.d" / "mine.yaml", body).parent
    with pytest.raises(RuleError) as err:
        load_detectors([shipped_rules_dir()], local)
    assert "mine.yaml" in str(err.value) and message in str(err.value), str(err.value)


def test_every_shipped_pack_and_the_policy_validate() -> None:
    detectors = load_detectors([shipped_rules_dir()])
    assert detectors and all(d.refiner in REFINERS for d in detectors)
    Policy.load(SHIPPED_POLICY)


def test_one_registry_holds_validators_refiners_and_engines() -> None:
    load_builtins()
    from guard.inspection import refine, validators

    assert validators.REGISTRY is VALIDATORS and "luhn" in VALIDATORS
    assert refine.REFINERS is REFINERS and {"none", "digit_groups", "iban"} <= set(REFINERS)
    assert "person_names" in ENGINES


# -- detector fields: mask and severity --------------------------------------------------------------
def test_detector_mask_and_severity_come_from_the_pack(tmp_path: Path) -> None:
    local = _write(
        tmp_path / "local.d" / "ticket.yaml",
        "version: 1\ndetectors:\n"
        "  - id: LOCAL_TICKET\n    type: TICKET_SECRET\n    category: other\n"
        "    mask: last2\n    severity: high\n    score: 0.9\n"
        "    patterns: [{regex: 'TKT-[0-9]{8}'}]\n",
    ).parent
    inspector = _inspector(tmp_path, local_dir=str(local))
    [finding] = [f for f in inspector.scan_text("see TKT-12345678 today") if f.type == "TICKET_SECRET"]
    assert finding.preview == "*********78"  # the last2 style, not the default "[redacted]"
    assert inspector.severity(["TICKET_SECRET"]) == "high"
    assert inspector.severity(["EMAIL"]) == "medium"


# -- severity ------------------------------------------------------------------------------------------
def test_severity_is_one_pure_rule() -> None:
    levels = {"CREDIT_CARD": "high", "EMAIL": "low"}
    assert severity([], levels) == "low"
    assert severity({"EMAIL": 3}, levels) == "low"
    assert severity(["PHONE"], levels) == "medium"  # unlisted: medium
    assert severity({"EMAIL": 1, "CREDIT_CARD": 1}, levels) == "high"


def test_shipped_severity_matches_the_old_high_risk_set(tmp_path: Path) -> None:
    """The table moved from code (model.HIGH_RISK_TYPES) to policy.yaml without changing a level."""
    inspector = _inspector(tmp_path)
    high = {"CREDIT_CARD", "US_SSN", "IBAN", "US_BANK_ACCOUNT", "API_KEY", "PASSPORT"}
    for t in high:
        assert inspector.severity([t]) == "high"
    for t in ("EMAIL", "PHONE", "ADDRESS", "PERSON", "DATE_OF_BIRTH", "ABA_ROUTING", "UNSCANNABLE"):
        assert inspector.severity([t]) == "medium"
    assert inspector.severity([]) == "low"


def test_a_detector_level_wins_over_the_policy_table() -> None:
    [card] = [d for d in load_detectors([shipped_rules_dir()]) if d.type == "CREDIT_CARD"][:1]
    lowered = card.model_copy(update={"severity": "low"})
    assert severity_levels({"CREDIT_CARD": "high"}, [lowered]) == {"CREDIT_CARD": "low"}


# -- policy: advice and the local override ---------------------------------------------------------------
def test_advice_choice_is_data(tmp_path: Path) -> None:
    """Bulk rows say the BULK advice first because their row says so, not because of their id."""
    cards = "\n".join(f"card {_luhn_card('4' + str(i))}" for i in range(6))
    action, rows, advice = _decide(_inspector(tmp_path), cards)
    assert (action, rows[0]) == (Action.BLOCK, "external-bulk-records")
    assert advice.startswith("send exports through the approved data transfer service")

    local = _write(
        tmp_path / "local.d" / "policy.yaml",
        "version: 1\nrows:\n"
        "  - id: external-bulk-records\n    when: {audience: external, types: [CREDIT_CARD], min_count: 5}\n"
        "    action: block\n    advice: EXPORTS\n"
        "advice:\n  EXPORTS: use the export portal\n",
    ).parent
    _, _, advice = _decide(_inspector(tmp_path, local_dir=str(local)), cards)
    assert advice.startswith("use the export portal")


def test_local_policy_replaces_adds_and_disables_rows(tmp_path: Path) -> None:
    local = _write(
        tmp_path / "local.d" / "policy.yaml",
        "version: 1\n"
        "rows:\n"
        "  - {id: external-identity-details, enabled: false}\n"  # dates of birth no longer redacted
        "  - id: external-high-risk\n"  # replaced in place: cards are refused, not held
        "    when: {audience: external, types: [CREDIT_CARD]}\n"
        "    action: block\n"
        "  - id: local-contacts\n"  # added before the catch-all row
        "    when: {audience: external, types: [EMAIL]}\n"
        "    action: redact\n"
        "  - id: local-first\n"  # added where `before` says
        "    before: internal-allow\n"
        "    when: {audience: internal, types: [API_KEY]}\n"
        "    action: quarantine\n"
        "labels:\n  EMAIL: mail address\n",
    ).parent
    inspector = _inspector(tmp_path, local_dir=str(local))
    ids = [r.id for r in inspector.policy.rows]
    assert ids[0] == "local-first" and ids[-2:] == ["local-contacts", "default-allow"]
    assert "external-identity-details" not in ids
    assert ids.index("external-high-risk") == ids.index("external-bulk-contacts") + 1  # same place
    action, rows = _decide(inspector, f"card {_luhn_card()}")[:2]
    assert action is Action.BLOCK and rows[0] == "external-high-risk"
    assert _decide(inspector, "DOB: 22.11.1978")[0] is Action.ALLOW
    assert _decide(inspector, "write to anna@customer.net")[:2] == (Action.REDACT, ("local-contacts",))
    assert inspector.policy.labels["EMAIL"] == "mail address"
    assert inspector.policy.labels["IBAN"] == "IBAN"  # shipped entries stay


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("version: 3\nrows: []\n", "version: unknown version 3"),
        ("version: 1\nrows: []\ncolour: red\n", "colour: unknown key"),
        ("rows:\n  - {id: no-such-row, enabled: false}\n", "row no-such-row: no such row"),
        (
            "rows:\n  - {id: new-row, before: nowhere, when: {}, action: allow}\n",
            "row new-row: before: no row 'nowhere'",
        ),
        ("rows:\n  - {id: new-row, when: {}, action: allow, advice: NOPE}\n", "row new-row: advice: 'NOPE'"),
        ("rows:\n  - {id: new-row, when: {}, action: shrug}\n", "row new-row: "),
        ("rows:\n  - {id: new-row, when: {}, action: allow, mood: good}\n", "mood: unknown key"),
    ],
)
def test_bad_local_policy_names_file_and_row(tmp_path: Path, body: str, message: str) -> None:
    local = _write(tmp_path / "local.d" / "policy.yaml", body)
    with pytest.raises(RuleError) as err:
        Policy.load(SHIPPED_POLICY, local)
    assert str(local) in str(err.value) and message in str(err.value), str(err.value)


def test_shipped_policy_version_is_checked(tmp_path: Path) -> None:
    bad = _write(tmp_path / "policy.yaml", SHIPPED_POLICY.read_text().replace("version: 1", "version: 9"))
    with pytest.raises(RuleError, match=r"policy.yaml: version: unknown version 9"):
        Policy.load(bad)


def test_decisions_for_both_audiences_still_hold(tmp_path: Path) -> None:
    inspector = _inspector(tmp_path)
    v = inspector.inspect(
        OutboundMessage(channel=Channel.API, text=f"card {_luhn_card()}", recipients=("a@example.com",))
    )
    assert v.decisions[Audience.INTERNAL].action is Action.ALLOW
    assert v.decisions[Audience.EXTERNAL].action is Action.QUARANTINE
