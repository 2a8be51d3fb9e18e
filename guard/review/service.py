"""Review actions with their rules, shared by the web UI, the JSON API and the CLI.

Roles: viewer (queue and masked detail), reviewer (+ values, release, reject, approve, note),
admin (+ audit verification, retention purge). Four-eyes (`review.four_eyes`): a high-severity
item is released only after an approval by a reviewer other than the one releasing it.
Nobody approves or releases their own message (actor equal to the sender address).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from guard.errors import Forbidden, Reason
from guard.review.release import Outcome, Releaser

if TYPE_CHECKING:
    import logging

    from guard.config import Settings
    from guard.metrics import Metrics
    from guard.store.base import Item, ItemSummary, QuarantineStore, Report

ROLES = ("viewer", "reviewer", "admin")
__all__ = ["ROLES", "Actor", "Forbidden", "ReviewService", "role_at_least"]


def role_at_least(role: str, needed: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: str
    via: str = "web"  # web | api | cli

    @property
    def label(self) -> str:
        """What the audit log records as "who"."""
        return self.name if self.via == "web" else f"{self.via}:{self.name}"


class ReviewService:
    def __init__(
        self,
        settings: Settings,
        store: QuarantineStore,
        *,
        log: logging.Logger | None = None,
        metrics: Metrics | None = None,
        releaser: Releaser | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.releaser = releaser or Releaser(settings, store, log=log, metrics=metrics)

    @staticmethod
    def require(actor: Actor, role: str) -> None:
        if not role_at_least(actor.role, role):
            raise Forbidden(
                f"{actor.name} ({actor.role}) may not do this; it needs the {role} role", reason=Reason.ROLE
            )

    @staticmethod
    def _not_own(actor: Actor, summary: ItemSummary, what: str) -> None:
        if summary.sender and actor.name.strip().lower() == summary.sender.strip().lower():
            raise Forbidden(f"nobody may {what} their own message", reason=Reason.OWN_MESSAGE)

    def needs_second_reviewer(self, summary: ItemSummary, actor: Actor) -> bool:
        if not (self.settings.review.four_eyes and summary.severity == "high"):
            return False
        return not [a for a in summary.approvals if a != actor.label]

    async def view(self, item_id: str, actor: Actor) -> Item:
        """Decrypted item; a reviewer's view of the values is itself audited."""
        self.require(actor, "viewer")
        item = await self.store.get(item_id)
        if role_at_least(actor.role, "reviewer"):
            await self.store.audit(actor.label, "view", item.summary.id, {"role": actor.role})
        return item

    async def release(self, item_id: str, actor: Actor, reason: str = "") -> Outcome:
        self.require(actor, "reviewer")
        summary = await self.store.summary(item_id)
        self._not_own(actor, summary, "release")
        if self.needs_second_reviewer(summary, actor):
            raise Forbidden(
                f"{summary.id} is high severity: a second reviewer must approve it before release",
                reason=Reason.FOUR_EYES,
            )
        return await self.releaser.release(summary.id, actor.label, reason=reason)

    async def approve(self, item_id: str, actor: Actor) -> ItemSummary:
        self.require(actor, "reviewer")
        summary = await self.store.summary(item_id)
        self._not_own(actor, summary, "approve")
        result = await self.store.approve(summary.id, actor.label)
        self._count("approve")
        return result

    async def reject(self, item_id: str, actor: Actor, reason: str = "", *, notify: bool = False) -> bool:
        """Returns whether a notice reached the sender."""
        self.require(actor, "reviewer")
        summary = await self.store.summary(item_id)
        await self.store.reject(summary.id, actor.label, reason)
        self._count("reject")
        if not notify:
            return False
        sent = await self.releaser.notify_rejected(summary, reason)
        await self.store.audit(
            actor.label, "reject_notice" if sent else "reject_notice_failed", summary.id, {}
        )
        return sent

    async def note(self, item_id: str, actor: Actor, note: str) -> None:
        self.require(actor, "reviewer")
        await self.store.add_note(item_id, actor.label, note)
        self._count("note")

    async def purge(self, actor: Actor, older_than_days: int | None = None) -> int:
        self.require(actor, "admin")
        days = self.settings.store.retention_days if older_than_days is None else older_than_days
        n = await self.store.purge_expired(days, actor.label)
        if n:
            self._count("purge", n)
        return n

    async def verify_audit(self, actor: Actor) -> Report:
        self.require(actor, "admin")
        return await self.store.audit_verify()

    def _count(self, action: str, n: int = 1) -> None:
        if self.metrics is not None:
            self.metrics.review_actions.labels(action).inc(n)
