"""National identity numbers: one validator per type, named `nid_<type>` in rules/national_ids.yaml.

Each takes the value as matched (separators allowed) and says whether it is a well-formed number of
its type: python-stdnum's validation (length, embedded date, check digits) where stdnum has the
type, else the documented check written here (UK NINO prefixes, AU Medicare, SG NRIC/FIN). A
validator never decides confidence: structure and cue words do that in the rule pack.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from types import ModuleType

from stdnum.au import tfn as _au_tfn
from stdnum.br import cpf as _br_cpf
from stdnum.ca import sin as _ca_sin
from stdnum.ch import ssn as _ch_ssn
from stdnum.cl import rut as _cl_rut
from stdnum.de import idnr as _de_idnr
from stdnum.dk import cpr as _dk_cpr
from stdnum.es import nie as _es_nie
from stdnum.es import nif as _es_nif
from stdnum.exceptions import ValidationError as _StdnumError
from stdnum.fi import hetu as _fi_hetu
from stdnum.fr import nir as _fr_nir
from stdnum.gb import nhs as _gb_nhs
from stdnum.in_ import aadhaar as _in_aadhaar
from stdnum.in_ import pan as _in_pan
from stdnum.it import codicefiscale as _it_cf
from stdnum.kr import rrn as _kr_rrn
from stdnum.mx import curp as _mx_curp
from stdnum.nl import bsn as _nl_bsn
from stdnum.no import fodselsnummer as _no_fnr
from stdnum.pl import pesel as _pl_pesel
from stdnum.se import personnummer as _se_pnr
from stdnum.tr import tckimlik as _tr_tckn
from stdnum.us import itin as _us_itin
from stdnum.za import idnr as _za_idnr

from guard.inspection.validators import validator

_NON_ALNUM = re.compile(r"[\W_]+")


def compact(value: str) -> str:
    """Letters and digits only, upper-cased: what every check below reads."""
    return _NON_ALNUM.sub("", value).upper()


def _stdnum(module: ModuleType, value: str) -> bool:
    try:
        module.validate(value)
    except (_StdnumError, ValueError):  # stdnum raises ValueError on impossible embedded dates
        return False
    return True


def _not_placeholder(digits: str) -> bool:
    """All one digit, or an ascending run, is a placeholder someone typed, not a number issued."""
    return len(set(digits)) > 2 and digits not in "01234567890123456789"


def _by_stdnum(name: str, module: ModuleType, shape: str) -> Callable[[str], bool]:
    """A validator: the compact value has `shape` (a regex) and stdnum accepts it."""
    pattern = re.compile(shape)

    def check(value: str) -> bool:
        v = compact(value)
        return pattern.fullmatch(v) is not None and _not_placeholder(v) and _stdnum(module, v)

    check.__name__ = name
    check.__doc__ = f"{module.__name__}: {shape} and its check (python-stdnum)"
    return validator(name)(check)


_IT_CF = r"[A-Z]{6}[0-9L-NP-V]{2}[A-EHLMPR-T][0-9L-NP-V]{2}[A-Z][0-9L-NP-V]{3}[A-Z]"  # omocodia letters too

# Types python-stdnum validates: (validator name, module, the compact value's shape).
_STDNUM_TYPES: tuple[tuple[str, ModuleType, str], ...] = (
    ("nid_uk_nhs", _gb_nhs, r"\d{10}"),
    ("nid_ca_sin", _ca_sin, r"[1-79]\d{8}"),  # 0 is not issued, 8 not used
    ("nid_de_tax_id", _de_idnr, r"[1-9]\d{10}"),
    ("nid_fr_nir", _fr_nir, r"[12378]\d{4}(?:\d\d|2A|2B)\d{8}"),
    ("nid_es_nie", _es_nie, r"[XYZ]\d{7}[A-Z]"),
    ("nid_it_fiscal_code", _it_cf, _IT_CF),
    ("nid_nl_bsn", _nl_bsn, r"\d{9}"),
    ("nid_no_fodselsnummer", _no_fnr, r"\d{11}"),
    ("nid_dk_cpr", _dk_cpr, r"[0-3]\d[01]\d{7}"),
    ("nid_in_aadhaar", _in_aadhaar, r"[2-9]\d{11}"),
    ("nid_in_pan", _in_pan, r"[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]"),
    ("nid_au_tfn", _au_tfn, r"\d{8,9}"),
    ("nid_br_cpf", _br_cpf, r"\d{11}"),
    ("nid_mx_curp", _mx_curp, r"[A-Z]{4}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d"),
    ("nid_kr_rrn", _kr_rrn, r"\d{6}[1-8]\d{6}"),
    ("nid_za_id", _za_idnr, r"\d{13}"),
    ("nid_tr_tckn", _tr_tckn, r"[1-9]\d{10}"),
    ("nid_cl_rut", _cl_rut, r"\d{7,8}[0-9K]"),
    ("nid_us_itin", _us_itin, r"9\d{8}"),
    ("nid_ch_ahv", _ch_ssn, r"756\d{10}"),
)
for _name, _module, _shape in _STDNUM_TYPES:
    _by_stdnum(_name, _module, _shape)


@validator("nid_pl_pesel")
def pl_pesel(value: str) -> bool:
    """PESEL: 11 digits, the birth date (century in the month) and the check digit; a date after
    today is no person's number (stdnum checks that for the Norwegian number, not for this one)."""
    v = compact(value)
    if re.fullmatch(r"\d{11}", v) is None or not _not_placeholder(v) or not _stdnum(_pl_pesel, v):
        return False
    return bool(_pl_pesel.get_birth_date(v) <= _dt.date.today())


