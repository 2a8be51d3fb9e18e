"""Prometheus metrics. The registry is passed in, so tests never collide.

Labels are bounded sets only (channel, audience, action, entity type, reply class):
never an address, domain, URL, subject or value.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from guard import __version__
from guard.model import ENTITY_TYPES, Action, Audience, Channel

_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """Every metric the guard exports, created on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "guard_messages", "Messages decided, by channel, audience and action.",
            ["channel", "audience", "action"], registry=r,
        )
        self.findings = Counter(
            "guard_findings", "Sensitive values found, by channel and entity type.", ["channel", "type"], registry=r,
        )
        self.inspection_seconds = Histogram(
            "guard_inspection_duration_seconds", "Time spent inspecting one message.", ["channel"],
            buckets=_DURATION_BUCKETS, registry=r,
        )
        self.inspection_errors = Counter(
            "guard_inspection_errors", "Inspections that failed and were failed closed.", ["channel"], registry=r,
        )
        self.upstream_seconds = Histogram(
            "guard_upstream_duration_seconds", "Upstream round trip (relay or webhook).", ["channel"],
            buckets=_DURATION_BUCKETS, registry=r,
        )
        self.upstream_replies = Counter(
            "guard_upstream_replies", "Upstream outcomes by reply class.", ["channel", "class"], registry=r,
        )
        self.upstream_up = Gauge(
            "guard_upstream_up", "1 if the last upstream attempt succeeded.", ["channel"], registry=r,
        )
        self.smtp_connections = Counter(
            "guard_smtp_connections", "SMTP connections accepted.", ["tls"], registry=r,
        )
        self.smtp_auth_failures = Counter(
            "guard_smtp_auth_failures", "Failed SMTP AUTH attempts.", registry=r,
        )
        self.smtp_relay_denied = Counter(
            "guard_smtp_relay_denied", "Recipients refused because the client may not relay.", registry=r,
        )
        self.quarantine_items = Gauge(
            "guard_quarantine_items", "Quarantine items by status.", ["status"], registry=r,
        )
        self.quarantine_oldest_age = Gauge(
            "guard_quarantine_oldest_held_age_seconds", "Age of the oldest held item.", registry=r,
        )
        self.review_actions = Counter(
            "guard_review_actions", "Reviewer actions by kind.", ["action"], registry=r,
        )
        self.build_info = Gauge("guard_build_info", "Build information.", ["version"], registry=r)
        self.build_info.labels(__version__).set(1)
        self._initialise()

    def _initialise(self) -> None:
        """Create known label combinations at zero so rates exist from the first scrape."""
        for channel in Channel:
            self.inspection_errors.labels(channel.value)
            self.inspection_seconds.labels(channel.value)
            for audience in Audience:
                for action in Action:
                    self.messages.labels(channel.value, audience.value, action.value)
            for entity in ENTITY_TYPES:
                self.findings.labels(channel.value, entity)
        for channel in ("smtp", "chat"):
            self.upstream_seconds.labels(channel)
            for klass in ("2xx", "4xx", "5xx", "error"):
                self.upstream_replies.labels(channel, klass)
        for tls in ("yes", "no"):
            self.smtp_connections.labels(tls)
        for action in ("release", "reject", "note", "release_failed", "purge"):
            self.review_actions.labels(action)

    def count_verdict(self, channel: str, audience: str, action: str, types: dict[str, int]) -> None:
        self.messages.labels(channel, audience, action).inc()
        for entity, n in types.items():
            self.findings.labels(channel, entity).inc(n)
