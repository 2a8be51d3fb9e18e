"""The JSON error body every HTTP adapter answers with: `{"error": code, "message": text, ...}`.

Its own module so adapters need not import the HTTP app that mounts them (no import cycle).
"""

from __future__ import annotations

from aiohttp import web


def json_error(status: int, error: str, message: str, **extra: object) -> web.Response:
    body = {"error": error, "message": message, **extra}
    return web.json_response(body, status=status)