@validator("nid_es_nif")
def es_nif(value: str) -> bool:
    """Spanish DNI/NIF of a person: 8 digits and the mod-23 letter, or K/L/M + 7 digits + letter
    (the NIE forms X/Y/Z are ES_NIE's; company CIFs are not personal data)."""
    v = compact(value)
    if re.fullmatch(r"(?:\d{8}|[KLM]\d{7})[A-Z]", v) is None or not _not_placeholder(v[-8:-1]):
        return False
    return _stdnum(_es_nif, v)


@validator("nid_se_personnummer")
def se_personnummer(value: str) -> bool:
    """Swedish personal (or coordination) number: YYMMDD-NNNC or YYYYMMDDNNNC, Luhn on the last ten.
    The sign between date and serial ('-', or '+' past 100 years) is kept for stdnum."""
    v = re.sub(r"[^\d+-]", "", value)
    digits = v.replace("-", "").replace("+", "")
    if len(digits) not in (10, 12) or not _not_placeholder(digits):
        return False
    if len(digits) == 12 and digits[:2] not in ("18", "19", "20"):
        return False
    return _stdnum(_se_pnr, v)


@validator("nid_fi_personal_id")
def fi_personal_id(value: str) -> bool:
    """Finnish henkilötunnus DDMMYYCZZZQ: the century sign C (+, -, A-F, U-Y) is part of the number."""
    v = value.strip().upper()
    return re.fullmatch(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]", v) is not None and _stdnum(_fi_hetu, v)


# -- checks stdnum does not have -------------------------------------------------------------------
_NINO = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")


@validator("nid_uk_nino")
def uk_nino(value: str) -> bool:
    """UK National Insurance number (HMRC NIM39110): two prefix letters (D, F, I, Q, U, V never;
    O not second; BG, GB, KN, NK, NT, TN, ZZ not allocated), six digits, suffix A-D."""
    v = compact(value)
    return _NINO.fullmatch(v) is not None and _not_placeholder(v[2:8])


@validator("nid_au_medicare")
def au_medicare(value: str) -> bool:
    """Australian Medicare card number: 10 digits (an 11th, the individual reference number, may
    follow); first digit 2-6; the ninth is sum(d1..d8 * 1,3,7,9,1,3,7,9) mod 10; the tenth (issue
    number) is not 0."""
    v = compact(value)
    if not v.isdigit() or len(v) not in (10, 11) or v[0] not in "23456" or v[9] == "0":
        return False
    if len(v) == 11 and v[10] == "0":
        return False
    total = sum(int(d) * w for d, w in zip(v[:8], (1, 3, 7, 9, 1, 3, 7, 9), strict=True))
    return total % 10 == int(v[8]) and _not_placeholder(v[:9])


_NRIC_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)
_NRIC_LETTERS = {
    "ST": "JZIHGFEDCBA",  # citizens and permanent residents (S: before 2000, T: from 2000)
    "FG": "XWUTRQPNMLK",  # foreigners (FIN)
    "M": "XWUTRQPNJLK",  # foreigners, from 2022
}


