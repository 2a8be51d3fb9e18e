"""Fixtures shared by every test area. Area-specific fixtures live beside the tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from netutil import free_port  # re-exported: some areas import it from here

from guard.config import Settings, load_settings

__all__ = ["free_port"]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on loopback with a private data dir; keyword sections override defaults."""

    def factory(**sections: Any) -> Settings:
        base: dict[str, Any] = {
            "data_dir": str(tmp_path / "var"),
            "org": {"internal_domains": ["example.com"]},
            "smtp": {"listen": "127.0.0.1:0"},
            "http": {"listen": "127.0.0.1:0"},
            "store": {"url": f"sqlite:///{tmp_path}/var/guard.db"},
            "rules": {"hash_key": "test-hash-key"},
            "log": {"format": "json", "level": "INFO"},
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return load_settings(None, **base)

    return factory
