"""National ID pack: each type found in its written forms with its cue, near misses and look-alikes
left alone, one value reported once. Check digits are computed here with python-stdnum."""

from __future__ import annotations

import pytest
from stdnum import luhn, verhoeff
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.iso7064 import mod_11_10
from stdnum.it import codicefiscale
from stdnum.pl import pesel

from guard.inspection import Inspector
from guard.inspection.national_ids import NATIONAL_ID_TYPES, check_letter_sg, medicare_check_digit
from guard.inspection.validators import REGISTRY
from guard.model import ENTITY_TYPES
from guard.model import NATIONAL_ID_TYPES as MODEL_TYPES


def _first_valid(prefix: str, validator: str, width: int = 1) -> str:
    """`prefix` + the first suffix of `width` digits the validator accepts."""
    for n in range(10**width):
        value = prefix + f"{n:0{width}d}"
        if REGISTRY[validator](value):
            return value
    raise AssertionError(prefix)


BSN = _first_valid("27184396", "nid_nl_bsn")
SIN = "27184396" + luhn.calc_check_digit("27184396")
NHS = _first_valid("538217469", "nid_uk_nhs")
TFN = _first_valid("53821746", "nid_au_tfn")
DE_IDNR = "5382174961" + mod_11_10.calc_check_digit("5382174961")
NIR_BODY = "2840675123456"
NIR = NIR_BODY + nir.calc_check_digits(NIR_BODY)
DNI = "53821746" + dni.calc_check_digit("53821746")
NIE = "Y5382174" + nie.calc_check_digit("Y5382174")
CF_BODY = "RSSMRA85T10A562"
CF = CF_BODY + codicefiscale.calc_check_digit(CF_BODY)
PESEL = "8507091234" + pesel.calc_check_digit("8507091234")
SE = "850709981" + luhn.calc_check_digit("850709981")
AADHAAR = "53821746913" + verhoeff.calc_check_digit("53821746913")
MEDICARE = "29503817" + medicare_check_digit("29503817") + "1"
CPF = _first_valid("538217469", "nid_br_cpf", 2)
NRIC = "S5382174" + check_letter_sg("S", "5382174")
KR = _first_valid("850709153821", "nid_kr_rrn")
ZA = "8507095382" + "08" + luhn.calc_check_digit("850709538208")
TCKN = _first_valid("538217469", "nid_tr_tckn", 2)
NO = _first_valid("090785238", "nid_no_fodselsnummer", 2)


def _fmt(v: str, *groups: int, sep: str = " ") -> str:
    out, i = [], 0
    for g in groups:
        out.append(v[i : i + g])
        i += g
    return sep.join(out)


POSITIVES = [
    ("UK_NINO", "National Insurance number: JT 48 20 71 B", "JT 48 20 71 B"),
    ("UK_NINO", "her NI number is JG103759A.", "JG103759A"),
    ("UK_NHS", f"NHS number {_fmt(NHS, 3, 3, 4)} (GP practice)", _fmt(NHS, 3, 3, 4)),
    ("CA_SIN", f"SIN: {_fmt(SIN, 3, 3, 3, sep='-')}", _fmt(SIN, 3, 3, 3, sep="-")),
    ("CA_SIN", f"numéro d'assurance sociale {SIN}", SIN),
    ("DE_TAX_ID", f"Steuer-ID: {_fmt(DE_IDNR, 2, 3, 3, 3)}", _fmt(DE_IDNR, 2, 3, 3, 3)),
    (
        "FR_NIR",
        f"numéro de sécurité sociale : {_fmt(NIR, 1, 2, 2, 2, 3, 3, 2)}",
        _fmt(NIR, 1, 2, 2, 2, 3, 3, 2),
    ),
    ("FR_NIR", f"Merci, {_fmt(NIR, 1, 2, 2, 2, 3, 3, 2)} est bien noté.", _fmt(NIR, 1, 2, 2, 2, 3, 3, 2)),
    ("ES_NIF", f"DNI {DNI}", DNI),
    (
        "ES_NIF",
        f"El cliente ({DNI[:2]}.{DNI[2:5]}.{DNI[5:8]}-{DNI[8]}) llamó ayer.",
        f"{DNI[:2]}.{DNI[2:5]}.{DNI[5:8]}-{DNI[8]}",
    ),
    ("ES_NIE", f"NIE: {NIE.lower()}", NIE.lower()),
    ("IT_FISCAL_CODE", f"codice fiscale {CF}", CF),
    ("IT_FISCAL_CODE", f"Il cliente {CF} ha chiamato.", CF),
    ("NL_BSN", f"BSN: {BSN}", BSN),
    ("NL_BSN", f"burgerservicenummer {BSN[:4]}.{BSN[4:6]}.{BSN[6:]}", f"{BSN[:4]}.{BSN[4:6]}.{BSN[6:]}"),
    ("PL_PESEL", f"numer PESEL {PESEL}", PESEL),
    ("SE_PERSONNUMMER", f"personnummer {SE[:6]}-{SE[6:]}", f"{SE[:6]}-{SE[6:]}"),
    ("SE_PERSONNUMMER", f"Kunden har {SE[:6]}-{SE[6:]} enligt blanketten.", f"{SE[:6]}-{SE[6:]}"),
    ("SE_PERSONNUMMER", f"personnummer: 19{SE}", f"19{SE}"),
    ("FI_PERSONAL_ID", "henkilötunnus 131052-308T", "131052-308T"),
    ("NO_FODSELSNUMMER", f"fødselsnummer {NO}", NO),
    ("DK_CPR", "CPR-nummer: 070761-4285", "070761-4285"),
    ("IN_AADHAAR", f"Aadhaar {_fmt(AADHAAR, 4, 4, 4)}", _fmt(AADHAAR, 4, 4, 4)),
    ("IN_AADHAAR", f"आधार संख्या: {AADHAAR}", AADHAAR),
    ("IN_PAN", "PAN: ABCPE1234F", "ABCPE1234F"),
    ("AU_TFN", f"tax file number {_fmt(TFN, 3, 3, 3)}", _fmt(TFN, 3, 3, 3)),
    ("AU_MEDICARE", f"Medicare card {_fmt(MEDICARE, 4, 5, 1)}", _fmt(MEDICARE, 4, 5, 1)),
    ("AU_MEDICARE", f"Medicare number {MEDICARE}", MEDICARE),  # not a US phone number
    (
        "BR_CPF",
        f"CPF {CPF[:3]}.{CPF[3:6]}.{CPF[6:9]}-{CPF[9:]}",
        f"{CPF[:3]}.{CPF[3:6]}.{CPF[6:9]}-{CPF[9:]}",
    ),
    ("BR_CPF", f"cadastro de pessoas físicas: {CPF}", CPF),
    ("MX_CURP", "CURP: HEGG560427MVZRRL04", "HEGG560427MVZRRL04"),
    ("SG_NRIC", f"NRIC {NRIC}", NRIC),
    ("KR_RRN", f"주민등록번호: {KR[:6]}-{KR[6:]}", f"{KR[:6]}-{KR[6:]}"),
    ("ZA_ID", f"SA ID number {ZA}", ZA),
    ("TR_TCKN", f"T.C. kimlik no: {TCKN}", TCKN),
    ("CL_RUT", "RUT 12.345.678-5", "12.345.678-5"),
    ("US_ITIN", "ITIN 912-78-3456", "912-78-3456"),
    ("CH_AHV", "AHV-Nummer 756.9217.0769.85", "756.9217.0769.85"),
]


