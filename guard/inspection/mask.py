"""Masked previews and keyed hashes: the only forms in which a found value leaves inspection."""

from __future__ import annotations

import hashlib
import re

_NON_ALNUM = re.compile(r"[\W_]+")


def value_hash(key: bytes, entity_type: str, compact_value: str) -> str:
    """Keyed BLAKE2b (a MAC) of the compact value, so the same card can be correlated across
    messages without the value being recoverable by anyone who lacks the key."""
    mac = hashlib.blake2b(f"{entity_type}:{compact_value}".encode(), key=key[:64], digest_size=12)
    return "h:" + mac.hexdigest()


def _keep_last(value: str, n: int) -> str:
    """Mask every alphanumeric character but the last n, keeping the writer's separators."""
    alnum_total = sum(c.isalnum() for c in value)
    out = []
    seen = 0
    for c in value:
        if c.isalnum():
            seen += 1
            out.append(c if seen > alnum_total - n else "*")
        elif c in " -./":
            out.append(c)
    return "".join(out)


def preview(entity_type: str, text: str) -> str:
    """A masked preview of the matched text that is useless to a thief and useful to a reviewer."""
    compact = _NON_ALNUM.sub("", text)
    if entity_type == "CREDIT_CARD":
        return "**** **** **** " + compact[-4:] if len(compact) >= 12 else "****"
    if entity_type in ("US_SSN",):
        return "***-**-" + compact[-4:] if len(compact) == 9 else "***"
    if entity_type == "IBAN":
        return compact[:2].upper() + "** **** " + compact[-4:] if len(compact) > 8 else "****"
    if entity_type in ("US_BANK_ACCOUNT", "ABA_ROUTING", "PASSPORT"):
        return "*" * max(len(compact) - 2, 3) + compact[-2:]
    if entity_type == "API_KEY":
        if text.startswith("-----BEGIN"):
            return text.split("-----")[1].strip()[:40] + " [redacted]"
        return (compact[:4] + "…[redacted]") if len(compact) > 12 else "[redacted]"
    if entity_type == "EMAIL":
        local, _, domain = text.partition("@")
        return (local[:1] + "***@" + domain) if domain else "***"
    if entity_type == "PHONE":
        return _keep_last(text, 2)
    if entity_type == "DATE_OF_BIRTH":
        return "**/**/****"
    if entity_type == "PERSON":
        return " ".join(p[:1] + "." for p in text.split() if p)
    if entity_type == "ADDRESS":
        return "[address]"
    return "[redacted]"


def redaction(entity_type: str) -> str:
    """What replaces a value in a redacted message."""
    return f"[{entity_type} redacted]"
