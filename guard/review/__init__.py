"""Security-team review of the quarantine: web UI, JSON API, CLI, and the one release path."""
