"""E2E fixtures (Chromium drives the review UI): a running guard with users, tokens and sinks."""

from __future__ import annotations

# Some tests elsewhere do `from conftest import free_port`; "conftest" is whichever conftest
# module pytest imported last, so every conftest offers it.
from quarantine_helpers import (  # noqa: F401  (fixtures)
    free_port,
    make_guard,
    pg_cluster,
    review_users,
    shared_inspector,
    smtp_sink,
    webhook_sink,
)
