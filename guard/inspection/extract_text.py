"""Bytes to text: charsets, byte-order marks and wide (UTF-16/UTF-32) text without a label.

PowerShell's `Out-File` and Excel's "Unicode text" export write UTF-16 with or without a BOM;
read as Latin-1 every other character is a NUL and no number is found. A BOM, else the pattern
of NUL bytes in the first few KiB, chooses the decoding; then the declared charset, UTF-8, and
Latin-1 (every byte decodes; digits and ASCII stay exact).
"""

from __future__ import annotations

import json
from email.header import decode_header, make_header

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_SAMPLE = 4096


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark names (a weak claim: `decode_text` checks it)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def wide_encoding(data: bytes) -> str | None:
    """UTF-16/32 without a BOM, recognised by where the NUL bytes fall (mostly-ASCII text)."""
    sample = data[:_SAMPLE]
    n = len(sample) - len(sample) % 4
    if n < 8 or b"\x00" not in sample:
        return None
    zero = [sample[k:n:4].count(0) for k in range(4)]
    quarter = n // 4
    high = 0.9 * quarter
    low = 0.1 * quarter
    if zero[1] >= high and zero[2] >= high and zero[3] >= high and zero[0] <= low:
        return "utf-32-le"
    if zero[0] >= high and zero[1] >= high and zero[2] >= high and zero[3] <= low:
        return "utf-32-be"
    odd, even = zero[1] + zero[3], zero[0] + zero[2]
    if odd >= 0.6 * (n // 2) and even <= 0.1 * (n // 2):
        return "utf-16-le"
    if even >= 0.6 * (n // 2) and odd <= 0.1 * (n // 2):
        return "utf-16-be"
    return None


def decode_text(payload: bytes, charset: str | None = None) -> str:
    """The text a reader sees in these bytes (never raises).

    A UTF-16/32 byte-order mark alone is weak evidence: two bytes a sender can put in front of
    8-bit text. When the bytes after it do not show the wide NUL pattern, both readings are
    returned, one per line, so a number is never hidden by a stray mark (fail closed).
    """
    marked = bom_encoding(payload)
    if marked and marked != "utf-8-sig":
        wide_reading = payload.decode(marked, "replace")
        bom_len = 4 if marked == "utf-32" else 2
        if wide_encoding(payload[bom_len:]):
            return wide_reading
        return wide_reading + "\n" + _eight_bit(payload[bom_len:], charset)
    wide = marked or wide_encoding(payload)
    if wide:
        return payload.decode(wide, "replace")
    return _eight_bit(payload, charset)


def _eight_bit(payload: bytes, charset: str | None) -> str:
    """The declared charset, else UTF-8, else Latin-1 (every byte decodes; ASCII stays exact)."""
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        try:
            return payload.decode(cs)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return payload.decode("latin-1")


def looks_textual(data: bytes) -> bool:
    """Text a person could read: UTF-8 (or ASCII) without NULs, or marked/patterned wide text."""
    if bom_encoding(data) or wide_encoding(data):
        return True
    sample = data[:_SAMPLE]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4  # cut in the middle of a character


def decode_header_value(value: object) -> str:
    """RFC 2047 encoded words decoded; anything undecodable kept as it came."""
    text = str(value)
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text


def json_text(text: str) -> str:
    """Every string and number in a JSON document, one per line (keys kept as context)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    lines: list[str] = []

    def walk(v: object, key: str = "", depth: int = 0) -> None:
        if depth > 64:
            return
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, str(k), depth + 1)
        elif isinstance(v, list):
            for x in v:
                walk(x, key, depth + 1)
        elif isinstance(v, str | int | float) and not isinstance(v, bool):
            lines.append(f"{key}: {v}" if key else str(v))

    walk(value)
    return "\n".join(lines)


__all__ = [
    "bom_encoding",
    "decode_header_value",
    "decode_text",
    "json_text",
    "looks_textual",
    "wide_encoding",
]
