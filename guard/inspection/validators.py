"""Validators: checksums and structural rules that turn a weak pattern match into a certain one.

Rule files name them; each takes the compact value (separators removed, upper-cased) and
returns True when the value is plausible. Register new ones with `@validator("name")` (the one
registry of named parts is `guard.inspection.registry`; `REGISTRY` here is its validator table).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections import Counter
from functools import lru_cache

from stdnum import iban as _iban
from stdnum.exceptions import ValidationError as _StdnumError

from guard.inspection.registry import VALIDATORS as REGISTRY
from guard.inspection.registry import Validator, validator

__all__ = ["REGISTRY", "Validator", "validator"]


_NON_DIGIT = re.compile(r"\D+")
_NON_ALNUM = re.compile(r"[\W_]+")


def _digits(value: str) -> str:
    return value if value.isdigit() else _NON_DIGIT.sub("", value)


def _alnum(value: str) -> str:
    return _NON_ALNUM.sub("", value).upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The issuing network for a PAN of this length and prefix, or None."""
    n = len(digits)
    p2, p3, p4, p6 = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= p3 <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if (p2 == 50 or 56 <= p2 <= 69) and 13 <= n <= 19:
        return "maestro"
    if p4 in (2200, 2201, 2202, 2203, 2204) and n == 16:
        return "mir"
    if digits[0] == "1" and n == 15:
        return "uatp"  # Universal Air Travel Plan (airline cards): prefix 1, 15 digits
    return None


@validator("luhn", checksum=True)
def luhn(value: str) -> bool:
    value = _digits(value)
    return value.isdigit() and luhn_ok(value)


@validator("luhn_card", checksum=True)
def luhn_card(value: str) -> bool:
    """Luhn plus a known brand prefix and length; all-same-digit numbers are not cards."""
    value = _digits(value)
    return (
        value.isdigit()
        and 12 <= len(value) <= 19
        and card_brand(value) is not None
        and len(set(value)) > 1
        and luhn_ok(value)
    )


@validator("iban_mod97", checksum=True)
def iban_mod97(value: str) -> bool:
    """ISO 13616: country-specific length and the mod-97 check (python-stdnum)."""
    try:
        _iban.validate(_alnum(value))
    except _StdnumError:
        return False
    return True


@lru_cache(maxsize=256)
def iban_length(country: str) -> int | None:
    """The IBAN length for a country code, from python-stdnum's IBAN registry."""
    info = _iban._ibandb.info(country.upper())  # stdnum has no public accessor for the BBAN structure
    if not info or len(info[0]) < 2 or "bban" not in info[0][1]:
        return None
    return 4 + sum(int(n) for n in re.findall(r"(\d+)!?[nace]", info[0][1]["bban"]))


@validator("aba_checksum", checksum=True)
def aba_checksum(value: str) -> bool:
    """ABA routing transit number: 9 digits, weights 3-7-1, valid Federal Reserve prefix."""
    value = _digits(value)
    if len(value) != 9 or not value.isdigit():
        return False
    prefix = int(value[:2])
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    d = [ord(c) - 48 for c in value]
    total = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])
    return total % 10 == 0 and value != "000000000"


