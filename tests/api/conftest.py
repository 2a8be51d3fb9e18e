"""Check API fixtures: the chat area's guard factory and upstreams (tests/chat/chat_env.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "chat"))

from chat_env import inspector, start_guard, upstreams  # noqa: F401  (fixtures)
