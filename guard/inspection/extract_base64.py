"""Base64 the sender wrote into a text, decoded; and a lenient decoder for base64 parts.

Standard or URL-safe alphabet, padded or not, of any length up to the budget, anywhere in the
text (not only the first tokens): a value base64-encoded by hand or by a script is read. Only
tokens that decode to readable UTF-8 count: keys and hashes, random bytes once decoded, are
left to the detectors as they are.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator

import re2

from guard.model import Segment

# RE2 on bytes (linear, fast on megabytes); the characters around a token are checked in code.
_BASE64_TOKEN = re2.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_B64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")
_UNANCHORED = re2._Anchor.UNANCHORED
_NOT_B64 = re2.compile(r"[^A-Za-z0-9+/]")
MAX_TOKEN = 8 * 1024 * 1024
MAX_DECODED_SEGMENTS = 5_000
MAX_DECODED_CHARS = 16 * 1024 * 1024


def b64decode_lenient(text: str | bytes) -> bytes:
    """Decode base64 as a mail reader does: URL-safe letters mapped, whitespace and stray
    characters dropped, missing padding added. Raises ValueError when nothing sensible is left."""
    s = text.decode("ascii", "ignore") if isinstance(text, bytes) else text
    s = s.split("=", 1)[0] if "=" in s.rstrip("=\r\n\t ") else s.rstrip("=\r\n\t ")
    s = s.replace("-", "+").replace("_", "/")
    s = _NOT_B64.sub("", s)
    if len(s) % 4 == 1:
        s = s[:-1]
    try:
        return base64.b64decode(s + "=" * (-len(s) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc


def _tokens(text: str) -> Iterator[tuple[int, int]]:
    data = text.encode("ascii", "replace")  # one byte per character: offsets stay character offsets
    match = _BASE64_TOKEN._regexp.Match
    pos, end = 0, len(data)
    while pos < end:
        s, e = match(_UNANCHORED, data, pos, end)[0]
        if s < 0:
            break
        pos = e
        if (s and data[s - 1] in _B64_CHARS) or (e < end and data[e] in _B64_CHARS) or e - s > MAX_TOKEN:
            continue
        yield s, e


def _readable(token: str) -> str | None:
    body = token.rstrip("=")
    if len(body) % 4 == 1:
        return None
    # Ordinary long words ("internationalisation") are not base64: ask for a digit, a padding,
    # or one of the letters only encoders write (+ / - _) before decoding.
    if not token.endswith("=") and not any(c.isdigit() or c in "+/-_" for c in body):
        return None
    alphabet = body.replace("-", "+").replace("_", "/")
    try:
        text = base64.b64decode(alphabet + "=" * (-len(alphabet) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
    if len(text) >= 8 and printable >= 0.95 * len(text) and any(c.isalnum() for c in text):
        return text
    return None


def decoded_segments(segments: list[Segment], limit: int = MAX_DECODED_SEGMENTS) -> list[Segment]:
    """Text the sender base64-encoded inside a message ("card (b64): NDExMSAx…"), decoded."""
    out: list[Segment] = []
    chars = 0
    for index, seg in enumerate(segments):
        if seg.kind in ("unscannable", "decoded"):
            continue
        for start, end in _tokens(seg.text):
            text = _readable(seg.text[start:end])
            if text is None:
                continue
            chars += len(text)
            if len(out) >= limit or chars > MAX_DECODED_CHARS:
                return out
            out.append(
                Segment(
                    text=text,
                    source=f"{seg.source} (base64 decoded)",
                    kind="decoded",
                    parent=index,
                    parent_start=start,
                    parent_end=end,
                )
            )
    return out


__all__ = ["b64decode_lenient", "decoded_segments"]
