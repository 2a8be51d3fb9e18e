"""Parse a webhook request body the way the real services accept it, but stricter.

The guard scans what it parsed and forwards the original bytes, so any difference between
our reading and the upstream's reading is a way to smuggle data past the scan. Therefore:
strict UTF-8, no duplicate object keys, no files. Error messages name the problem and the
position, never a value from the body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from guard.errors import PayloadError

__all__ = ["FORM", "Parsed", "PayloadError", "loads_strict", "parse_body"]

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed body: the JSON payload plus, for forms, the other form fields."""

    payload: Any
    kind: str  # json | form
    form_fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # non-`payload` fields

    def encode(self, payload: Any, form_fields: tuple[tuple[str, str], ...] | None = None) -> bytes:
        """Serialise a (redacted) payload in the same shape it came in."""
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        if self.kind == "json":
            return data.encode("utf-8")
        fields = list(self.form_fields if form_fields is None else form_fields)
        return urlencode([("payload", data), *fields]).encode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # The key itself may be data (generic JSON), so it is not echoed.
            raise PayloadError("duplicate key in a JSON object; the upstream might read a different value")
        out[key] = value
    return out


def loads_strict(data: bytes | str) -> Any:
    """json.loads with strict UTF-8 and duplicate keys refused."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise PayloadError(f"request body is not valid UTF-8 (byte offset {exc.start})") from None
    if not text.strip():
        raise PayloadError("request body is empty; expected a JSON payload")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise PayloadError("request body is nested too deeply") from None
    except PayloadError:  # from the duplicate-key hook: already says what is wrong
        raise
    except ValueError:  # e.g. an integer longer than Python's 4300-digit conversion limit
        raise PayloadError("request body holds a number too long to read") from None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_body(body: bytes, content_type: str | None) -> Parsed:
    """JSON, or a form whose `payload` field holds JSON (Slack, Mattermost)."""
    media = _media_type(content_type)
    if media.startswith("multipart/"):
        raise PayloadError(
            "multipart bodies (file uploads) are not accepted through the guard; send a JSON payload",
            status=415,
            error="unsupported_media_type",
        )
    if media == FORM or (not media and body.lstrip().startswith(b"payload=")):
        return _parse_form(body)
    return Parsed(payload=loads_strict(body), kind="json")


def _parse_form(body: bytes) -> Parsed:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"form body is not URL-encoded ASCII (byte offset {exc.start})") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("form body is not valid application/x-www-form-urlencoded data") from None
    payloads = [v for k, v in pairs if k == "payload"]
    if len(payloads) > 1:
        raise PayloadError("form body has more than one payload field")
    others = tuple((k, v) for k, v in pairs if k != "payload")
    if not payloads:
        raise PayloadError("form body has no payload field; expected payload=<JSON>")
    return Parsed(payload=loads_strict(payloads[0]), kind="form", form_fields=others)
