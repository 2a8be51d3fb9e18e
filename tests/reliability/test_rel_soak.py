"""A 30-second soak in CI (tests/bench/soak.py; run it for 10 minutes by hand): steady mail and
webhook load on a real `guard serve`; nothing is lost, file descriptors and memory do not grow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.bench.soak import run_soak

SECONDS = float(os.environ.get("RELIABILITY_SOAK_S", "30"))
FD_SLACK = 4  # beyond the first half's peak (pooled upstream connections come and go)
RSS_GROWTH_MIB = 40.0


@pytest.mark.slow
async def test_soak_30s_nothing_lost_nothing_leaks(tmp_path: Path) -> None:
    report = await run_soak(
        SECONDS, smtp_rate=20, hook_rate=20, workdir=tmp_path, warmup_s=min(8.0, SECONDS / 3)
    )
    print("\nSOAK " + report.summary())
    assert report.lost == 0
    assert report.tracebacks == 0
    assert report.skipped == 0
    assert report.smtp_outcomes == {"acked": report.smtp_sent}, report.smtp_outcomes
    assert set(report.hook_outcomes) == {"200"}, report.hook_outcomes
    # No leak: the second half never goes beyond what the first half needed (pools are bounded).
    half = len(report.samples) // 2
    first_peak_fds = max(s.fds for s in report.samples[:half])
    assert max(s.fds for s in report.samples[half:]) <= first_peak_fds + FD_SLACK, [
        s.fds for s in report.samples
    ]
    assert report.rss_mib["end"] - report.rss_mib["after_warmup"] <= RSS_GROWTH_MIB, report.rss_mib
    print(f"SOAK fds per second: {[s.fds for s in report.samples]}")
    print(f"SOAK RSS MiB per second: {[s.rss_mib for s in report.samples]}")
