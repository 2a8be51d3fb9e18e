"""Policy: an ordered table of (conditions -> action), loaded from YAML; decisions are pure.

The first row whose conditions all hold decides; the verdict lists every row that held,
the decisive one first, so "why?" has an answer.

A local override file (`<rules.local_dir>/policy.yaml`) is merged over the shipped table, so the
shipped file is never edited (as rspamd's `local.d`). The merge rule:
- a row whose `id` is in the shipped table replaces that row where it stands;
- `{id: ROW, enabled: false}` turns a row off (`enabled: true` turns it back on);
- a row with a new id is inserted before `before: ROW` when given, else just before the
  shipped table's final catch-all row (`when: {}`), else at the end;
- `labels`, `advice` and `severity` entries replace the shipped entry of the same key.
Both files are validated: unknown keys and versions are refused, naming the file and the row.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guard.errors import RuleError
from guard.model import CONFIDENCE_LEVELS, Action, Audience, Decision, Finding

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
POLICY_VERSIONS = (1,)
Severity = Literal["low", "medium", "high"]
_M = TypeVar("_M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class When(_Model):
    audience: Literal["internal", "external"] | None = None
    types: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    min_count: int = 1
    lookalike: bool | None = None
    # Only findings at this confidence or above count for the row (high > medium > low).
    min_confidence: Literal["low", "medium", "high"] | None = None


class Row(_Model):
    id: str
    description: str = ""
    when: When = Field(default_factory=When)
    action: Action
    # The types a `redact` row masks; by default the types it names (or finds, by category).
    redact: list[str] | None = None
    enabled: bool = True
    advice: str | None = None  # a key of the `advice` table, said before the advice per type


class LocalRow(Row):
    """A row of the local override file: may say where a new row goes."""

    before: str | None = None


class RowSwitch(_Model):
    """`{id: ROW, enabled: false}` in the local file: a shipped row turned off (or on)."""

    id: str
    enabled: bool


class PolicyFile(_Model):
    version: int = 1
    rows: list[Row]
    labels: dict[str, str] = Field(default_factory=dict)
    advice: dict[str, str] = Field(default_factory=dict)
    # Level of a held item by the types found in it (a detector may set its own); unlisted: medium.
    severity: dict[str, Severity] = Field(default_factory=dict)


class LocalPolicyFile(_Model):
    version: int = 1
    rows: list[LocalRow | RowSwitch] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    advice: dict[str, str] = Field(default_factory=dict)
    severity: dict[str, Severity] = Field(default_factory=dict)


def _read(path: Path) -> dict[str, Any]:
    try:
        data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise RuleError(f"{path}: cannot read policy: {exc}") from None
    if not isinstance(data, dict):
        raise RuleError(f"{path}: expected a mapping with 'rows'")
    version = data.get("version", 1)
    if type(version) is not int or version not in POLICY_VERSIONS:
        raise RuleError(
            f"{path}: version: unknown version {version!r} (this guard reads version "
            f"{', '.join(map(str, POLICY_VERSIONS))})"
        )
    return data


def _validate(model: type[_M], data: dict[str, Any], path: Path) -> _M:
    """`data` as `model`, or a RuleError naming the file, the row id and the key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        rows = data.get("rows")
        parts = []
        for e in exc.errors():
            loc = list(e["loc"])
            where = ".".join(str(p) for p in loc)
            if len(loc) > 1 and loc[0] == "rows" and isinstance(loc[1], int) and isinstance(rows, list):
                row = rows[loc[1]] if loc[1] < len(rows) else None
                rest = [p for p in loc[2:] if p not in ("LocalRow", "RowSwitch")]
                if isinstance(row, dict) and "id" in row:
                    where = f"row {row['id']}: " + ".".join(str(p) for p in rest)
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            parts.append(f"{where}: {msg}")
        raise RuleError(f"{path}: " + "; ".join(dict.fromkeys(parts))) from None


def _merge(spec: PolicyFile, local: LocalPolicyFile, path: Path) -> PolicyFile:
    """The shipped table with the local file's rows, labels, advice and levels merged over it."""
    rows = list(spec.rows)
    for lrow in local.rows:
        at = next((i for i, r in enumerate(rows) if r.id == lrow.id), None)
        if isinstance(lrow, RowSwitch):
            if at is None:
                raise RuleError(f"{path}: row {lrow.id}: no such row to turn off or on")
            rows[at] = rows[at].model_copy(update={"enabled": lrow.enabled})
            continue
        row = Row.model_validate(lrow.model_dump(exclude={"before"}))
        if at is not None:
            rows[at] = row
        elif lrow.before is not None:
            pos = next((i for i, r in enumerate(rows) if r.id == lrow.before), None)
            if pos is None:
                raise RuleError(f"{path}: row {lrow.id}: before: no row {lrow.before!r}")
            rows.insert(pos, row)
        elif rows and rows[-1].when == When():
            rows.insert(len(rows) - 1, row)
        else:
            rows.append(row)
    return PolicyFile(
        version=spec.version,
        rows=rows,
        labels={**spec.labels, **local.labels},
        advice={**spec.advice, **local.advice},
        severity={**spec.severity, **local.severity},
    )


def load_policy_file(path: Path, local: Path | None = None) -> PolicyFile:
    """The policy file at `path`, validated, with the local override file merged over it."""
    spec = _validate(PolicyFile, _read(path), path)
    where = path
    if local is not None:
        spec = _merge(spec, _validate(LocalPolicyFile, _read(local), local), local)
        where = local
    ids = [r.id for r in spec.rows]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RuleError(f"{where}: duplicate policy row ids: {', '.join(dupes)}")
    for row in spec.rows:
        if row.advice is not None and row.advice not in spec.advice:
            raise RuleError(f"{where}: row {row.id}: advice: {row.advice!r} is not in the advice table")
    return spec


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
        self.rows = [r for r in spec.rows if r.enabled]
        self.labels = spec.labels
        self.advice = spec.advice
        self.severity: dict[str, Severity] = dict(spec.severity)
        if not self.rows:
            raise RuleError("policy has no rows")

    @classmethod
    def load(cls, path: Path, local: Path | None = None) -> Policy:
        """The table at `path`, with the local override file (if given) merged over it."""
        return cls(load_policy_file(path, local))

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
        by_level: dict[str | None, _Counts] = {None: _Counts(findings)}
        for i, level in enumerate(CONFIDENCE_LEVELS):
            if any(r.when.min_confidence == level for r in self.rows):
                keep = CONFIDENCE_LEVELS[i:]
                by_level[level] = _Counts([f for f in findings if f.confidence in keep])
        hits = [
            row
            for row in self.rows
            if self._holds(row, audience, by_level[row.when.min_confidence], lookalike)
        ]
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
        if row.advice is not None:
            advice_parts.append(self.advice[row.advice])
        for t in relevant:
            if t in self.advice and self.advice[t] not in advice_parts:
                advice_parts.append(self.advice[t])
        advice = "; ".join(a for a in advice_parts if a)
        text = f"{lead} (policy row {row.id})."
        if advice:
            text += f" What to do: {advice}."
        return text, advice
