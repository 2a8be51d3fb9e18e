"""Structured logging: one JSON line per event, or a plain line for a terminal.

Callers pass facts in `extra=`; nothing that could hold a sensitive value (message text,
finding values) may be passed. Previews and hashes are fine.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from guard.config import LogSettings

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__
        return json.dumps(out, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")
        )
        ts = time.strftime("%H:%M:%S", time.localtime(record.created))
        err = f" error={record.exc_info[0].__name__}" if record.exc_info and record.exc_info[0] else ""
        return f"{ts} {record.levelname:<7} {record.getMessage()} {extras}{err}".rstrip()


def get_logger(name: str, settings: LogSettings | None = None, stream: Any = None) -> logging.Logger:
    """Configure and return the guard's logger (idempotent)."""
    settings = settings or LogSettings()
    logger = logging.getLogger(name)
    logger.setLevel(settings.level)
    logger.propagate = False
    for h in list(logger.handlers):
        if getattr(h, "_guard", False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else PlainFormatter())
    handler._guard = True  # type: ignore[attr-defined]  # marks our own handler for reconfiguration
    logger.addHandler(handler)
    return logger
