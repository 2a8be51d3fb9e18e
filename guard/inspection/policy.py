"""Policy: an ordered table of (conditions -> action), loaded from YAML; decisions are pure.

The first row whose conditions all hold decides; the verdict lists every row that held,
the decisive one first, so "why?" has an answer.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guard.errors import RuleError
from guard.model import Action, Audience, Decision, Finding

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class When(_Model):
    audience: Literal["internal", "external"] | None = None
    types: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    min_count: int = 1
    lookalike: bool | None = None


class Row(_Model):
    id: str
    description: str = ""
    when: When = Field(default_factory=When)
    action: Action
    # The types a `redact` row masks; by default the types it names (or finds, by category).
    redact: list[str] | None = None


class PolicyFile(_Model):
    version: int = 1
    rows: list[Row]
    labels: dict[str, str] = Field(default_factory=dict)
    advice: dict[str, str] = Field(default_factory=dict)


class _Counts:
    """Findings counted once per decision: by type, and by (category, type)."""

    def __init__(self, findings: list[Finding]) -> None:
        self.total = len(findings)
        self.by_type: Counter[str] = Counter(f.type for f in findings)
        self._by_cat_type: Counter[tuple[str, str]] = Counter((f.category, f.type) for f in findings)

    def by_category_excluding(self, types: list[str]) -> dict[str, int]:
        """Counts per category of findings whose type is not already counted by `types`."""
        out: dict[str, int] = {}
        for (cat, typ), n in self._by_cat_type.items():
            if typ not in types:
                out[cat] = out.get(cat, 0) + n
        return out


def redact_types(row: Row, findings: list[Finding]) -> tuple[str, ...]:
    """What a row masks: its `redact` list, else the found types its conditions name (by type or
    category), else (a row without conditions) every found type. A date-of-birth row masks dates
    of birth, not the names and phones next to them."""
    if row.redact is not None:
        return tuple(sorted(set(row.redact)))
    w = row.when
    if not (w.types or w.categories):
        return tuple(sorted({f.type for f in findings}))
    named = set(w.types) | {f.type for f in findings if f.category in w.categories}
    return tuple(sorted(named))


class Policy:
    """The decision table. `decide()` is pure: findings and audience in, Decision out."""

    def __init__(self, spec: PolicyFile) -> None:
        self.rows = spec.rows
        self.labels = spec.labels
        self.advice = spec.advice
        if not self.rows:
            raise RuleError("policy has no rows")

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
        except (OSError, yaml.YAMLError) as exc:
            raise RuleError(f"{path}: cannot read policy: {exc}") from None
        try:
            spec = PolicyFile.model_validate(data)
        except ValidationError as exc:
            rows = data.get("rows") if isinstance(data, dict) else None
            parts = []
            for e in exc.errors():
                loc = list(e["loc"])
                where = ".".join(str(p) for p in loc)
                if len(loc) > 1 and loc[0] == "rows" and isinstance(loc[1], int) and isinstance(rows, list):
                    row = rows[loc[1]] if loc[1] < len(rows) else None
                    if isinstance(row, dict) and "id" in row:
                        where = f"row {row['id']}: " + ".".join(str(p) for p in loc[2:])
                msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
                parts.append(f"{where}: {msg}")
            raise RuleError(f"{path}: " + "; ".join(parts)) from None
        ids = [r.id for r in spec.rows]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise RuleError(f"{path}: duplicate policy row ids: {', '.join(dupes)}")
        return cls(spec)

    def _holds(self, row: Row, audience: Audience, counts: _Counts, lookalike: bool) -> bool:
        w = row.when
        if w.audience is not None and w.audience != audience.value:
            return False
        if w.lookalike is not None and w.lookalike != lookalike:
            return False
        if w.types or w.categories:
            n = sum(counts.by_type.get(t, 0) for t in w.types)
            n += sum(c for cat, c in counts.by_category_excluding(w.types).items() if cat in w.categories)
            return n >= w.min_count
        return w.min_count <= 1 or counts.total >= w.min_count

    def decide(self, findings: list[Finding], audience: Audience, *, lookalike: bool = False) -> Decision:
        counts = _Counts(findings)
        hits = [row for row in self.rows if self._holds(row, audience, counts, lookalike)]
        if not hits:
            return Decision(Action.ALLOW, (), "No policy row applied; the message may be sent.")
        decisive = hits[0]
        explanation, advice = self._explain(decisive, findings, audience)
        # A catch-all row (no conditions) holds for everything: list it only when it decided.
        rows = (decisive.id, *(r.id for r in hits[1:] if r.when != When()))
        return Decision(decisive.action, rows, explanation, advice, redact_types(decisive, findings))

    def _explain(self, row: Row, findings: list[Finding], audience: Audience) -> tuple[str, str]:
        counts = Counter(f.type for f in findings)
        if not counts:
            return "Nothing sensitive was found; the message may be sent.", ""
        found = ", ".join(f"{n} x {t} ({self.labels.get(t, t.lower())})" for t, n in sorted(counts.items()))
        to = "an external recipient" if audience is Audience.EXTERNAL else "internal recipients"
        lead = {
            Action.ALLOW: f"Allowed: found {found} in a message to {to}",
            Action.REDACT: f"Redacted: found {found} in a message to {to}; the values were masked",
            Action.QUARANTINE: f"Held for security review: found {found} in a message to {to}",
            Action.BLOCK: f"Refused: found {found} in a message to {to}",
        }[row.action]
        relevant = [t for t in (row.when.types or sorted(counts)) if t in counts] or sorted(counts)
        if row.action is Action.ALLOW:
            return f"{lead} (policy row {row.id}).", ""
        advice_parts = []
        if row.id.endswith("bulk-records") or row.id.endswith("bulk-contacts"):
            advice_parts.append(self.advice.get("BULK", ""))
        for t in relevant:
            if t in self.advice and self.advice[t] not in advice_parts:
                advice_parts.append(self.advice[t])
        advice = "; ".join(a for a in advice_parts if a)
        text = f"{lead} (policy row {row.id})."
        if advice:
            text += f" What to do: {advice}."
        return text, advice
