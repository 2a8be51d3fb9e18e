"""The vocabulary every part of the guard shares: messages in, verdicts out.

Adapters (SMTP, chat, check API, CLI) translate their protocol into an `OutboundMessage`
and a `Verdict` back into a protocol reply. Nothing here does I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    SMTP = "smtp"
    CHAT = "chat"
    API = "api"


class Audience(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class Action(StrEnum):
    """What happens to a message; the order is the order of severity."""

    ALLOW = "allow"
    REDACT = "redact"
    QUARANTINE = "quarantine"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        return _ACTION_ORDER[self]

    @classmethod
    def strictest(cls, actions: list[Action] | tuple[Action, ...]) -> Action:
        return max(actions, key=lambda a: a.severity, default=cls.ALLOW)


_ACTION_ORDER = {Action.ALLOW: 0, Action.REDACT: 1, Action.QUARANTINE: 2, Action.BLOCK: 3}

#: Entity types used in every interface; names never change (DESIGN.md).
ENTITY_TYPES: tuple[str, ...] = (
    "CREDIT_CARD",
    "US_SSN",
    "IBAN",
    "US_BANK_ACCOUNT",
    "ABA_ROUTING",
    "DATE_OF_BIRTH",
    "PASSPORT",
    "API_KEY",
    "EMAIL",
    "PHONE",
    "ADDRESS",
    "PERSON",
    "UNSCANNABLE",
)
#: National identity numbers (rules/national_ids.yaml; category identity, high-risk), Presidio's names.
NATIONAL_ID_TYPES: tuple[str, ...] = (
    "UK_NINO",
    "UK_NHS",
    "CA_SIN",
    "DE_TAX_ID",
    "FR_NIR",
    "ES_NIF",
    "ES_NIE",
    "IT_FISCAL_CODE",
    "NL_BSN",
    "PL_PESEL",
    "SE_PERSONNUMMER",
    "FI_PERSONAL_ID",
    "NO_FODSELSNUMMER",
    "DK_CPR",
    "IN_AADHAAR",
    "IN_PAN",
    "AU_TFN",
    "AU_MEDICARE",
    "BR_CPF",
    "MX_CURP",
    "SG_NRIC",
    "KR_RRN",
    "ZA_ID",
    "TR_TCKN",
    "CL_RUT",
    "US_ITIN",
    "CH_AHV",
)
ENTITY_TYPES += NATIONAL_ID_TYPES
# Which types make a held item high severity is rules data: the `severity:` table of
# rules/policy.yaml (and detectors' `severity:`), applied by guard.inspection.severity.
#: Finding confidence levels, weakest first (policy `min_confidence` compares by this order).
CONFIDENCE_LEVELS: tuple[str, ...] = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message about to leave, normalised from whichever protocol brought it.

    `raw` is an RFC 5322 message (SMTP, or an `.eml` given to the check API or CLI);
    `text` is plain text (chat payload text, API drafts). At least one is set.
    `audience` is fixed for chat routes; for mail it follows from each recipient.
    """

    channel: Channel
    sender: str = ""
    recipients: tuple[str, ...] = ()
    raw: bytes | None = None
    text: str | None = None
    subject: str = ""
    route: str | None = None
    audience: Audience | None = None
    message_id: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of text extracted from a message, and where it came from."""

    text: str
    source: str  # e.g. "body", "part 2 text/html", "attachment customers.csv", "payload text"
    # text | html | markup | attachment | header | address | trace | decoded | joined | unscannable
    # (extract.py says what each holds; address and trace name the correspondents and the route)
    kind: str = "text"
    # The name a machine-written header gives its value (X-Request-Id): read with the value, so an id
    # under its own label is not taken for a lone pasted value and X-Api-Key cues what follows.
    label: str = ""
    # A segment derived from another (base64 decoded from it): where it sits in its parent.
    parent: int | None = None
    parent_start: int = 0
    parent_end: int = 0


@dataclass(frozen=True, slots=True)
class Finding:
    """One sensitive value found. Never holds the value itself."""

    type: str
    category: str
    start: int  # offsets into the segment's text as given (not normalised)
    end: int
    score: float
    detector: str
    preview: str  # masked, e.g. "**** **** **** 4242"
    value_hash: str  # keyed hash (HMAC-SHA256, truncated) for correlation
    segment: int = 0  # index into Verdict.segments
    explanation: tuple[str, ...] = ()
    # How sure the detector is (Microsoft Purview's model): "high" | "medium" | "low", from the
    # validator, the value's structure and its context. Policy rows may ask for a minimum.
    confidence: str = "medium"

    def as_dict(self, *, with_segment: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.type,
            "category": self.category,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 3),
            "detector": self.detector,
            "preview": self.preview,
            "hash": self.value_hash,
            "confidence": self.confidence,
            "explanation": list(self.explanation),
        }
        if with_segment:
            d["segment"] = self.segment
        return d


@dataclass(frozen=True, slots=True)
class RecipientClass:
    address: str
    audience: Audience
    domain: str
    lookalike_of: str | None = None  # internal domain this one imitates, if any


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer for one audience."""

    action: Action
    rows: tuple[str, ...]  # ids of the policy rows that hit, in table order
    explanation: str  # for the sender: what was found, which rule, what to do instead
    advice: str = ""
    redact: tuple[str, ...] = ()  # the types a REDACT decision masks (the deciding row's `redact`)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of `inspect()`. `action` is the decision for the most exposed audience."""

    action: Action
    audience: Audience
    decisions: Mapping[Audience, Decision]
    findings: tuple[Finding, ...]
    segments: tuple[Segment, ...]
    recipients: tuple[RecipientClass, ...] = ()
    duration_s: float = 0.0

    @property
    def decision(self) -> Decision:
        return self.decisions[self.audience]

    @property
    def rows(self) -> tuple[str, ...]:
        return self.decision.rows

    @property
    def explanation(self) -> str:
        return self.decision.explanation

    def counts(self) -> dict[str, int]:
        """Entity type -> count, sorted by type name."""
        return dict(sorted(Counter(f.type for f in self.findings).items()))

    def for_audience(self, audience: Audience) -> Decision:
        return self.decisions[audience]

    def summary(self) -> dict[str, Any]:
        """A value-free description, safe for logs, replies and audit entries."""
        return {
            "action": self.action.value,
            "audience": self.audience.value,
            "counts": self.counts(),
            "rows": list(self.rows),
            "explanation": self.explanation,
        }
