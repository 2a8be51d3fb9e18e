"""Every sensitive sample value the test suite sends through the guard, in one list.

The leak check (`test_zz_no_leaks.py`, run last) greps everything the guard wrote during the
session — log records, captured log and stderr output, guard subprocess logs, Postfix mail
logs, quarantine database files — for these values in any of their spellings and fails if
one appears in clear. Add a value here when a test starts using a new one.
"""

from __future__ import annotations

import re

CARD = "4111 1111 1111 1111"  # Visa test number
CARD_MC = "5500 0000 0000 0004"  # Mastercard test number
CARD_AMEX = "3782 822463 10005"  # Amex test number
SSN = "591-68-1251"
SSN_OTHER = "078-05-1120"  # the famous Woolworth wallet card number, used by tests/review
IBAN = "GB82 WEST 1234 5698 7654 32"
IBAN_DE = "DE89 3704 0044 0532 0130 00"
AWS_KEY = "AKIA2E5RYT7QKVN3WX4H"
GITHUB_TOKEN = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
PRIVATE_KEY_LINE = "-----BEGIN RSA PRIVATE KEY-----"

#: Values whose appearance anywhere the guard writes counts as a leak.
SAMPLES: tuple[str, ...] = (CARD, CARD_MC, CARD_AMEX, SSN, SSN_OTHER, IBAN, IBAN_DE, AWS_KEY, GITHUB_TOKEN)


def compact(value: str) -> str:
    """The value without spaces or dashes, as it may appear once separators are stripped."""
    return re.sub(r"[\s\-]", "", value)


def spellings(value: str) -> set[str]:
    """The forms a leak could take: as written, compact, dashed, lower case."""
    c = compact(value)
    forms = {value, c, value.lower(), c.lower(), value.replace(" ", "-")}
    return {f for f in forms if len(f) >= 9}


def leak_patterns() -> list[tuple[str, bytes]]:
    """(sample, byte pattern) pairs to search for, UTF-8 and UTF-16 (SQLite may store either)."""
    out: list[tuple[str, bytes]] = []
    for sample in SAMPLES:
        for form in sorted(spellings(sample)):
            out.append((sample, form.encode("utf-8")))
            out.append((sample, form.encode("utf-16-le")))
    return out


def find_leaks(data: bytes) -> list[str]:
    """The samples that appear in `data` in clear (any spelling)."""
    return sorted({sample for sample, pattern in leak_patterns() if pattern in data})
