"""Masking in one place: masked previews and keyed hashes (the only forms in which a found
value leaves inspection), the placeholder of a redacted value, and how texts shown masked
(queue subjects, the review's masked view) hide values found elsewhere and long digit runs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping

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


def _card(text: str, compact: str) -> str:
    return "**** **** **** " + compact[-4:] if len(compact) >= 12 else "****"


def _ssn(text: str, compact: str) -> str:
    return "***-**-" + compact[-4:] if len(compact) == 9 else "***"


def _iban(text: str, compact: str) -> str:
    return compact[:2].upper() + "** **** " + compact[-4:] if len(compact) > 8 else "****"


def _last2(text: str, compact: str) -> str:
    return "*" * max(len(compact) - 2, 3) + compact[-2:]


def _secret(text: str, compact: str) -> str:
    if text.startswith("-----BEGIN"):
        return text.split("-----")[1].strip()[:40] + " [redacted]"
    return (compact[:4] + "…[redacted]") if len(compact) > 12 else "[redacted]"


def _email(text: str, compact: str) -> str:
    local, _, domain = text.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def _initials(text: str, compact: str) -> str:
    return " ".join(p[:1] + "." for p in text.split() if p)


#: Mask styles a detector may name in its `mask:` field.
MASKS: dict[str, Callable[[str, str], str]] = {
    "card": _card,
    "ssn": _ssn,
    "iban": _iban,
    "last2": _last2,
    "secret": _secret,
    "email": _email,
    "phone": lambda text, compact: _keep_last(text, 2),
    "date": lambda text, compact: "**/**/****",
    "initials": _initials,
    "address": lambda text, compact: "[address]",
    "redacted": lambda text, compact: "[redacted]",
}
#: The style used when a detector names none.
TYPE_MASKS: dict[str, str] = {
    "CREDIT_CARD": "card",
    "US_SSN": "ssn",
    "IBAN": "iban",
    "US_BANK_ACCOUNT": "last2",
    "ABA_ROUTING": "last2",
    "PASSPORT": "last2",
    "API_KEY": "secret",
    "EMAIL": "email",
    "PHONE": "phone",
    "DATE_OF_BIRTH": "date",
    "PERSON": "initials",
    "ADDRESS": "address",
}


def preview(entity_type: str, text: str, mask: str | None = None) -> str:
    """A masked preview of the matched text that is useless to a thief and useful to a reviewer.
    `mask` names a style in `MASKS` (a detector's `mask:` field); by default the type's style."""
    style = MASKS[mask or TYPE_MASKS.get(entity_type, "redacted")]
    return style(text, _NON_ALNUM.sub("", text))


def redaction(entity_type: str) -> str:
    """What replaces a value in a redacted message."""
    return f"[{entity_type} redacted]"


#: Six or more digits, maybe separated: starred in texts shown masked even when no rule matched.
DIGIT_RUN = re.compile(r"\d(?:[\s.\-]?\d){5,}")


def mask_known(text: str, values: Mapping[str, str]) -> str:
    """`text` shown masked: each value found anywhere in the message (3+ characters) replaced by
    its stand-in, longest first, and every long digit run starred (better too much than a leak)."""
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, values[value])
    return DIGIT_RUN.sub(lambda m: "*" * len(m.group()), text)