@pytest.mark.parametrize(
    ("typ", "text", "value"), POSITIVES, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(POSITIVES)]
)
def test_found_as_its_type(inspector: Inspector, typ: str, text: str, value: str) -> None:
    findings = inspector.scan_text(text)
    start = text.index(value)
    hits = [f for f in findings if f.start < start + len(value) and f.end > start]
    assert [(f.type, text[f.start : f.end]) for f in hits] == [(typ, value)]
    assert hits[0].category == "identity"


NEGATIVES = [
    f"BSN: {BSN[:-1]}{(int(BSN[-1]) + 1) % 10}",  # wrong check digit
    f"Order {BSN} shipped today.",  # a valid BSN, but nothing says so
    f"Reference {SIN} for your records.",
    f"Call {_fmt(NHS, 3, 3, 4)} tomorrow.",
    f"ticket {PESEL} closed",
    f"{CPF} units sold",
    f"build {TCKN}",
    "Release 2.14.3 (build 20240305.1) is out; see 1.2.3.4 for the old one.",
    "The meeting is on 12.03.2024 at 14:30; room 4.217.",
    "Invoice 2024-003817 over 1.234,56 EUR.",
    "NIE: Y1234567A",  # wrong check letter
    "codice fiscale RSSMRA85T10A562A",  # wrong check letter
    "National Insurance number: DQ 12 34 56 C",  # D is never a prefix letter
    "National Insurance number: QQ 12 34 56 C",  # HMRC's example prefix, never issued
    "personnummer 850709-9804",  # Luhn fails
    "henkilötunnus 131052-308U",
    "NRIC S1234567A",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_not_reported(inspector: Inspector, text: str) -> None:
    found = [f.type for f in inspector.scan_text(text) if f.type in NATIONAL_ID_TYPES]
    assert found == []


def test_personnummer_is_not_a_phone_or_a_birth_date(inspector: Inspector) -> None:
    text = f"Born in Malmö; personnummer {SE[:6]}-{SE[6:]}, tel. on file."
    assert [f.type for f in inspector.scan_text(text)] == ["SE_PERSONNUMMER"]


def test_bsn_is_not_a_bank_account(inspector: Inspector) -> None:
    text = f"Bank account holder's BSN: {BSN}"
    assert [f.type for f in inspector.scan_text(text)] == ["NL_BSN"]


def test_cue_raises_confidence(inspector: Inspector) -> None:
    bare = inspector.scan_text(f"Il cliente {CF} ha chiamato.")
    cued = inspector.scan_text(f"codice fiscale {CF}")
    assert cued[0].score > bare[0].score
    assert cued[0].score >= 0.8 and 0.55 <= bare[0].score < 0.8


def test_types_are_known_everywhere() -> None:
    assert set(NATIONAL_ID_TYPES) == set(MODEL_TYPES)
    assert set(MODEL_TYPES) <= set(ENTITY_TYPES)
    assert all(name in REGISTRY for name in NATIONAL_ID_TYPES.values())


def test_held_items_with_a_national_id_are_high_severity(inspector: Inspector) -> None:
    assert all(inspector.severity([t]) == "high" for t in MODEL_TYPES)
