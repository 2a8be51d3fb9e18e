"""`guard scan`: inspect files offline, one at a time or as a JSONL batch.

Exit codes: 0 nothing found, 1 findings, 2 an input could not be read (the others are still
scanned). Output never contains a found value: previews are masked.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from guard.config import load_settings
from guard.errors import GuardError
from guard.inspection import Inspector
from guard.inspection.extract import BODY_KINDS
from guard.model import Audience, Channel, Finding, OutboundMessage, Verdict

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "scan",
        help="inspect .eml/.txt/.json files offline (exit 0 clean, 1 findings, 2 error)",
        description="Inspect messages offline. FILE may be '-' for standard input.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help=".eml, .txt or .json files, or - for stdin")
    p.add_argument(
        "--audience",
        choices=["external", "internal"],
        default="external",
        help="decide as if the message were going to this audience (default: external)",
    )
    p.add_argument("--format", choices=["text", "json"], default="text", dest="fmt")
    p.add_argument(
        "--jsonl", metavar="FILE", help='batch mode: lines of {"id", "text"} or {"id", "eml"}; - for stdin'
    )
    p.add_argument("--config", metavar="FILE", help="TOML settings file (rules, policy, internal domains)")
    p.set_defaults(func=run)


def _looks_like_mail(data: bytes) -> bool:
    if data.startswith(b"From "):  # an mbox "From " line before the headers (saved mail)
        data = data.split(b"\n", 1)[-1]
    head = data[:2048].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    lines = [ln for ln in head.splitlines() if ln and not ln[:1].isspace()]
    return (
        bool(lines)
        and all(b":" in ln.split(b" ", 1)[0] or b": " in ln for ln in lines[:5])
        and any(
            ln.lower().startswith(
                (
                    b"from:",
                    b"to:",
                    b"subject:",
                    b"received:",
                    b"mime-version:",
                    b"date:",
                    b"message-id:",
                    b"content-type:",
                )
            )
            for ln in lines
        )
    )


def _message(name: str, data: bytes, audience: Audience) -> OutboundMessage:
    suffix = Path(name).suffix.lower()
    if suffix == ".eml" or (suffix != ".json" and _looks_like_mail(data)):  # mail saved as .txt too
        return OutboundMessage(channel=Channel.API, raw=data, audience=audience)
    text = data.decode("utf-8", errors="replace")
    if suffix == ".json":
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise GuardError(f"{name}: invalid JSON: {exc.args[0] if exc.args else exc}") from None
        if isinstance(value, dict) and isinstance(value.get("eml"), str):
            return OutboundMessage(channel=Channel.API, raw=value["eml"].encode("utf-8"), audience=audience)
        if isinstance(value, dict) and isinstance(value.get("text"), str):
            return OutboundMessage(channel=Channel.API, text=value["text"], audience=audience)
        from guard.inspection.extract import _json_text

        return OutboundMessage(channel=Channel.API, text=_json_text(text), audience=audience)
    return OutboundMessage(channel=Channel.API, text=text, audience=audience)


def _finding_dicts(verdict: Verdict) -> list[dict[str, Any]]:
    out = []
    for f in verdict.findings:
        d = f.as_dict(with_segment=False)
        d["source"] = verdict.segments[f.segment].source if f.segment < len(verdict.segments) else ""
        out.append(d)
    return out


def _print_text(name: str, verdict: Verdict, out: IO[str]) -> None:
    out.write(f"{name}: {verdict.action.value.upper()} ({verdict.audience.value})\n")
    out.write(f"  {verdict.explanation}\n")
    for f in verdict.findings:
        source = verdict.segments[f.segment].source if f.segment < len(verdict.segments) else ""
        out.write(
            f"  {f.type:<16} {f.start:>6}-{f.end:<6} score {f.score:.2f} {f.confidence:<6}  {f.detector:<24} "
            f"{f.preview}  [{source}]\n"
        )


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    return Path(name).read_bytes()


def _scan_files(inspector: Inspector, args: argparse.Namespace, out: IO[str]) -> int:
    audience = Audience(args.audience)
    status = EXIT_CLEAN
    results = []
    for name in args.files:
        try:
            verdict = inspector.inspect(_message(name, _read(name), audience))
        except (OSError, GuardError) as exc:
            print(f"guard scan: {name}: {exc.strerror if isinstance(exc, OSError) else exc}", file=sys.stderr)
            status = EXIT_ERROR
            continue
        if verdict.findings and status == EXIT_CLEAN:
            status = EXIT_FINDINGS
        if args.fmt == "json":
            results.append(
                {
                    "file": name,
                    "action": verdict.action.value,
                    "audience": verdict.audience.value,
                    "rows": list(verdict.rows),
                    "explanation": verdict.explanation,
                    "counts": verdict.counts(),
                    "findings": _finding_dicts(verdict),
                }
            )
        else:
            _print_text(name, verdict, out)
    if args.fmt == "json":
        json.dump(results, out, indent=2)
        out.write("\n")
    return status


def _lines(name: str) -> Iterator[str]:
    if name == "-":
        yield from sys.stdin
    else:
        with open(name, encoding="utf-8", errors="replace") as fh:
            yield from fh


def _in_given_text(verdict: Verdict) -> list[Finding]:
    """Findings with offsets into the given text (segment 0); a finding in text decoded from
    it (base64) points at the encoded run it came from."""
    out = []
    for f in verdict.findings:
        if f.type == "UNSCANNABLE" or f.segment >= len(verdict.segments):
            continue
        seg = verdict.segments[f.segment]
        if f.segment == 0:
            out.append(f)
        elif seg.parent == 0:
            out.append(dataclasses.replace(f, start=seg.parent_start, end=seg.parent_end))
    return sorted(out, key=lambda f: f.start)


def _in_body_text(verdict: Verdict) -> list[Finding]:
    """Findings of the body's text parts, with offsets into the decoded body text: the parts
    joined by one line break (as `extract.body_text` builds it), from the one inspection done."""
    offsets: dict[int, int] = {}
    position = 0
    for index, seg in enumerate(verdict.segments):
        if seg.kind in BODY_KINDS:
            offsets[index] = position
            position += len(seg.text) + 1
    return [
        dataclasses.replace(f, start=f.start + offsets[f.segment], end=f.end + offsets[f.segment])
        for f in verdict.findings
        if f.segment in offsets
    ]


def _scan_jsonl(inspector: Inspector, args: argparse.Namespace, out: IO[str]) -> int:
    audience = Audience(args.audience)
    status = EXIT_CLEAN
    for lineno, line in enumerate(_lines(args.jsonl), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("each line must be a JSON object")
        except ValueError as exc:
            out.write(json.dumps({"id": None, "line": lineno, "error": f"invalid JSON: {exc}"}) + "\n")
            status = EXIT_ERROR
            continue
        rid = rec.get("id")
        try:
            if isinstance(rec.get("text"), str):
                verdict = inspector.inspect(
                    OutboundMessage(channel=Channel.API, text=rec["text"], audience=audience)
                )
                findings = _in_given_text(verdict)
            elif isinstance(rec.get("eml"), str):
                raw = rec["eml"].encode("utf-8", "surrogateescape")
                verdict = inspector.inspect(OutboundMessage(channel=Channel.API, raw=raw, audience=audience))
                findings = _in_body_text(verdict)
            else:
                raise GuardError('a line needs "text" or "eml" (a string)')
        except GuardError as exc:
            out.write(json.dumps({"id": rid, "line": lineno, "error": str(exc)}) + "\n")
            status = EXIT_ERROR
            continue
        if verdict.findings and status == EXIT_CLEAN:
            status = EXIT_FINDINGS
        out.write(
            json.dumps(
                {
                    "id": rid,
                    "action": verdict.action.value,
                    "findings": [
                        {
                            "type": f.type,
                            "start": f.start,
                            "end": f.end,
                            "score": round(f.score, 3),
                            "confidence": f.confidence,
                            "detector": f.detector,
                            "preview": f.preview,
                        }
                        for f in findings
                    ],
                },
                ensure_ascii=False,
            )
            + "\n"
        )
    return status


def run(args: argparse.Namespace) -> int:
    if not args.files and not args.jsonl:
        print("guard scan: give FILE arguments, - for stdin, or --jsonl FILE", file=sys.stderr)
        return EXIT_ERROR
    settings = load_settings(args.config)
    inspector = Inspector.from_settings(settings, persist_key=False)
    out = sys.stdout
    try:
        if args.jsonl:
            return _scan_jsonl(inspector, args, out)
        return _scan_files(inspector, args, out)
    finally:
        out.flush()
