"""`guard scan` as a user runs it: a real subprocess, exit codes, formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _guard(*args: str, stdin: str | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guard", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "clean.txt").write_text("Hello, your order has shipped.", encoding="utf-8")
    (tmp_path / "card.txt").write_text("card 4111 1111 1111 1111", encoding="utf-8")
    (tmp_path / "mail.eml").write_bytes(
        b"From: a@example.com\r\nTo: b@customer.net\r\nSubject: hi\r\n\r\nSSN 591-68-1251\r\n"
    )
    (tmp_path / "chat.json").write_text(json.dumps({"text": "key AKIA2E5RYT7QKVN3WX4H"}), encoding="utf-8")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    return tmp_path


def test_exit_codes(files: Path) -> None:
    assert _guard("scan", "clean.txt", cwd=files).returncode == 0
    r = _guard("scan", "card.txt", cwd=files)
    assert r.returncode == 1 and "CREDIT_CARD" in r.stdout and "4111 1111" not in r.stdout
    assert _guard("scan", "missing.txt", cwd=files).returncode == 2
    bad = _guard("scan", "bad.json", cwd=files)
    assert bad.returncode == 2 and "invalid JSON" in bad.stderr


def test_json_format_and_audience(files: Path) -> None:
    r = _guard("scan", "--format", "json", "mail.eml", "chat.json", cwd=files)
    out = json.loads(r.stdout)
    assert [o["action"] for o in out] == ["quarantine", "block"]
    assert out[0]["findings"][0]["type"] == "US_SSN" and out[0]["findings"][0]["preview"] == "***-**-1251"
    r = _guard("scan", "--format", "json", "--audience", "internal", "mail.eml", cwd=files)
    assert json.loads(r.stdout)[0]["action"] == "allow"


def test_stdin(files: Path) -> None:
    r = _guard("scan", "-", stdin="IBAN DE89 3704 0044 0532 0130 00", cwd=files)
    assert r.returncode == 1 and "IBAN" in r.stdout


def test_jsonl_batch(files: Path) -> None:
    eml = "From: a@example.com\r\nTo: b@customer.net\r\nSubject: x\r\n\r\nCard: 4111 1111 1111 1111\r\n"
    lines = [
        json.dumps({"id": 1, "text": "Dear Anna Lee, SSN 591-68-1251"}),
        json.dumps({"id": "m2", "eml": eml}),
        json.dumps({"id": 3, "text": "nothing here"}),
        "{broken",
        json.dumps({"id": 5}),
    ]
    r = _guard("scan", "--jsonl", "-", stdin="\n".join(lines) + "\n", cwd=files)
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert r.returncode == 2  # two bad lines; the others are still scanned
    first = out[0]
    assert first["id"] == 1 and first["action"] == "quarantine"
    text = "Dear Anna Lee, SSN 591-68-1251"
    assert {(f["type"], text[f["start"] : f["end"]]) for f in first["findings"]} >= {
        ("US_SSN", "591-68-1251")
    }
    assert set(first["findings"][0]) == {"type", "start", "end", "score", "confidence", "detector", "preview"}
    card = next(f for f in out[1]["findings"] if f["type"] == "CREDIT_CARD")
    assert "Card: 4111 1111 1111 1111\n"[card["start"] : card["end"]] == "4111 1111 1111 1111"  # decoded body
    assert out[2] == {"id": 3, "action": "allow", "findings": []}
    assert "error" in out[3] and "error" in out[4]


def test_help_and_no_args(files: Path) -> None:
    assert _guard("--help", cwd=files).returncode == 0
    assert _guard("scan", cwd=files).returncode == 2


def test_tls_selfsigned_writes_a_usable_pair(tmp_path: Path) -> None:
    import ssl

    r = _guard("tls-selfsigned", str(tmp_path / "tls"), "--hostname", "mail.example.com", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem")
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o077 == 0


def test_jsonl_eml_offsets_index_the_decoded_body_text() -> None:
    from scan_cli_helpers import inspect_eml

    from guard.inspection.extract import body_text
    from guard.scan_cli import _in_body_text

    raw = (
        b"From: a@example.com\r\nTo: b@customer.net\r\nSubject: SSN 591-68-1251\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/alternative; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        b"card 4111 1111 1111 1111\r\n--B\r\nContent-Type: text/html\r\n\r\n"
        b"<p>IBAN DE89 3704 0044 0532 0130 00</p>\r\n--B--\r\n"
    )
    body = body_text(raw)
    found = {(f.type, body[f.start : f.end]) for f in _in_body_text(inspect_eml(raw))}
    assert ("CREDIT_CARD", "4111 1111 1111 1111") in found
    assert ("IBAN", "DE89 3704 0044 0532 0130 00") in found
    assert not any(t == "US_SSN" for t, _ in found)  # the Subject is not body text
