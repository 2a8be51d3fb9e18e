"""Rule packs: detector records in YAML, validated by pydantic, loaded once at start.

A pack is `{version: 1, macros: {NAME: regex}, detectors: [...]}`; any other top-level key or
version is refused. Later packs (the local override folder) may replace a shipped detector by
id, or disable it with `enabled: false`. A detector names its validator, refiner and engine from
`guard.inspection.registry`, and may set its finding's `severity` and preview `mask` style.
A bad file stops start-up with a `RuleError` naming the file, the rule id and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from guard.errors import RuleError
from guard.inspection.mask import MASKS
from guard.inspection.registry import ENGINES, REFINERS, REGEX_ENGINE, VALIDATORS, check_name

PACK_VERSIONS = (1,)
Severity = Literal["low", "medium", "high"]

SHIPPED_RULES = Path(__file__).resolve().parent.parent.parent / "rules"

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster


def shipped_rules_dir() -> Path:
    """The rules/ folder: beside the package in a checkout, inside it when installed."""
    candidates = [SHIPPED_RULES, Path(__file__).resolve().parent.parent / "default_rules"]
    for c in candidates:
        if (c / "policy.yaml").exists():
            return c
    raise RuleError(f"shipped rules not found in {', '.join(map(str, candidates))}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Pattern(_Model):
    name: str = "main"
    regex: str
    score: float | None = None  # overrides the detector's base score for this pattern
    group: int = 0  # which capture group is the value (0: the whole match)
    # Cheap pre-check: the pattern can only match if one of these strings occurs in the text
    # (case-insensitively for case-insensitive detectors). Saves a scan per message.
    literals: list[str] = Field(default_factory=list)


class Context(_Model):
    words: list[str] = Field(default_factory=list)
    before: int = 60  # characters before the match that are searched
    after: int = 20
    boost: float = 0.35
    same_line: bool = False  # the cue must be on the value's line


class NegativeContext(_Model):
    words: list[str] = Field(default_factory=list)  # penalise unless a positive cue is nearer
    strong_words: list[str] = Field(default_factory=list)  # penalise even when a positive cue is nearer
    same_line: bool = False
    before: int = 20
    after: int = 0
    penalty: float = 0.4
    # Penalise a value labelled by some other word ("Subscription 4111…", "Room 211-42-5735")
    # when no positive cue is near: a label names what a number is.
    foreign_label: bool = False


Confidence = Literal["low", "medium", "high"]


class Lone(_Model):
    """A value that is the whole of its message, line or (headerless) table cell is reported
    without a cue: nothing around it says what it is, and nothing says it is something else."""

    confidence: Confidence | None = None  # of such a value without a cue (None: from its score)
    patterns: list[str] = Field(default_factory=list)  # the patterns this holds for (empty: all)


class Detector(_Model):
    id: str
    type: str
    category: Literal["pci", "pii", "bank", "identity", "credential", "contact", "other"]
    description: str = ""
    enabled: bool = True
    engine: str = REGEX_ENGINE  # or a registered engine, e.g. person_names
    patterns: list[Pattern] = Field(default_factory=list)
    refiner: str = "none"  # a registered refiner: none, digit_groups, iban, ...
    min_digits: int = 0
    max_digits: int = 0
    validator: str | None = None
    score: float = 0.5  # a pattern match alone
    validated_score: float | None = None  # when the validator passes (None: same as score)
    context: Context = Field(default_factory=Context)
    negative_context: NegativeContext = Field(default_factory=NegativeContext)
    require_context: bool = False
    lone: Lone | None = None  # reported without a cue when alone on its line (see guard.inspection.lone)
    threshold: float = 0.5
    # not glued to: alnum = letters/digits; word = also "_"; numeric = also a separator and more digits;
    # ascii = Latin letters/digits only (CJK and Hangul text runs straight into values)
    boundary: Literal["none", "alnum", "word", "numeric", "ascii"] = "alnum"
    case_insensitive: bool = False
    severity: Severity | None = None  # of a held item with this finding (None: the policy's per-type level)
    mask: str | None = None  # preview style from guard.inspection.mask.MASKS (None: the type's style)

    @field_validator("validator")
    @classmethod
    def _known_validator(cls, value: str | None) -> str | None:
        return None if value is None else check_name(VALIDATORS, "validator", value)

    @field_validator("refiner")
    @classmethod
    def _known_refiner(cls, value: str) -> str:
        return check_name(REFINERS, "refiner", value)

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        return check_name(ENGINES, "engine", value, extra=(REGEX_ENGINE,))

    @field_validator("mask")
    @classmethod
    def _known_mask(cls, value: str | None) -> str | None:
        if value is not None and value not in MASKS:
            raise ValueError(f"unknown mask {value!r}; known: {', '.join(sorted(MASKS))}")
        return value

    @model_validator(mode="after")
    def _lone_patterns_exist(self) -> Detector:
        if self.lone is not None:
            names = {p.name for p in self.patterns}
            unknown = [n for n in self.lone.patterns if n not in names]
            if unknown:
                raise ValueError(f"lone.patterns: unknown pattern(s) {', '.join(unknown)}")
        return self

    @field_validator("score", "validated_score", "threshold")
    @classmethod
    def _unit(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError("scores are between 0 and 1")
        return value


class Pack(_Model):
    version: int = 1
    macros: dict[str, str] = Field(default_factory=dict)
    detectors: list[Detector] = Field(default_factory=list)


def _expand(regex: str, macros: dict[str, str]) -> str:
    for name, value in macros.items():
        regex = regex.replace("{" + name + "}", value)
    return regex


def re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # errors are reported as RuleError, not on stderr
    options.max_mem = 64 << 20
    return options


def _check_regex(regex: str, where: str, case_insensitive: bool) -> None:
    try:
        re2.compile(("(?i)" if case_insensitive else "") + regex, re2_options())
    except Exception as exc:
        raise RuleError(f"{where}: pattern does not compile with RE2 (linear time): {exc}") from None


def _load_file(path: Path, macros: dict[str, str]) -> list[Detector]:
    try:
        data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise RuleError(f"{path}: cannot read rule file: {exc}") from None
    if data is None:
        return []
    if not isinstance(data, dict) or ("detectors" not in data and "macros" not in data):
        raise RuleError(f"{path}: expected a mapping with 'detectors'")
    unknown = sorted(str(k) for k in data if k not in Pack.model_fields)
    if unknown:
        raise RuleError(
            f"{path}: {', '.join(unknown)}: unknown key (a pack has {', '.join(Pack.model_fields)})"
        )
    version = data.get("version", 1)
    if type(version) is not int or version not in PACK_VERSIONS:
        raise RuleError(
            f"{path}: version: unknown version {version!r} (this guard reads version "
            f"{', '.join(map(str, PACK_VERSIONS))})"
        )
    if not isinstance(data.get("macros") or {}, dict):
        raise RuleError(f"{path}: macros: must be a mapping of NAME: regex")
    raw_detectors = data.get("detectors") or []
    if not isinstance(raw_detectors, list):
        raise RuleError(f"{path}: 'detectors' must be a list")
    macros.update({str(k): str(v) for k, v in (data.get("macros") or {}).items()})
    out = []
    for i, raw in enumerate(raw_detectors):
        rid = raw.get("id", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
        try:
            det = Detector.model_validate(raw)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: "
                f"{'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}"
                for e in exc.errors()
            )
            raise RuleError(f"{path}: rule {rid}: {detail}") from None
        expanded = []
        for p in det.patterns:
            regex = _expand(p.regex, macros)
            _check_regex(regex, f"{path}: rule {det.id} pattern {p.name}", det.case_insensitive)
            expanded.append(p.model_copy(update={"regex": regex}))
        if det.engine == "regex" and not expanded and det.enabled:
            raise RuleError(f"{path}: rule {det.id}: a regex detector needs at least one pattern")
        out.append(det.model_copy(update={"patterns": expanded}))
    return out


def load_detectors(paths: list[Path], local_dir: Path | None = None) -> list[Detector]:
    """Load packs in order; the local folder's packs override shipped ones by id."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(x for x in p.glob("*.yaml") if x.name != "policy.yaml"))
        elif p.exists():
            files.append(p)
        else:
            raise RuleError(f"{p}: rule path not found")
    if local_dir is not None:
        if not local_dir.is_dir():
            raise RuleError(f"{local_dir}: local rules folder not found")
        files.extend(sorted(x for x in local_dir.glob("*.yaml") if x.name != "policy.yaml"))
    macros: dict[str, str] = {}
    by_id: dict[str, Detector] = {}
    seen_in: dict[str, Path] = {}
    for f in files:
        for det in _load_file(f, macros):
            if det.id in by_id and seen_in[det.id].parent == f.parent and seen_in[det.id] != f:
                raise RuleError(f"{f}: rule {det.id}: duplicate id (also in {seen_in[det.id]})")
            by_id[det.id] = det
            seen_in[det.id] = f
    return [d for d in by_id.values() if d.enabled]
