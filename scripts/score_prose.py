"""Measure false positives on real prose that holds no customer data (development aid).

Cuts text nobody on this project wrote into 2,000-character chunks and inspects each one as a
message to an external recipient:

- the Debian documentation installed on the machine (/usr/share/doc: changelog*.gz, NEWS*,
  copyright, README*): release notes, CVE ids, PGP fingerprints, dates, versions, file paths;
- CPython's email test messages (Lib/test/test_email/data), real-looking headers and bodies.

It reports the share of chunks with a sensitive (non-contact) finding and the share refused or
held (quarantine or block) for an external audience, and lists the detectors responsible.
Targets (issue 10): <= 0.2% of chunks with a finding, <= 0.1% refused or held.

    python scripts/score_prose.py                      # everything found, summary
    python scripts/score_prose.py --every 5 --show 20 --json /tmp/prose.json   # a fifth, ~2 minutes
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from guard.config import load_settings
from guard.inspection import Inspector
from guard.model import Action, Audience, Channel, OutboundMessage

CHUNK = 2000
HELD = (Action.QUARANTINE, Action.BLOCK)
DOC_PATTERNS = ("changelog*.gz", "NEWS*", "copyright", "README*")


def email_test_dirs() -> list[Path]:
    """CPython's test_email/data folders of every installed interpreter (pyenv and system)."""
    found = glob.glob("/root/.pyenv/versions/*/lib/python3*/test/test_email/data")
    found += glob.glob("/usr/lib/python3*/test/test_email/data")
    return sorted({Path(p) for p in found})


def source_files(doc_root: Path, email_dirs: list[Path]) -> list[Path]:
    files: set[Path] = set()
    for pattern in DOC_PATTERNS:
        files.update(p for p in doc_root.glob(f"*/{pattern}") if p.is_file())
    seen_names: set[str] = set()
    for d in email_dirs:  # the same messages ship with every Python version: read each name once
        for p in sorted(d.glob("msg_*.txt")):
            if p.name not in seen_names:
                seen_names.add(p.name)
                files.add(p)
    return sorted(files)


def read_text(path: Path) -> str:
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    return data.decode("utf-8", errors="replace")


def chunks(files: list[Path]) -> Iterator[tuple[str, int, str]]:
    """(file, offset, text) for every 2,000-character piece of every file; a file whose content
    was already read (the same changelog under several package names) is read once."""
    seen: set[str] = set()
    for path in files:
        text = read_text(path)
        digest = hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        for off in range(0, len(text), CHUNK):
            piece = text[off : off + CHUNK]
            if piece.strip():
                yield str(path), off, piece


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doc-root", default="/usr/share/doc")
    ap.add_argument("--limit", type=int, default=0, help="score only the first N chunks (0: all)")
    ap.add_argument("--every", type=int, default=1, help="score every Nth chunk (a quick sample: --every 5)")
    ap.add_argument("--show", type=int, default=0, help="print the first N chunks with a finding")
    ap.add_argument("--json", help="write the summary and every flagged chunk here")
    args = ap.parse_args(argv)

    settings = load_settings(None, data_dir="/tmp/guard-score-prose", rules={"hash_key": "prose"})
    inspector = Inspector.from_settings(settings, persist_key=False)
    files = source_files(Path(args.doc_root), email_test_dirs())

    total = flagged = held = 0
    by_detector: Counter[str] = Counter()
    by_detector_held: Counter[str] = Counter()
    by_confidence: Counter[str] = Counter()
    flagged_chunks: list[dict[str, object]] = []
    started = time.perf_counter()
    for index, (name, off, text) in enumerate(chunks(files)):
        if args.limit and total >= args.limit:
            break
        if index % max(args.every, 1):
            continue
        total += 1
        msg = OutboundMessage(channel=Channel.API, text=text, audience=Audience.EXTERNAL)
        verdict = inspector.inspect(msg)
        sensitive = [f for f in verdict.findings if f.category != "contact"]
        if not sensitive:
            continue
        flagged += 1
        is_held = verdict.action in HELD
        held += is_held
        for det in {f.detector for f in sensitive}:
            by_detector[det] += 1
            if is_held:
                by_detector_held[det] += 1
        for f in sensitive:
            by_confidence[getattr(f, "confidence", "-")] += 1
        entry = {
            "file": name,
            "offset": off,
            "action": verdict.action.value,
            "findings": [
                {
                    "type": f.type,
                    "detector": f.detector,
                    "confidence": getattr(f, "confidence", "-"),
                    "start": f.start,
                    "end": f.end,
                    "context": text[max(0, f.start - 60) : f.end + 20],
                    "explanation": list(f.explanation),
                }
                for f in sensitive
            ],
        }
        flagged_chunks.append(entry)
        if len(flagged_chunks) <= args.show:
            print(f"--- {name} @{off} -> {verdict.action.value}")
            for f in entry["findings"]:  # type: ignore[attr-defined]
                print(f"    {f['type']} {f['detector']} {f['confidence']}: {f['context']!r}")
    elapsed = time.perf_counter() - started

    share = flagged / total if total else 0.0
    held_share = held / total if total else 0.0
    summary = {
        "files": len(files),
        "chunks": total,
        "with_sensitive_finding": flagged,
        "share_sensitive": round(share, 5),
        "held_or_refused": held,
        "share_held": round(held_share, 5),
        "findings_by_confidence": dict(by_confidence),
        "chunks_by_detector": dict(by_detector.most_common()),
        "held_chunks_by_detector": dict(by_detector_held.most_common()),
        "seconds": round(elapsed, 1),
    }
    print(f"files {len(files)}  chunks {total}  ({elapsed:.1f}s)")
    print(f"chunks with a sensitive finding: {flagged} = {share:.4%}  (target <= 0.2%)")
    print(f"refused or held (external):      {held} = {held_share:.4%}  (target <= 0.1%)")
    print(f"findings by confidence: {dict(by_confidence)}")
    print("detectors (chunks flagged / held):")
    for det, n in by_detector.most_common():
        print(f"  {det:32s} {n:5d} {by_detector_held.get(det, 0):5d}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"summary": summary, "flagged": flagged_chunks}, indent=1, ensure_ascii=False),
            encoding="utf-8",
        )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
