"""Severity of a held item: one pure rule, its levels from the rules data.

Reviewers sort by it and four-eyes release applies to `high`. The levels per entity type come
from the policy file's `severity:` table (an unlisted type is `medium`); a detector's own
`severity:` field sets the level for its type (the highest, when several detectors of one type
set one). Nothing found is `low`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from guard.inspection.rules import Detector

Severity = Literal["low", "medium", "high"]
LEVELS: tuple[Severity, ...] = ("low", "medium", "high")
DEFAULT_LEVEL: Severity = "medium"


def severity(types: Iterable[str], levels: Mapping[str, Severity]) -> Severity:
    """The level of an item holding findings of `types` (a list, or a type -> count mapping):
    the highest level among them; `low` when there are none."""
    found = [levels.get(t, DEFAULT_LEVEL) for t in types]
    return max(found, key=LEVELS.index, default="low")


def severity_levels(
    policy_levels: Mapping[str, Severity], detectors: Iterable[Detector]
) -> dict[str, Severity]:
    """Type -> level: the policy's table, with the level each detector sets for its type."""
    levels: dict[str, Severity] = dict(policy_levels)
    own: dict[str, Severity] = {}
    for det in detectors:
        if det.severity is not None:
            prev = own.get(det.type)
            own[det.type] = det.severity if prev is None else max(prev, det.severity, key=LEVELS.index)
    levels.update(own)
    return levels
