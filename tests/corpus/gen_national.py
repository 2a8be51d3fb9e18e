"""A seeded generator of national ID numbers, phones and passports in messages, with near misses.

Every number is made here: random digits, then the check digits python-stdnum (or the documented
algorithm) computes, so the values are valid by construction and belong to nobody in particular.
Each positive is written as people write it (the documented separators, plain digits, lower case)
inside a phrasing in one of the seven languages customers write in (en, de, fr, es, it, pt, nl) or
the number's own country language. Near misses are the same numbers with one check digit changed
(so the validator must fail them), and look-alikes the detectors must leave alone.

    python tests/corpus/gen_national.py --seed 7 --per-type 40 > /tmp/national.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import string
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stdnum import luhn, verhoeff
from stdnum.au import tfn
from stdnum.br import cpf
from stdnum.ch import ssn as ahv
from stdnum.cl import rut
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.iso7064 import mod_11_10
from stdnum.it import codicefiscale
from stdnum.kr import rrn
from stdnum.mx import curp
from stdnum.nl import bsn
from stdnum.no import fodselsnummer
from stdnum.pl import pesel
from stdnum.tr import tckimlik

from guard.inspection.national_ids import check_letter_sg, medicare_check_digit

DIGITS = string.digits
UPPER = string.ascii_uppercase


@dataclass(frozen=True)
class Number:
    """A generated value: its compact form and the written forms to use in text."""

    type: str
    compact: str
    written: tuple[str, ...]  # forms as people write them; the first is the canonical one


def _d(rng: random.Random, n: int, first: str = DIGITS) -> str:
    return rng.choice(first) + "".join(rng.choice(DIGITS) for _ in range(n - 1))


def _date(rng: random.Random, lo: int = 1940, hi: int = 2004) -> dt.date:
    start = dt.date(lo, 1, 1).toordinal()
    return dt.date.fromordinal(rng.randint(start, dt.date(hi, 12, 28).toordinal()))


def _complete(body: str, valid: Callable[[str], bool], alphabet: str = DIGITS, width: int = 1) -> str | None:
    """`body` + the check characters that make `valid` pass (None when no suffix does)."""
    import itertools

    for suffix in itertools.product(alphabet, repeat=width):
        value = body + "".join(suffix)
        if valid(value):
            return value
    return None


def _varied(rng: random.Random, n: int) -> str:
    """n digits, not all the same and not an ascending run (validators reject placeholders)."""
    while True:
        v = _d(rng, n)
        if len(set(v)) > 3:
            return v


# -- one generator per type ----------------------------------------------------------------------
def uk_nino(rng: random.Random) -> Number:
    first = "ABCEGHJKLMNOPRSTWXYZ"
    second = "ABCEGHJKLMNPRSTWXYZ"
    while True:
        prefix = rng.choice(first) + rng.choice(second)
        if prefix not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
            break
    d = _varied(rng, 6)
    s = rng.choice("ABCD")
    return Number("UK_NINO", prefix + d + s, (f"{prefix} {d[:2]} {d[2:4]} {d[4:]} {s}", prefix + d + s))


def uk_nhs(rng: random.Random) -> Number:
    while True:
        body = _varied(rng, 9)
        check = 11 - sum(int(c) * (10 - i) for i, c in enumerate(body)) % 11
        if check == 10:
            continue
        v = body + str(0 if check == 11 else check)
        assert nhs.is_valid(v)
        return Number("UK_NHS", v, (f"{v[:3]} {v[3:6]} {v[6:]}", v, f"{v[:3]}-{v[3:6]}-{v[6:]}"))


def ca_sin(rng: random.Random) -> Number:
    body = _d(rng, 8, "1234567")
    v = body + luhn.calc_check_digit(body)
    return Number("CA_SIN", v, (f"{v[:3]} {v[3:6]} {v[6:]}", f"{v[:3]}-{v[3:6]}-{v[6:]}", v))


def de_tax_id(rng: random.Random) -> Number:
    while True:
        digits = rng.sample(DIGITS, 9)
        if digits[0] == "0":
            continue
        dup = rng.choice(digits)
        body = [*digits, dup]
        rng.shuffle(body)
        if body[0] == "0":
            continue
        b = "".join(body)
        v = b + mod_11_10.calc_check_digit(b)
        return Number("DE_TAX_ID", v, (f"{v[:2]} {v[2:5]} {v[5:8]} {v[8:]}", v))


def fr_nir(rng: random.Random) -> Number:
    born = _date(rng)
    dept = f"{rng.randint(1, 95):02d}"
    if dept == "20":
        dept = "2A"
    body = f"{rng.choice('12')}{born.year % 100:02d}{born.month:02d}{dept}{_d(rng, 3)}{_d(rng, 3)}"
    v = body + nir.calc_check_digits(body)
    spaced = f"{v[0]} {v[1:3]} {v[3:5]} {v[5:7]} {v[7:10]} {v[10:13]} {v[13:]}"
    return Number("FR_NIR", v, (spaced, v))


def es_nif(rng: random.Random) -> Number:
    body = _varied(rng, 8)
    v = body + dni.calc_check_digit(body)
    return Number(
        "ES_NIF", v, (v, f"{body}-{v[-1]}", f"{body[:2]}.{body[2:5]}.{body[5:]}-{v[-1]}", v.lower())
    )


def es_nie(rng: random.Random) -> Number:
    body = rng.choice("XYZ") + _varied(rng, 7)
    v = body + nie.calc_check_digit(body)
    return Number("ES_NIE", v, (v, f"{v[0]}-{v[1:8]}-{v[8]}", v.lower()))


_MONTH_LETTERS = "ABCDEHLMPRST"


def it_fiscal_code(rng: random.Random) -> Number:
    born = _date(rng)
    day = born.day + (40 if rng.random() < 0.5 else 0)
    body = (
        "".join(rng.choice("BCDFGLMNPRSTVZ") for _ in range(6))
        + f"{born.year % 100:02d}{_MONTH_LETTERS[born.month - 1]}{day:02d}"
        + rng.choice("ABCDEFGHL")
        + _d(rng, 3)
    )
    v = body + codicefiscale.calc_check_digit(body)
    return Number("IT_FISCAL_CODE", v, (v, v.lower()))


def nl_bsn(rng: random.Random) -> Number:
    while True:
        v = _varied(rng, 9)
        if bsn.is_valid(v):
            return Number("NL_BSN", v, (v, f"{v[:4]}.{v[4:6]}.{v[6:]}", f"{v[:3]} {v[3:6]} {v[6:]}"))


def pl_pesel(rng: random.Random) -> Number:
    born = _date(rng, 1950, 2015)
    month = born.month + (20 if born.year >= 2000 else 0)
    body = f"{born.year % 100:02d}{month:02d}{born.day:02d}{_d(rng, 4)}"
    v = body + pesel.calc_check_digit(body)
    return Number("PL_PESEL", v, (v,))


def se_personnummer(rng: random.Random) -> Number:
    born = _date(rng)
    body = f"{born.year % 100:02d}{born.month:02d}{born.day:02d}{_d(rng, 3)}"
    v = body + luhn.calc_check_digit(body)
    return Number(
        "SE_PERSONNUMMER", v, (f"{v[:6]}-{v[6:]}", f"{born.year}{v[2:6]}-{v[6:]}", f"{born.year}{v[2:]}")
    )


def fi_personal_id(rng: random.Random) -> Number:
    born = _date(rng, 1940, 2015)
    sign = "-" if born.year < 2000 else "A"
    serial = f"{rng.randint(2, 899):03d}"
    body = f"{born.day:02d}{born.month:02d}{born.year % 100:02d}{sign}{serial}"
    v = _complete(body, hetu.is_valid, "0123456789ABCDEFHJKLMNPRSTUVWXY")
    assert v is not None
    return Number("FI_PERSONAL_ID", v, (v,))


def no_fodselsnummer(rng: random.Random) -> Number:
    while True:
        born = _date(rng, 1940, 1999)
        serial = f"{rng.randint(0, 499):03d}"
        body = f"{born.day:02d}{born.month:02d}{born.year % 100:02d}{serial}"
        c1 = fodselsnummer.calc_check_digit1(body)
        if len(c1) != 1:
            continue
        c2 = fodselsnummer.calc_check_digit2(body + c1)
        if len(c2) != 1:
            continue
        v = body + c1 + c2
        if fodselsnummer.is_valid(v):
            return Number("NO_FODSELSNUMMER", v, (f"{v[:6]} {v[6:]}", v))


def dk_cpr(rng: random.Random) -> Number:
    born = _date(rng, 1940, 1999)
    seventh = rng.choice("0123") if born.year < 2000 else "4"
    v = f"{born.day:02d}{born.month:02d}{born.year % 100:02d}{seventh}{_d(rng, 3)}"
    return Number("DK_CPR", v, (f"{v[:6]}-{v[6:]}", v))


def in_aadhaar(rng: random.Random) -> Number:
    body = _d(rng, 11, "23456789")
    v = body + verhoeff.calc_check_digit(body)
    return Number("IN_AADHAAR", v, (f"{v[:4]} {v[4:8]} {v[8:]}", v, f"{v[:4]}-{v[4:8]}-{v[8:]}"))


def in_pan(rng: random.Random) -> Number:
    v = (
        "".join(rng.choice(UPPER) for _ in range(3))
        + rng.choice("PPPPCHFT")
        + rng.choice(UPPER)
        + f"{rng.randint(1, 9999):04d}"
        + rng.choice(UPPER)
    )
    return Number("IN_PAN", v, (v,))


def au_tfn(rng: random.Random) -> Number:
    while True:
        v = _complete(_varied(rng, 8), tfn.is_valid)
        if v is not None:
            return Number("AU_TFN", v, (f"{v[:3]} {v[3:6]} {v[6:]}", v))


def au_medicare(rng: random.Random) -> Number:
    first8 = _d(rng, 8, "23456")
    v = first8 + medicare_check_digit(first8) + str(rng.randint(1, 9))
    irn = str(rng.randint(1, 9))
    return Number("AU_MEDICARE", v, (f"{v[:4]} {v[4:9]} {v[9]}", f"{v[:4]} {v[4:9]} {v[9]} {irn}", v))


def br_cpf(rng: random.Random) -> Number:
    v = _complete(_varied(rng, 9), cpf.is_valid, width=2)
    assert v is not None
    return Number("BR_CPF", v, (f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}", v))


_STATES = (
    "AS BC BS CC CL CM CS CH DF DG GT GR HG JC MC MN MS NT NL OC PL QT QR SP SL SR TC TS TL VZ YN ZS".split()
)


def mx_curp(rng: random.Random) -> Number:
    consonants = "BCDFGHJKLMNPRSTVXZ"
    while True:
        born = _date(rng, 1940, 1999)
        body = (
            rng.choice(consonants)
            + rng.choice("AEIOU")
            + rng.choice(consonants)
            + rng.choice(consonants)
            + f"{born.year % 100:02d}{born.month:02d}{born.day:02d}"
            + rng.choice("HM")
            + rng.choice(_STATES)
            + "".join(rng.choice(consonants) for _ in range(3))
            + "0"
        )
        v = _complete(body, curp.is_valid)
        if v is not None:
            return Number("MX_CURP", v, (v,))


def sg_nric(rng: random.Random) -> Number:
    prefix = rng.choice("STFG")
    d = _varied(rng, 7)
    v = prefix + d + check_letter_sg(prefix, d)
    return Number("SG_NRIC", v, (v, v.lower()))


def kr_rrn(rng: random.Random) -> Number:
    while True:
        born = _date(rng, 1940, 2015)
        gender = rng.choice("12") if born.year < 2000 else rng.choice("34")
        place = f"{rng.randint(0, 96):02d}"  # digits 8-9: the registration office
        body = f"{born.year % 100:02d}{born.month:02d}{born.day:02d}{gender}{place}{_d(rng, 3)}"
        v = _complete(body, rrn.is_valid)
        if v is not None:
            return Number("KR_RRN", v, (f"{v[:6]}-{v[6:]}", v))


def za_id(rng: random.Random) -> Number:
    born = _date(rng, 1940, 2004)
    body = f"{born.year % 100:02d}{born.month:02d}{born.day:02d}{_d(rng, 4)}{rng.choice('01')}8"
    v = body + luhn.calc_check_digit(body)
    return Number("ZA_ID", v, (v, f"{v[:6]} {v[6:10]} {v[10:]}"))


def tr_tckn(rng: random.Random) -> Number:
    body = _d(rng, 9, "123456789")
    v = body + tckimlik.calc_check_digits(body)
    return Number("TR_TCKN", v, (v,))


def cl_rut(rng: random.Random) -> Number:
    body = f"{rng.randint(5_000_000, 25_999_999)}"
    v = body + rut.calc_check_digit(body)
    dotted = f"{int(body):,}".replace(",", ".") + "-" + v[-1]
    return Number("CL_RUT", v, (dotted, f"{body}-{v[-1]}"))


def us_itin(rng: random.Random) -> Number:
    group = rng.choice([g for g in range(70, 100) if g not in (89, 93)])
    v = f"9{_d(rng, 2)}{group}{_varied(rng, 4)}"
    return Number("US_ITIN", v, (f"{v[:3]}-{v[3:5]}-{v[5:]}", v))


def ch_ahv(rng: random.Random) -> Number:
    body = "756" + _varied(rng, 9)
    v = _complete(body, ahv.is_valid)
    assert v is not None
    return Number("CH_AHV", v, (f"{v[:3]}.{v[3:7]}.{v[7:11]}.{v[11:]}", v))


GENERATORS: dict[str, Callable[[random.Random], Number]] = {
    "UK_NINO": uk_nino,
    "UK_NHS": uk_nhs,
    "CA_SIN": ca_sin,
    "DE_TAX_ID": de_tax_id,
    "FR_NIR": fr_nir,
    "ES_NIF": es_nif,
    "ES_NIE": es_nie,
    "IT_FISCAL_CODE": it_fiscal_code,
    "NL_BSN": nl_bsn,
    "PL_PESEL": pl_pesel,
    "SE_PERSONNUMMER": se_personnummer,
    "FI_PERSONAL_ID": fi_personal_id,
    "NO_FODSELSNUMMER": no_fodselsnummer,
    "DK_CPR": dk_cpr,
    "IN_AADHAAR": in_aadhaar,
    "IN_PAN": in_pan,
    "AU_TFN": au_tfn,
    "AU_MEDICARE": au_medicare,
    "BR_CPF": br_cpf,
    "MX_CURP": mx_curp,
    "SG_NRIC": sg_nric,
    "KR_RRN": kr_rrn,
    "ZA_ID": za_id,
    "TR_TCKN": tr_tckn,
    "CL_RUT": cl_rut,
    "US_ITIN": us_itin,
    "CH_AHV": ch_ahv,
}

# -- how people name each number: (language, cue) -----------------------------------------------
CUES: dict[str, list[tuple[str, str]]] = {
    "UK_NINO": [("en", "National Insurance number"), ("en", "NI number"), ("en", "NINO"), ("de", "NINO")],
    "UK_NHS": [("en", "NHS number"), ("en", "NHS no."), ("de", "NHS-Nummer"), ("fr", "numéro NHS")],
    "CA_SIN": [
        ("en", "SIN"),
        ("en", "Social Insurance Number"),
        ("fr", "numéro d'assurance sociale"),
        ("fr", "NAS"),
    ],
    "DE_TAX_ID": [
        ("de", "Steuer-ID"),
        ("de", "Steueridentifikationsnummer"),
        ("de", "IdNr"),
        ("en", "German tax ID"),
    ],
    "FR_NIR": [
        ("fr", "numéro de sécurité sociale"),
        ("fr", "n° de sécu"),
        ("fr", "NIR"),
        ("en", "social security"),
    ],
    "ES_NIF": [("es", "DNI"), ("es", "NIF"), ("es", "número DNI"), ("en", "Spanish ID")],
    "ES_NIE": [("es", "NIE"), ("es", "número de identidad de extranjero"), ("en", "foreigner ID")],
    "IT_FISCAL_CODE": [
        ("it", "codice fiscale"),
        ("it", "C.F."),
        ("en", "fiscal code"),
        ("it", "cod. fiscale"),
    ],
    "NL_BSN": [
        ("nl", "BSN"),
        ("nl", "burgerservicenummer"),
        ("nl", "sofinummer"),
        ("en", "citizen service number"),
    ],
    "PL_PESEL": [("en", "PESEL"), ("pl", "numer PESEL"), ("pl", "nr PESEL")],
    "SE_PERSONNUMMER": [("sv", "personnummer"), ("en", "Swedish personal number"), ("sv", "pers.nr")],
    "FI_PERSONAL_ID": [("fi", "henkilötunnus"), ("fi", "hetu"), ("en", "personal identity code")],
    "NO_FODSELSNUMMER": [("no", "fødselsnummer"), ("no", "fnr"), ("en", "national identity number")],
    "DK_CPR": [("da", "CPR-nummer"), ("da", "CPR nr."), ("en", "CPR")],
    "IN_AADHAAR": [("en", "Aadhaar"), ("en", "Aadhaar number"), ("hi", "आधार संख्या"), ("en", "UID number")],
    "IN_PAN": [("en", "PAN"), ("en", "PAN card"), ("en", "permanent account number")],
    "AU_TFN": [("en", "TFN"), ("en", "tax file number"), ("de", "TFN")],
    "AU_MEDICARE": [("en", "Medicare number"), ("en", "Medicare card"), ("en", "medicare no")],
    "BR_CPF": [("pt", "CPF"), ("pt", "número do CPF"), ("pt", "cadastro de pessoas físicas")],
    "MX_CURP": [("es", "CURP"), ("es", "clave única de registro de población")],
    "SG_NRIC": [("en", "NRIC"), ("en", "NRIC/FIN"), ("en", "IC number")],
    "KR_RRN": [("ko", "주민등록번호"), ("ko", "주민번호"), ("en", "resident registration number")],
    "ZA_ID": [("en", "SA ID number"), ("af", "ID-nommer"), ("en", "South African ID")],
    "TR_TCKN": [("tr", "TC Kimlik No"), ("tr", "T.C. kimlik numarası"), ("en", "Turkish ID")],
    "CL_RUT": [("es", "RUT"), ("es", "cédula de identidad")],
    "US_ITIN": [("en", "ITIN"), ("en", "taxpayer identification number")],
    "CH_AHV": [("de", "AHV-Nummer"), ("fr", "numéro AVS"), ("it", "numero AVS")],
}

# Phrasings: {cue} and {value}. Each language's own word order and punctuation.
TEMPLATES: dict[str, list[str]] = {
    "en": [
        "Hi, the customer's {cue} is {value}. Please update the file.",
        "{cue}: {value}",
        "As requested, {cue} {value} (verified by phone).",
        "Name: Jane Roe\n{cue}: {value}\nStatus: pending",
        "can you double-check {value}? that's the {cue} we have on record",
        "| {cue} | {value} |",
        '{{"customer": 1832, "{cue}": "{value}"}}',
    ],
    "de": [
        "Hallo, die {cue} des Kunden lautet {value}. Bitte prüfen.",
        "{cue}: {value} (laut Formular)",
        "Anbei wie besprochen: {cue} {value}",
    ],
    "fr": [
        "Bonjour, voici le {cue} du client : {value}. Merci.",
        "{cue} : {value}",
        "Le client nous a transmis son {cue} ({value}) hier.",
    ],
    "es": [
        "Hola, el {cue} del cliente es {value}. Gracias.",
        "{cue}: {value}",
        "Adjunto su {cue} {value} para el trámite.",
    ],
    "it": [
        "Buongiorno, il {cue} del cliente è {value}.",
        "{cue}: {value}",
    ],
    "pt": [
        "Olá, o {cue} do cliente é {value}. Obrigado.",
        "{cue}: {value}",
        "Segue o {cue} {value} conforme pedido.",
    ],
    "nl": [
        "Hallo, het {cue} van de klant is {value}.",
        "{cue}: {value}",
    ],
    "sv": ["Hej, kundens {cue} är {value}.", "{cue}: {value}"],
    "fi": ["Asiakkaan {cue} on {value}.", "{cue}: {value}"],
    "no": ["Kundens {cue} er {value}.", "{cue}: {value}"],
    "da": ["Kundens {cue} er {value}.", "{cue}: {value}"],
    "pl": ["Dzień dobry, {cue} klienta to {value}.", "{cue}: {value}"],
    "ko": ["고객의 {cue}는 {value} 입니다.", "{cue}: {value}"],
    "hi": ["ग्राहक की {cue} {value} है।", "{cue}: {value}"],
    "tr": ["Müşterinin {cue} {value} olarak kayıtlı.", "{cue}: {value}"],
    "af": ["Die kliënt se {cue} is {value}.", "{cue}: {value}"],
}

# Types whose documented written form is found without any cue (strong structure).
STRUCTURED = frozenset(
    {
        "UK_NINO",
        "FR_NIR",
        "ES_NIF",
        "ES_NIE",
        "IT_FISCAL_CODE",
        "SE_PERSONNUMMER",
        "FI_PERSONAL_ID",
        "BR_CPF",
        "MX_CURP",
        "SG_NRIC",
        "KR_RRN",
        "CL_RUT",
        "US_ITIN",
        "CH_AHV",
        "IN_AADHAAR",
        "IN_PAN",
        "AU_MEDICARE",
    }
)
BARE_TEMPLATES = [
    "Please see {value} below and confirm.",
    "Customer record updated: {value}",
    "{value}",
]

# Texts with look-alike numbers no ID detector may report (phones, orders, dates, versions, times).
LOOKALIKES = [
    "Order 4829 1734 2 shipped on 2024-03-05; tracking 1Z 999 AA1 0123 4567 84.",
    "Release 2.14.3 (build 20240305.1) fixes the 11 bugs listed below.",
    "Call us on 020 7946 0958 or +1 415 555 0132 between 9:00 and 17:30.",
    "Invoice INV-2024-003817, amount 1.234,56 EUR, due 31.03.2024.",
    "The meeting is at 14:30 on 12/03/2024 in room 4.217.",
    "Reference number 123456789 for your records.",
    "Ticket #845512 was merged into #845519 at 10:42.",
    "Uptime 99.982% over 365 days, p99 latency 182 ms.",
    "ISBN 978-3-16-148410-0 is out of print.",
    "Pallet 00 340123 450000000 18 left the warehouse.",
]


@dataclass(frozen=True)
class Record:
    id: str
    text: str
    labels: tuple[tuple[str, int, int], ...]  # (type, start, end)
    kind: str  # cued | bare | near_miss | lookalike
    lang: str


def _place(template: str, cue: str, value: str) -> tuple[str, int, int]:
    # The value's offset: fill the template with a marker first, so braces in JSON stay right.
    marker = "\x00"
    filled = template.format(cue=cue, value=marker)
    start = filled.index(marker)
    return filled.replace(marker, value), start, start + len(value)


def _near_miss(rng: random.Random, written: str, valid: Callable[[str], bool]) -> str | None:
    """`written` with its last digit changed so the number no longer passes its check."""
    positions = [i for i, c in enumerate(written) if c.isdigit()]
    if not positions:
        return None
    i = positions[-1]
    for d in rng.sample(DIGITS, 10):
        candidate = written[:i] + d + written[i + 1 :]
        if candidate != written and not valid(candidate):
            return candidate
    return None


def records(seed: int = 7, per_type: int = 24) -> Iterator[Record]:
    """The corpus: for each type `per_type` cued positives, bare written forms of the structured
    types, near misses with a wrong check digit, and the look-alike texts."""
    from guard.inspection.national_ids import NATIONAL_ID_TYPES
    from guard.inspection.validators import REGISTRY

    rng = random.Random(seed)
    n = 0
    for typ, gen in GENERATORS.items():
        valid = REGISTRY[NATIONAL_ID_TYPES[typ]]
        for i in range(per_type):
            num = gen(rng)
            written = num.written[i % len(num.written)]
            lang, cue = rng.choice(CUES[typ])
            template = rng.choice(TEMPLATES.get(lang, TEMPLATES["en"]) + TEMPLATES["en"][:2])
            text, s, e = _place(template, cue, written)
            n += 1
            yield Record(f"nid-{n}", text, ((typ, s, e),), "cued", lang)
            if i % 3 == 0:
                miss = _near_miss(rng, written, valid)
                if miss is not None:
                    text, _, _ = _place(template, cue, miss)
                    n += 1
                    yield Record(f"nid-{n}", text, (), "near_miss", lang)
        if typ in STRUCTURED:
            for _ in range(per_type // 3):
                num = gen(rng)
                text, s, e = _place(rng.choice(BARE_TEMPLATES), "", num.written[0])
                n += 1
                yield Record(f"nid-{n}", text, ((typ, s, e),), "bare", "en")
    for text in LOOKALIKES:
        n += 1
        yield Record(f"nid-{n}", text, (), "lookalike", "en")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-type", type=int, default=24)
    args = ap.parse_args(argv)
    for r in records(args.seed, args.per_type):
        line = {"id": r.id, "text": r.text, "kind": r.kind, "lang": r.lang, "labels": r.labels}
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
