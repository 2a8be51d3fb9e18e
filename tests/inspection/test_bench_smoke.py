"""Keeps tests/bench/bench_inspection.py from rotting: its guard-only part on a 10 KB message
(no Presidio, no timing asserted) and its Presidio-to-corpus type mapping."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_inspection.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_inspection", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_guard_alone_on_a_10kb_message(bench: ModuleType) -> None:
    text = bench.prose(10_000)
    assert len(text) == 10_000 and any(card in text for card in bench._CARDS)
    res = bench.guard_large(10_000)
    assert res["bytes"] == 10_000 and res["seconds"] > 0 and res["mb_s"] > 0
    assert res["action"] == "quarantine"  # the prose carries a card number and goes to an external recipient
    assert any(row.label.startswith("guard 10 KB") for row in bench.build_rows([_round(res)]))


def _round(large: dict[str, object]) -> dict[str, object]:
    part = {"n": 1, "bytes": 10, "seconds": 0.5, "cpu_s": 0.4}
    return {
        "startup": {"seconds": 1.0, "peak_rss_mb": 50.0},
        "cli": {"seconds": 2.0, "cpu_s": 1.5, "peak_rss_mb": 60.0},
        "inproc": {"n": 2, "bytes": 20, "cold": part, "warm": part, "repeat": part},
        "large10000": large,
    }


def test_presidio_types_map_to_ours_and_threshold_applies(bench: ModuleType, tmp_path: Path) -> None:
    preds = tmp_path / "presidio.jsonl"
    spans = [
        {"type": "IBAN_CODE", "start": 0, "end": 22, "score": 1.0},
        {"type": "US_BANK_NUMBER", "start": 30, "end": 42, "score": 0.05},
        {"type": "DATE_TIME", "start": 50, "end": 60, "score": 0.85},
    ]
    preds.write_text(json.dumps({"id": "m1", "spans": spans}) + "\n")
    assert bench.presidio_spans(preds)["m1"] == [
        {"type": "IBAN", "start": 0, "end": 22},
        {"type": "US_BANK_ACCOUNT", "start": 30, "end": 42},
    ]
    assert bench.presidio_spans(preds, 0.5)["m1"] == [{"type": "IBAN", "start": 0, "end": 22}]
