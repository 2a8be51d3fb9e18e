"""A policy row's `redact` list: a REDACT decision masks the types the deciding row names, only."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.errors import RuleError
from guard.inspection import Inspector
from guard.inspection.policy import Policy
from guard.model import Action, Audience, Channel, OutboundMessage


def _policy(tmp_path: Path, body: str) -> Policy:
    path = tmp_path / "policy.yaml"
    path.write_text(body, encoding="utf-8")
    return Policy.load(path)


def test_shipped_dob_row_masks_dates_of_birth_not_names_or_phones(inspector: Inspector) -> None:
    text = "Dear Jane Doe, your date of birth: 12.03.1985 is on file; call +1 415 555 0142."
    v = inspector.inspect(OutboundMessage(channel=Channel.API, text=text))
    assert v.action is Action.REDACT
    assert {"DATE_OF_BIRTH", "PHONE"} <= set(v.counts())
    assert v.decision.redact == ("ABA_ROUTING", "DATE_OF_BIRTH")


def test_explicit_redact_list_and_category_default(inspector: Inspector, tmp_path: Path) -> None:
    policy = _policy(
        tmp_path,
        "rows:\n"
        "  - {id: dob, when: {types: [DATE_OF_BIRTH]}, action: redact, redact: [DATE_OF_BIRTH, PHONE]}\n"
        "  - {id: contact, when: {categories: [contact]}, action: redact}\n",
    )
    dob = inspector.scan_text("date of birth: 12.03.1985, phone +1 415 555 0142")
    assert policy.decide(dob, Audience.EXTERNAL).redact == ("DATE_OF_BIRTH", "PHONE")
    phone = inspector.scan_text("call me on +1 415 555 0142")
    d = policy.decide(phone, Audience.EXTERNAL)
    assert d.rows[0] == "contact" and d.redact == ("PHONE",)


def test_redact_list_must_be_a_list(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="redact"):
        _policy(tmp_path, "rows:\n  - {id: r, when: {}, action: redact, redact: PHONE}\n")
