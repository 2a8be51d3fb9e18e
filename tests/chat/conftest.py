"""Chat proxy fixtures (defined in chat_env.py, shared with tests/api)."""

from chat_env import inspector, start_guard, upstreams  # noqa: F401  (fixtures)