@validator("ssn_rules")
def ssn_rules(value: str) -> bool:
    """SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000."""
    value = _digits(value)
    if len(value) != 9 or not value.isdigit():
        return False
    area, group, serial = value[:3], value[3:5], value[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return value not in ("123456789", "078051120", "219099999")  # advertising and example numbers


@validator("bank_account")
def bank_account(value: str) -> bool:
    """US account numbers are 6-17 digits; runs of one digit are placeholders; a number written
    in the SSN layout (3-2-4) or the phone layout (3-3-4, 3-4) is not taken for an account."""
    groups = [len(g) for g in re.findall(r"\d+", value)]
    if groups in ([3, 2, 4], [3, 3, 4], [3, 4]):
        return False
    value = _digits(value)
    return value.isdigit() and 6 <= len(value) <= 17 and len(set(value)) > 2


@validator("passport")
def passport(value: str) -> bool:
    """6-10 letters and digits with at least one digit (German numbers may have only one or two)."""
    if not value.isalnum() and _parse_date(value.upper()) is not None:
        return False  # "2030-01-01" after "passport expires" is a date, not a number
    value = _alnum(value)
    digits = sum(c.isdigit() for c in value)
    return 6 <= len(value) <= 10 and digits >= 1 and len(set(value)) > 2


@validator("phone_nanp")
def phone_nanp(value: str) -> bool:
    """North American numbers: area and exchange codes do not start with 0 or 1."""
    digits = _digits(re.split(r"X|EXT", value.upper())[0])
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    elif len(digits) == 13 and digits.startswith("001"):
        digits = digits[3:]
    if len(digits) != 10:
        return False
    return digits[0] not in "01" and digits[3] not in "01" and len(set(digits)) > 2


@validator("phone_intl")
def phone_intl(value: str) -> bool:
    import phonenumbers

    digits = "+" + _digits(re.split(r"X|EXT", value.upper())[0])
    try:
        number = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)


_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}


def _year(token: str) -> int:
    y = int(token)
    if len(token) == 2:
        return 1900 + y if y > (_dt.date.today().year % 100) else 2000 + y
    return y


def _parse_date(value: str) -> _dt.date | None:
    """Read a written date: numeric (day/month order guessed safely) or with a month name."""
    nums = re.findall(r"\d+", value)
    month = next((_MONTHS[w[:3]] for w in re.findall(r"[A-Z]{3,}", value.upper()) if w[:3] in _MONTHS), None)
    try:
        if month is not None:
            if len(nums) != 2:
                return None
            day_token, year_token = (nums[0], nums[1]) if len(nums[1]) >= len(nums[0]) else (nums[1], nums[0])
            if len(day_token) > 2:
                return None
            return _dt.date(_year(year_token), month, int(day_token))
        if len(nums) != 3:
            return None
        if len(nums[0]) == 4:
            return _dt.date(int(nums[0]), int(nums[1]), int(nums[2]))
        if len(nums[2]) not in (2, 4):
            return None
        a, b, year = int(nums[0]), int(nums[1]), _year(nums[2])
        if a > 12:
            return _dt.date(year, b, a)
        try:
            return _dt.date(year, a, b)
        except ValueError:
            return _dt.date(year, b, a)
    except ValueError:
        return None


@validator("birth_date")
def birth_date(value: str) -> bool:
    """A real calendar date between 1900 and today."""
    d = _parse_date(value.upper())
    return d is not None and d.year >= 1900 and d <= _dt.date.today()


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


@validator("secret_entropy")
def secret_entropy(value: str) -> bool:
    """Generic secrets: long, mixed, high entropy; hex-only needs >= 32 chars and digits and letters."""
    v = value
    if len(v) < 16:
        return False
    has_digit = any(c.isdigit() for c in v)
    has_alpha = any(c.isalpha() for c in v)
    if not (has_digit and has_alpha):
        return False
    if all(c in "0123456789abcdefABCDEF" for c in v):
        return len(v) >= 32 and shannon_entropy(v.lower()) >= 3.0
    return shannon_entropy(v) >= 3.5


@validator("password_like")
def password_like(value: str) -> bool:
    """A password or shared secret: 6+ characters mixing letters with digits or symbols."""
    v = value.strip("\"'`.,;)")
    if not 6 <= len(v) <= 128 or v.lower() in ("password", "changeme", "required", "redacted"):
        return False
    has_alpha = any(c.isalpha() for c in v)
    has_other = any(not c.isalpha() for c in v)
    return has_alpha and has_other and not v.startswith(("http", "<", "[", "{", "$"))


@validator("aws_key_id")
def aws_key_id(value: str) -> bool:
    """An AWS access key id: a known 4-letter prefix and 16 more capitals or digits, 20 in all
    once a line break inside it is taken out."""
    compact = "".join(value.split()).replace(">", "")
    return re.fullmatch(r"[A-Z0-9]{20}", compact) is not None


@validator("always")
def always(value: str) -> bool:
    return True
