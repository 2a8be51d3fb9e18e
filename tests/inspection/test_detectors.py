"""Table-driven detector tests: each positive names the exact value; each negative is a near miss."""

from __future__ import annotations

import pytest

from guard.inspection import Inspector

POSITIVES = [
    # cards: brands, separators, disguises
    ("CREDIT_CARD", "card 4111 1111 1111 1111 thanks", "4111 1111 1111 1111"),
    ("CREDIT_CARD", "refunded to 5344-4628-9792-1710", "5344-4628-9792-1710"),
    ("CREDIT_CARD", "Mastercard 2-series 2223 0031 2200 3222 on file", "2223 0031 2200 3222"),
    ("CREDIT_CARD", "amex 3782 822463 10005", "3782 822463 10005"),
    ("CREDIT_CARD", "paid with 3723.319478.59814, exp. 05/30", "3723.319478.59814"),
    ("CREDIT_CARD", "card 4111·1111·1111·1111 ok", "4111·1111·1111·1111"),
    ("CREDIT_CARD", "card ４１１１ １１１１ １１１１ １１１１", "４１１１ １１１１ １１１１ １１１１"),
    ("CREDIT_CARD", "card 4111\u200b1111\u200b1111\u200b1111 ok", "4111\u200b1111\u200b1111\u200b1111"),
    ("CREDIT_CARD", "card 4111-1111\n> 1111-1111 ok", "4111-1111\n> 1111-1111"),
    ("CREDIT_CARD", "card &#52;&#49;&#49;&#49;1111 1111 1111 ok", "&#52;&#49;&#49;&#49;1111 1111 1111"),
    ("CREDIT_CARD", "card 4lll 1111 1111 1111 ok", "4lll 1111 1111 1111"),
    ("CREDIT_CARD", "card ٤١١١ ١١١١ ١١١١ ١١١١ ok", "٤١١١ ١١١١ ١١١١ ١١١١"),
    ("CREDIT_CARD", "card 4111111111111111 1234 (cvv)", "4111111111111111"),
    ("CREDIT_CARD", "Please use 4111 1111 1111 1111 for the booking", "4111 1111 1111 1111"),  # no label
    ("CREDIT_CARD", "Number on file: 5105 1051 0510 5100", "5105 1051 0510 5100"),
    ("CREDIT_CARD", "card 4111<b>1111</b><!-- x -->1111<span>1111</span> ok", None),
    ("CREDIT_CARD", "card 4111*1111*1111*1111", "4111*1111*1111*1111"),
    ("CREDIT_CARD", "card ①④ 4111 1111 1111 1111", "4111 1111 1111 1111"),
    # candidates from structure: every value in a run, any separator people use
    ("CREDIT_CARD", "4111111111111111\n5500000000000004\n340000000000009", "5500000000000004"),
    ("CREDIT_CARD", "4111111111111111\n5500000000000004\n340000000000009", "340000000000009"),
    ("CREDIT_CARD", "4111111111111111 5500-0000-0000-0004 4012 8888 8888 1881", "5500-0000-0000-0004"),
    ("CREDIT_CARD", "4111111111111111 5500-0000-0000-0004 4012 8888 8888 1881", "4012 8888 8888 1881"),
    ("CREDIT_CARD", "card 4111\t1111\t1111\t1111", "4111\t1111\t1111\t1111"),
    ("CREDIT_CARD", "card 4111, 1111, 1111, 1111", "4111, 1111, 1111, 1111"),
    ("CREDIT_CARD", "card 4111|1111|1111|1111", "4111|1111|1111|1111"),
    ("CREDIT_CARD", "card 4111+1111+1111+1111", "4111+1111+1111+1111"),
    ("CREDIT_CARD", "card 4111:1111:1111:1111", "4111:1111:1111:1111"),
    ("CREDIT_CARD", "card 4111&nbsp;1111&nbsp;1111&nbsp;1111", None),
    ("CREDIT_CARD", "card 4111  1111  1111  1111", "4111  1111  1111  1111"),
    ("CREDIT_CARD", "(997)753-5109 | 5500-0000-0000-0004 | 12/25", "5500-0000-0000-0004"),
    ("CREDIT_CARD", "+1-981-287-2815x3616\t3400 000000 00009\t01/25", "3400 000000 00009"),
    ("CREDIT_CARD", "4111 1111 1111 1111 05/27 EUR 12,50", "4111 1111 1111 1111"),
    ("CREDIT_CARD", '{"pan": "4111111111111111", "exp": "05/27"}', "4111111111111111"),
    ("CREDIT_CARD", "export: 5425 2334 3010 9903", "5425 2334 3010 9903"),
    ("CREDIT_CARD", "ref 4111111111111111", "4111111111111111"),
    ("CREDIT_CARD", "airline card 122000000000003", "122000000000003"),  # UATP
    # cues in the languages customers write in
    ("CREDIT_CARD", "Kartennummer: 4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("DATE_OF_BIRTH", "Geburtsdatum: 03.04.1978", "03.04.1978"),
    ("DATE_OF_BIRTH", "née le 3/4/1978", "3/4/1978"),
    ("DATE_OF_BIRTH", "fecha de nacimiento 03/04/1978", "03/04/1978"),
    ("DATE_OF_BIRTH", "data di nascita: 03/04/1978", "03/04/1978"),
    ("DATE_OF_BIRTH", "data de nascimento: 03/04/1978", "03/04/1978"),
    ("DATE_OF_BIRTH", "geboortedatum 03-04-1978", "03-04-1978"),
    ("US_BANK_ACCOUNT", "Kontonummer 1234567890", "1234567890"),
    ("US_BANK_ACCOUNT", "numéro de compte 12345678901", "12345678901"),
    ("US_BANK_ACCOUNT", "rekeningnummer: 987654321", "987654321"),
    ("US_SSN", "número de Seguro Social 591 68 1251", "591 68 1251"),
    ("ABA_ROUTING", "numéro de routage ABA 021000021", "021000021"),
    ("ABA_ROUTING", "0210-0002-1", "0210-0002-1"),  # the ABA's XXXX-YYYY-C layout
    ("IBAN", "IBAN NO 93 8601 1117 947", "NO 93 8601 1117 947"),
    # SSNs in every human form; a number after a person's name is that person's
    ("US_SSN", "John Smith 591-68-1251", "591-68-1251"),
    ("US_SSN", "591 68 1251", "591 68 1251"),
    ("US_SSN", "591.68.1251", "591.68.1251"),
    ("US_SSN", "591 - 68 - 1251", "591 - 68 - 1251"),
    ("US_SSN", "ssn 591,68,1251", "591,68,1251"),
    # SSNs
    ("US_SSN", "SSN: 591-68-1251", "591-68-1251"),
    ("US_SSN", "social security number 591 68 1251", "591 68 1251"),
    ("US_SSN", "SSN on file: 591681251", "591681251"),
    ("US_SSN", "Identity verified - SSN 6868\r\n39826 matches", "6868\r\n39826"),
    (
        "US_SSN",
        "my SSN is five nine one six eight one two five one",
        "five nine one six eight one two five one",
    ),
    # bank
    ("IBAN", "IBAN FR34 9862 0454 1047 2697 4587 489. Thanks", "FR34 9862 0454 1047 2697 4587 489"),
    ("IBAN", "IBAN: de89 3704 0044 0532 0130 00", "de89 3704 0044 0532 0130 00"),
    ("IBAN", "to GB09NTQI43391174658596 please", "GB09NTQI43391174658596"),
    ("IBAN", "IBAN IT60 X054 2811 1010 0000 0123 456 ok", "IT60 X054 2811 1010 0000 0123 456"),
    ("IBAN", "IBAN DЕ89 3704 0044 0532 0130 00", "DЕ89 3704 0044 0532 0130 00"),  # Cyrillic Е
    ("US_SSN", "S.S.N. 591-68-1251", "591-68-1251"),
    ("US_SSN", "<p>SSN</p><p>591-68-1251</p>", "591-68-1251"),
    ("EMAIL", "mail anna [at] example [dot] com please", "anna [at] example [dot] com"),
    ("ADDRESS", "P.O. Box 1234, Springfield, IL 62704", None),
    ("ABA_ROUTING", "routing number 021000021", "021000021"),
    ("US_BANK_ACCOUNT", "checking account 969411151095 (routing 329458074)", "969411151095"),
    # identity
    ("PASSPORT", "US passport number 568742205", "568742205"),
    ("PASSPORT", "passport no. JM33K9N1W (German)", "JM33K9N1W"),
    ("DATE_OF_BIRTH", "DOB: 22.11.1978", "22.11.1978"),
    ("DATE_OF_BIRTH", "born 14 Dec 1978", "14 Dec 1978"),
    ("DATE_OF_BIRTH", "date of birth: March 4th, 1985", "March 4th, 1985"),
    # credentials
    ("API_KEY", "aws_access_key_id = AKIA2E5RYT7QKVN3WX4H", "AKIA2E5RYT7QKVN3WX4H"),
    (
        "API_KEY",
        "token ghp_8T28ATCrs1uU1H4f9WV2HrVQ3ZDHXMwB7kxT now",
        "ghp_8T28ATCrs1uU1H4f9WV2HrVQ3ZDHXMwB7kxT",
    ),
    ("API_KEY", "key rk_live_NpnYJbo7Wew8bMiAxQPHp7zl ok", "rk_live_NpnYJbo7Wew8bMiAxQPHp7zl"),
    ("API_KEY", "xoxb-533744844201-1500431178647-AsDprMDjiP6lTl0gwAsoOESl", None),
    (
        "API_KEY",
        "api_secret: 2f3dad01d194e6f3391fa920a5db423c24b9b7c0",
        "2f3dad01d194e6f3391fa920a5db423c24b9b7c0",
    ),
    ("API_KEY", "password: Summer2024!xyz", "Summer2024!xyz"),
    ("API_KEY", '{"user": "ann", "password": "Summer2024!xyz"}', "Summer2024!xyz"),
    ("API_KEY", "Authorization: Basic YW5uOlZ0NyNrcTI5TG0=", "YW5uOlZ0NyNrcTI5TG0="),
    ("API_KEY", "postgres://app:s3cretPassw0rd@db.internal:5432/app", "s3cretPassw0rd"),
    (
        "API_KEY",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        None,
    ),
    (
        "API_KEY",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
        "-----END RSA PRIVATE KEY-----",
        None,
    ),
    # contact
    ("EMAIL", "write to justin41@example.net today", "justin41@example.net"),
    ("PHONE", "call +1-801-234-5703 now", "+1-801-234-5703"),
    ("PHONE", "T: (636) 860-5079 | E:", "(636) 860-5079"),
    ("PHONE", "+44 20 7946 0958", "+44 20 7946 0958"),
    (
        "ADDRESS",
        "ship to 718 Jackson Mill Suite 396, South Gregoryfort, WA 08869.",
        "718 Jackson Mill Suite 396, South Gregoryfort, WA 08869",
    ),
    ("ADDRESS", "350 Fifth Avenue, New York, New York 10118", None),
    ("PERSON", "Dear Jerome Griffin,\n\nthanks", "Jerome Griffin"),
    ("PERSON", "Thanks,\nTiffany Webb (Fraud Operations)", "Tiffany Webb"),
    ("PERSON", "Customer: Ana María López", "Ana María López"),
    ("PERSON", "Hello, my name is Dana", "Dana"),
    ("PERSON", "They call me Mr. Okonkwo", "Okonkwo"),
    ("PERSON", "Bonjour, je m'appelle Élodie", None),
    ("PERSON", "Me llamo Carlos", "Carlos"),
]

NEGATIVES = [
    ("CREDIT_CARD", "The transaction reference 6176 1766 6759 8589 has been logged."),  # Luhn fails
    ("CREDIT_CARD", "FedEx 627476344320 shipped"),  # 12 digits
    ("CREDIT_CARD", "The IBAN you entered (AT90 6875 0931 1774 9600) failed"),  # tail of an IBAN
    ("CREDIT_CARD", "EAN 0729222090678 in stock"),  # no card brand
    ("CREDIT_CARD", "card 4111 1111 1111 1112"),  # one digit off
    ("US_SSN", "Ticket 521-00-2388 has been closed."),  # group 00
    ("US_SSN", "Survey code 976-10-5858."),  # area 9xx
    ("US_SSN", "Extension code 996 28 0411"),
    ("US_SSN", "order 591681251 shipped"),  # bare 9 digits need an SSN cue
    ("US_SSN", "SSN 666-12-3456"),  # area 666
    ("IBAN", "Our system rejected ES76 3407 1085 2003 3790 8590 as invalid"),  # mod-97 fails
    ("IBAN", "Payment reference: DE28 1803 9377 5998 3677 03."),
    ("ABA_ROUTING", "routing 123456789"),  # checksum fails
    ("ABA_ROUTING", "invoice 021000021"),  # no routing cue
    ("US_BANK_ACCOUNT", "Order #29624273 has shipped"),
    ("US_BANK_ACCOUNT", "add bounds checking (CVE-2024-50248)"),  # "checking" is no account cue
    ("US_BANK_ACCOUNT", "to account for\n\tmaxback being unsigned (should fix SF bug #1559495)."),
    ("US_BANK_ACCOUNT", "\t+ remove an entry (report by Brad Town,\n\t  cf: 20200531).\n"),
    ("CREDIT_CARD", "numbers 1234, 5678, 9012, 3456, 7890"),
    ("CREDIT_CARD", "see https://oss-fuzz.com/testcase-detail/5229304507138048 (src/hb.cc)"),  # URL path
    ("CREDIT_CARD", "testcase-minimized-hb-subset-fuzzer-5229304507138048 | Bin 0"),  # identifier tail
    ("CREDIT_CARD", "boundary=_1101526904-1956-5"),  # a MIME boundary, not an airline card
    ("US_SSN", "Sozialversicherungsnummer 12 150780 J 123"),  # German, not a US SSN
    ("US_BANK_ACCOUNT", "Account Services\n(455) 286-3874"),  # a phone under a department name
    ("PASSPORT", "order K59069422 shipped"),  # no passport cue
    ("DATE_OF_BIRTH", "Your invoice is due on 21 Mar 2024."),  # no birth cue
    ("DATE_OF_BIRTH", "born 31.02.1980"),  # not a date
    ("API_KEY", "fixed in commit 69ba5d3bff65366f57858fb64b85a0c345049c4e"),
    (
        "API_KEY",
        "Download checksum (sha256): 2789755e6af619f15229ad3dca730e59bb893efc216863606a0204e42ecbfa23",
    ),
    ("API_KEY", "Request id ea9dc1a3-5287-4a30-bd2d-2702b0f40ed1 shows the timeout"),
    ("API_KEY", "Please reset your password: https://example.com/reset"),
    ("API_KEY", "Your password is reset"),
    ("PHONE", "version 19.9.7 released"),
    ("EMAIL", "meet at noon, the dot is green"),
    ("CREDIT_CARD", "if x < 4111 and y > 1111 then 1111 1111"),
    ("PERSON", "Kind regards,\nDeveloper Support"),
    ("PERSON", "Harbor & Pine Bank Customer Care"),
]


@pytest.mark.parametrize(("entity", "text", "value"), POSITIVES)
def test_detects(inspector: Inspector, entity: str, text: str, value: str | None) -> None:
    found = [(f.type, text[f.start : f.end]) for f in inspector.scan_text(text)]
    expected = value if value is not None else None
    hits = [v for t, v in found if t == entity]
    assert hits, f"{entity} not found in {text!r}; found {found}"
    if expected is not None:
        assert expected in hits, f"{entity}: expected span {expected!r}, got {hits}"


@pytest.mark.parametrize(("entity", "text"), NEGATIVES)
def test_near_miss_is_not_reported(inspector: Inspector, entity: str, text: str) -> None:
    found = [(f.type, text[f.start : f.end]) for f in inspector.scan_text(text)]
    assert entity not in [t for t, _ in found], found


def test_findings_explain_themselves(inspector: Inspector) -> None:
    [f] = [f for f in inspector.scan_text("Card number: 4111 1111 1111 1111") if f.type == "CREDIT_CARD"]
    assert f.detector == "CREDIT_CARD_PAN"
    text = " ".join(f.explanation)
    assert "validator luhn_card: pass" in text and "context" in text
    assert f.preview == "**** **** **** 1111"
    assert "4111" not in f.value_hash and f.value_hash.startswith("h:")


def test_same_value_same_hash_whatever_the_disguise(inspector: Inspector) -> None:
    a = inspector.scan_text("card 4111 1111 1111 1111")[0]
    b = inspector.scan_text("card ４１１１-１１１１-１１１１-１１１１")[0]
    assert a.value_hash == b.value_hash


def test_table_column_header_is_context(inspector: Inspector) -> None:
    text = (
        "name\trouting\taccount\tamount\nNathan Johnson\t629605970\t96348884063\t1533.68\n"
        "Robin Carter\t243263251\t86079985\t1996.95\n"
    )
    types = sorted((f.type, text[f.start : f.end]) for f in inspector.scan_text(text) if f.type != "PERSON")
    assert ("ABA_ROUTING", "629605970") in types
    assert ("US_BANK_ACCOUNT", "86079985") in types
    assert ("US_BANK_ACCOUNT", "96348884063") in types


def test_csv_with_quoted_commas(inspector: Inspector) -> None:
    text = (
        "customer,ssn,dob,address\n"
        'Derek Gonzalez,182-12-5403,03-05-1948,"7179 Parker Motorway Apt. 004, East Brandonton, ND 84308"\n'
        'Austin Nelson,143882862,October 04, 1972,"0352 Miller Tunnel, Jessicaborough, GA 81409"\n'
    )
    found = {(f.type, text[f.start : f.end]) for f in inspector.scan_text(text)}
    assert ("US_SSN", "143882862") in found
    assert ("DATE_OF_BIRTH", "October 04, 1972") in found
    assert ("DATE_OF_BIRTH", "03-05-1948") in found


# -- confidence: counter-evidence lowers it, it never makes a checksum-valid value disappear ---------
CONFIDENCE = [
    ("CREDIT_CARD", "Card number: 4111 1111 1111 1111", "high"),
    ("CREDIT_CARD", "Please use 4111 1111 1111 1111 for the booking", "medium"),
    ("CREDIT_CARD", "Subscription 5315-2079-0895-1353 renews", "low"),  # labelled as something else
    ("CREDIT_CARD", "order no. 4111 1111 1111 1111 shipped", "low"),
    ("IBAN", "IBAN DE89 3704 0044 0532 0130 00", "high"),
    ("ABA_ROUTING", "routing number 021000021", "high"),
    # an unrelated word before a value of SSN structure: kept, masked rather than reviewed
    ("US_SSN", "Room 211-42-5735", "low"),
    ("US_SSN", "see [591-68-1251] above", "low"),
]


@pytest.mark.parametrize(("entity", "text", "level"), CONFIDENCE)
def test_confidence(inspector: Inspector, entity: str, text: str, level: str) -> None:
    found = [f for f in inspector.scan_text(text) if f.type == entity]
    assert found, f"{entity} not found in {text!r}"
    assert found[0].confidence == level, found[0].explanation
    assert f"confidence {level}" in " ".join(found[0].explanation)
    assert found[0].as_dict()["confidence"] == level


def _aba(body: str) -> str:
    """A routing number with its 3-7-1 check digit computed here (body: 8 digits)."""
    d = [int(c) for c in body]
    total = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5])
    return body + str(-total % 10)