@validator("nid_sg_nric")
def sg_nric(value: str) -> bool:
    """Singapore NRIC/FIN: S/T/F/G/M, seven digits, check letter from the weighted digit sum
    (weights 2,7,6,5,4,3,2; +4 for T and G, +3 for M) mod 11 into the series' letter table."""
    v = compact(value)
    if re.fullmatch(r"[STFGM]\d{7}[A-Z]", v) is None or not _not_placeholder(v[1:8]):
        return False
    total = sum(int(d) * w for d, w in zip(v[1:8], _NRIC_WEIGHTS, strict=True))
    total += {"T": 4, "G": 4, "M": 3}.get(v[0], 0)
    table = next(t for k, t in _NRIC_LETTERS.items() if v[0] in k)
    return table[total % 11] == v[8]


def check_letter_sg(prefix: str, digits: str) -> str:
    """The NRIC/FIN check letter for `prefix` + seven `digits` (for test data generators)."""
    total = sum(int(d) * w for d, w in zip(digits, _NRIC_WEIGHTS, strict=True))
    total += {"T": 4, "G": 4, "M": 3}.get(prefix, 0)
    return next(t for k, t in _NRIC_LETTERS.items() if prefix in k)[total % 11]


def medicare_check_digit(first8: str) -> str:
    """The Medicare check digit for the first eight digits (for test data generators)."""
    return str(sum(int(d) * w for d, w in zip(first8, (1, 3, 7, 9, 1, 3, 7, 9), strict=True)) % 10)


#: Entity types of the pack, with the validator each is checked by (the rule pack names them).
NATIONAL_ID_TYPES: dict[str, str] = {
    "UK_NINO": "nid_uk_nino",
    "UK_NHS": "nid_uk_nhs",
    "CA_SIN": "nid_ca_sin",
    "DE_TAX_ID": "nid_de_tax_id",
    "FR_NIR": "nid_fr_nir",
    "ES_NIF": "nid_es_nif",
    "ES_NIE": "nid_es_nie",
    "IT_FISCAL_CODE": "nid_it_fiscal_code",
    "NL_BSN": "nid_nl_bsn",
    "PL_PESEL": "nid_pl_pesel",
    "SE_PERSONNUMMER": "nid_se_personnummer",
    "FI_PERSONAL_ID": "nid_fi_personal_id",
    "NO_FODSELSNUMMER": "nid_no_fodselsnummer",
    "DK_CPR": "nid_dk_cpr",
    "IN_AADHAAR": "nid_in_aadhaar",
    "IN_PAN": "nid_in_pan",
    "AU_TFN": "nid_au_tfn",
    "AU_MEDICARE": "nid_au_medicare",
    "BR_CPF": "nid_br_cpf",
    "MX_CURP": "nid_mx_curp",
    "SG_NRIC": "nid_sg_nric",
    "KR_RRN": "nid_kr_rrn",
    "ZA_ID": "nid_za_id",
    "TR_TCKN": "nid_tr_tckn",
    "CL_RUT": "nid_cl_rut",
    "US_ITIN": "nid_us_itin",
    "CH_AHV": "nid_ch_ahv",
}


# -- passports ------------------------------------------------------------------------------------
_DE_PASSPORT = re.compile(r"[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8}\d?")
_KR_PASSPORT = re.compile(r"[MRSOD]\d{3}[A-Z]\d{4}")


@validator("passport_structure")
def passport_structure(value: str) -> bool:
    """A passport number in a structure nothing else shares, trusted without a cue: a German
    number (9 characters of the Bundesdruckerei alphabet CFGHJKLMNPRTVWXYZ0-9, optional check digit)
    with letters among its digits, or a Korean number of the 2021 series (M123A4567)."""
    v = value.upper()
    if _KR_PASSPORT.fullmatch(v):
        return _not_placeholder(v[1:4] + v[5:])
    if not _DE_PASSPORT.fullmatch(v):
        return False
    body = v[1:9]
    letters = sum(c.isalpha() for c in body)
    # Chip and part names ("LPC47N217") open with a run of letters; passport numbers do not.
    return (
        1 <= letters <= 3
        and sum(c.isdigit() for c in body) >= 5
        and not v[:3].isalpha()
        and _not_placeholder(v)
    )
