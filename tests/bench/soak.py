"""Soak: a real `guard serve` under a steady mixed load of mail and webhooks, for a bounded time.

    python tests/bench/soak.py [--minutes 10] [--smtp-rate 40] [--hook-rate 40] [--json soak.json]

The guard relays to an aiosmtpd sink and forwards to a fake Slack webhook (both in this
process) and quarantines into SQLite. An open-loop generator starts a new SMTP transaction
(own connection, like an agent) and a new webhook POST at fixed rates, whatever the guard's
speed; 20 % of each carry a card number for an external recipient (held), 10 % of the mail
goes to an internal recipient with an SSN (relayed). Every second it samples the guard's RSS
and open file descriptors. At the end it checks that every acknowledged message is at the
sink, at the webhook or in the quarantine, and reports throughput, latency percentiles,
memory and fd over time. tests/reliability/test_rel_soak.py runs it for 30 seconds in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from guard.config import load_settings  # noqa: E402
from guard.store.crypto import new_key  # noqa: E402
from guard.testing import SmtpSink, build_message  # noqa: E402
from guard.testing_webhook import FakeWebhook  # noqa: E402
from tests.reliability.relkit import (  # noqa: E402
    EXTERNAL,
    INTERNAL,
    GuardProcess,
    fd_count,
    new_tag,
    quarantine_tags,
    rss_kib,
    sink_tags,
    smtp_attempt,
)
from tests.reliability.sensitive_samples import CARD, SSN  # noqa: E402

MAX_IN_FLIGHT = 256


@dataclass
class Sample:
    t: float
    rss_mib: float
    fds: int
    smtp_done: int
    hook_done: int


@dataclass
class SoakReport:
    duration_s: float
    smtp_rate: float
    hook_rate: float
    smtp_sent: int = 0
    hook_sent: int = 0
    smtp_outcomes: dict[str, int] = field(default_factory=dict)
    hook_outcomes: dict[str, int] = field(default_factory=dict)
    smtp_per_s: float = 0.0
    hook_per_s: float = 0.0
    smtp_latency_ms: dict[str, float] = field(default_factory=dict)
    hook_latency_ms: dict[str, float] = field(default_factory=dict)
    lost: int = 0
    skipped: int = 0  # starts not made because MAX_IN_FLIGHT requests were still open
    rss_mib: dict[str, float] = field(default_factory=dict)
    fds: dict[str, int] = field(default_factory=dict)
    tracebacks: int = 0
    samples: list[Sample] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"soak {self.duration_s:.0f}s: smtp {self.smtp_sent} sent {self.smtp_outcomes} "
            f"{self.smtp_per_s:.1f}/s p50 {self.smtp_latency_ms.get('p50')} ms "
            f"p99 {self.smtp_latency_ms.get('p99')} ms; "
            f"webhook {self.hook_sent} sent {self.hook_outcomes} {self.hook_per_s:.1f}/s "
            f"p50 {self.hook_latency_ms.get('p50')} ms p99 {self.hook_latency_ms.get('p99')} ms; "
            f"lost {self.lost}; skipped {self.skipped}; RSS MiB {self.rss_mib}; fds {self.fds}; "
            f"tracebacks {self.tracebacks}"
        )


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

    return {
        "p50": q(0.50),
        "p90": q(0.90),
        "p99": q(0.99),
        "max": round(ordered[-1] * 1000, 1),
        "mean": round(statistics.fmean(ordered) * 1000, 1),
    }


async def _webhook(http: aiohttp.ClientSession, url: str, text: str) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    try:
        async with http.post(url, json={"text": text}, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            await resp.read()
            return resp.status, resp.headers.get("X-Guard-Quarantine-Id", ""), time.perf_counter() - t0
    except (aiohttp.ClientError, TimeoutError):
        return 0, "", time.perf_counter() - t0


async def run_soak(
    duration_s: float,
    smtp_rate: float,
    hook_rate: float,
    workdir: Path,
    warmup_s: float = 5.0,
    log: Any = None,
) -> SoakReport:
    report = SoakReport(duration_s, smtp_rate, hook_rate)
    async with SmtpSink() as sink, FakeWebhook("slack") as hook:
        guard = GuardProcess(
            workdir / "guard",
            {
                "org": {"internal_domains": ["example.com"]},
                "smtp": {"upstream": sink.url},
                "store": {"keys": {"k1": new_key()}},
                "chat": {
                    "routes": [
                        {
                            "name": "support",
                            "format": "slack",
                            "audience": "external",
                            "upstream": hook.url("/services/T0/B0/X"),
                        }
                    ]
                },
                "log": {"format": "json", "level": "WARNING"},
            },
        )
        await guard.start()
        smtp_results: list[tuple[str, str, Any]] = []  # (tag, kind, Attempt)
        hook_results: list[tuple[str, str, int, str, float]] = []  # (tag, kind, status, qid, seconds)
        in_flight: set[asyncio.Task[Any]] = set()
        hook_url = f"http://127.0.0.1:{guard.http_port}/hooks/support"
        started = time.monotonic()

        async def one_mail(n: int) -> None:
            tag = new_tag()
            kind = "card" if n % 5 == 0 else "internal" if n % 10 == 1 else "clean"
            rcpts, body = {
                "card": ([EXTERNAL], f"Customer card {CARD}, please refund.\n"),
                "internal": ([INTERNAL], f"Verified SSN {SSN} for the account.\n"),
                "clean": ([EXTERNAL], "The shipment left the warehouse this morning.\n"),
            }[kind]
            raw = build_message(to=rcpts, subject=f"soak {n}", body=body, headers={"X-Test-Id": tag})
            attempt = await smtp_attempt(guard.smtp_port, raw, tag=tag, kind=kind, rcpts=rcpts, timeout=30)
            smtp_results.append((tag, kind, attempt))

        async def one_hook(http: aiohttp.ClientSession, n: int) -> None:
            tag = new_tag()
            kind = "card" if n % 5 == 0 else "clean"
            text = f"ticket {tag}: card {CARD}" if kind == "card" else f"ticket {tag}: deploy finished"
            status, qid, seconds = await _webhook(http, hook_url, text)
            hook_results.append((tag, kind, status, qid, seconds))

        def launch(coro: Any) -> None:
            if len(in_flight) >= MAX_IN_FLIGHT:
                report.skipped += 1
                coro.close()
                return
            task = asyncio.ensure_future(coro)
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)

        async def sampler() -> None:
            while True:
                report.samples.append(
                    Sample(
                        round(time.monotonic() - started, 1),
                        round(rss_kib(guard.pid) / 1024, 1),
                        fd_count(guard.pid),
                        len(smtp_results),
                        len(hook_results),
                    )
                )
                if log is not None and len(report.samples) % 30 == 0:
                    s = report.samples[-1]
                    print(
                        f"  t={s.t:.0f}s rss={s.rss_mib} MiB fds={s.fds} "
                        f"smtp={s.smtp_done} hooks={s.hook_done}",
                        file=log,
                        flush=True,
                    )
                await asyncio.sleep(1.0)

        sampling = asyncio.create_task(sampler())
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
                n_mail = n_hook = 0
                tick = 0.01
                while (elapsed := time.monotonic() - started) < duration_s:
                    while n_mail < elapsed * smtp_rate:
                        launch(one_mail(n_mail))
                        n_mail += 1
                    while n_hook < elapsed * hook_rate:
                        launch(one_hook(http, n_hook))
                        n_hook += 1
                    await asyncio.sleep(tick)
                if in_flight:
                    await asyncio.wait(set(in_flight), timeout=60)
                report.smtp_sent, report.hook_sent = n_mail, n_hook
        finally:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            rc = await guard.terminate(60)
        wall = time.monotonic() - started

        # Accounting: every acknowledgement is somewhere.
        held, by_id = await quarantine_tags(load_settings(guard.config_path))
        delivered = sink_tags(sink.messages)
        hook_texts = {
            r.json().get("text", "").split(":", 1)[0].removeprefix("ticket ") for r in hook.requests
        }
        lost = 0
        for tag, kind, attempt in smtp_results:
            if attempt.outcome != "acked":
                continue
            if kind == "card":
                qid = attempt.text.split(" as ", 1)[1].split()[0] if " as " in attempt.text else ""
                lost += by_id.get(qid) != tag
            else:
                lost += delivered[tag] < 1
        for tag, kind, status, qid, _ in hook_results:
            if 200 <= status < 300:
                lost += (by_id.get(qid) is None) if kind == "card" else (tag not in hook_texts)
        report.lost = int(lost)
        report.smtp_outcomes = dict(Counter(a.outcome for _, _, a in smtp_results))
        report.hook_outcomes = dict(Counter(str(s) for _, _, s, _, _ in hook_results))
        report.smtp_per_s = round(sum(1 for *_, a in smtp_results if a.outcome == "acked") / wall, 1)
        report.hook_per_s = round(sum(1 for _, _, s, _, _ in hook_results if 200 <= s < 300) / wall, 1)
        report.smtp_latency_ms = percentiles([a.seconds for *_, a in smtp_results])
        report.hook_latency_ms = percentiles([r[4] for r in hook_results])
        warm = [s for s in report.samples if s.t >= warmup_s] or report.samples
        report.rss_mib = {
            "start": report.samples[0].rss_mib,
            "after_warmup": warm[0].rss_mib,
            "end": report.samples[-1].rss_mib,
            "max": max(s.rss_mib for s in report.samples),
        }
        report.fds = {
            "start": report.samples[0].fds,
            "after_warmup": warm[0].fds,
            "end": report.samples[-1].fds,
            "max": max(s.fds for s in report.samples),
        }
        report.tracebacks = len(guard.tracebacks()) + (rc != 0)
        del held
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--smtp-rate", type=float, default=40.0, help="new SMTP transactions per second")
    parser.add_argument("--hook-rate", type=float, default=40.0, help="new webhook requests per second")
    parser.add_argument("--json", help="write the full report (with per-second samples) here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="guard-soak-") as tmp:
        report = asyncio.run(
            run_soak(
                args.minutes * 60,
                args.smtp_rate,
                args.hook_rate,
                Path(tmp),
                warmup_s=min(30.0, args.minutes * 6),
                log=sys.stdout,
            )
        )
    print(report.summary())
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=1))
    sys.exit(0 if report.lost == 0 and report.tracebacks == 0 else 1)


if __name__ == "__main__":
    main()