def test_cue_gate_is_word_bounded_but_never_stricter(inspector: Inspector) -> None:
    """A detector that needs a cue is skipped when its cue word only occurs inside another word
    ("rerouting"), run when it starts a word, and always run where a table header may hold it."""
    from guard.inspection.tables import TableContext

    cd = next(c for c in inspector.engine.detectors if c.det.id == "ABA_ROUTING_NUMBER")
    number = _aba("02100002")
    glued = f"rerouting {number} today"
    assert not cd.cue_possible(glued.lower(), TableContext(glued))
    assert not [f for f in inspector.scan_text(glued) if f.type == "ABA_ROUTING"]
    cued = f"routing {number} today"
    assert cd.cue_possible(cued.lower(), TableContext(cued))
    assert [f for f in inspector.scan_text(cued) if f.type == "ABA_ROUTING"]
    table = f"name\tRouting\nJo\t{number}\n"
    assert cd.cue_possible(table.lower(), TableContext(table))


def test_a_grouped_card_at_the_end_of_a_url_path_is_still_a_card(inspector: Inspector) -> None:
    # The identifier-tail rule ("fuzzer-5229…") is for unbroken digit runs; a person wrote these
    # groups, and a chat route forwards its path tail to the service (test_rel_visible_chat).
    digits = "4539" + "7" * 11
    total = sum(int(d) if i % 2 else sum(divmod(int(d) * 2, 10)) for i, d in enumerate(reversed(digits)))
    card = digits + str((10 - total % 10) % 10)
    grouped = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    found = inspector.scan_text(f"/hooks/x/{grouped}")
    assert [f.type for f in found] == ["CREDIT_CARD"]
