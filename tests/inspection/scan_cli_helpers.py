"""A shared inspector for CLI-level tests that need a Verdict without a subprocess."""

from __future__ import annotations

import tempfile
from functools import lru_cache

from guard.config import load_settings
from guard.inspection import Inspector
from guard.model import Audience, Channel, OutboundMessage, Verdict


@lru_cache(maxsize=1)
def _inspector() -> Inspector:
    return Inspector.from_settings(load_settings(None, data_dir=tempfile.mkdtemp(), rules={"hash_key": "t"}))


def inspect_eml(raw: bytes) -> Verdict:
    return _inspector().inspect(OutboundMessage(channel=Channel.API, raw=raw, audience=Audience.EXTERNAL))
