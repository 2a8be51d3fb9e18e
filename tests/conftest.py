"""Fixtures shared by every test area. Area-specific fixtures live beside the tests."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from guard.config import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
