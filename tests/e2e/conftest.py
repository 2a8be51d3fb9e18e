"""E2E fixtures (Chromium drives the review UI): a running guard with users, tokens and sinks."""

from __future__ import annotations

from quarantine_helpers import (  # noqa: F401  (fixtures)
    make_guard,
    pg_cluster,
    review_users,
    shared_inspector,
    smtp_sink,
    webhook_sink,
)
