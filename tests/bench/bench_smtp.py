"""SMTP relay benchmark: the guard vs a bare relay vs Postfix, in one run, same sink.

    python tests/bench/bench_smtp.py [--duration 4] [--sizes 10,100] [--conns 1,8,32] [--json out.json]

Systems, each relaying to the same sink (an aiosmtpd process that only counts):
  guard      `python -m guard serve` (full inspection, external recipient, INFO logs to a file)
  guard-w2   the same with `--workers 2` (SO_REUSEPORT)
  bare       aiosmtpd -> pooled aiosmtplib relay with no inspection (the guard's SmtpForwarder)
  postfix    a throwaway Postfix (root and postfix installed) relaying to the sink; it queues,
             so its latency is the accept latency; "e2e/s" counts arrivals at the sink

The load generator keeps C connections open and sends messages back to back on each for
`--duration` seconds (after a short warm-up), measuring every transaction. Messages are
prose with a signature (contact details only, so the guard's verdict is "allow" after
scanning all of it). Results: msgs/s, p50/p99 latency, guard/bare and guard/postfix ratios.
Not a pytest module (tests/bench is not collected): it runs for a couple of minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SENDER = "alice@example.com"
RCPT = "bob@partner.net"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_message(size_kb: int) -> bytes:
    from guard.testing import build_message, filler_text

    signature = "\n--\nAlice Example, Support Team\nalice@example.com | +1 415 555 0100\n"
    body = filler_text(size_kb * 1024 - 400 - len(signature), seed=size_kb) + signature
    return build_message(sender=SENDER, to=RCPT, subject=f"Status update ({size_kb} KB)", body=body)


# -- processes ------------------------------------------------------------------------------
def _sink_main(port: int, counter: Any) -> None:
    from aiosmtpd.smtp import SMTP

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with counter.get_lock():
                counter.value += 1
            return "250 2.0.0 Ok"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handler = Count()
        await loop.create_server(
            lambda: SMTP(handler, hostname="sink.bench", enable_SMTPUTF8=True, data_size_limit=None),
            "127.0.0.1",
            port,
        )
        await asyncio.Event().wait()

    asyncio.run(main())


def _bare_main(port: int, upstream: str) -> None:
    from aiosmtpd.smtp import SMTP

    from guard.delivery.base import Mail
    from guard.delivery.smtp import SmtpForwarder
    from guard.errors import DeliveryError

    forwarder = SmtpForwarder(upstream, local_hostname="bare.bench")

    class Relay:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            options = tuple(o for o in envelope.mail_options if not o.startswith("SIZE="))
            try:
                receipt = await forwarder.deliver(
                    Mail(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content, options)
                )
            except DeliveryError:
                return "451 4.4.0 upstream failed"
            return f"250 {receipt.message}"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handler = Relay()
        await loop.create_server(
            lambda: SMTP(handler, hostname="bare.bench", enable_SMTPUTF8=True), "127.0.0.1", port
        )
        await asyncio.Event().wait()

    asyncio.run(main())


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"220"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}")


def start_guard(work: Path, port: int, sink_port: int, workers: int) -> tuple[subprocess.Popen[bytes], Any]:
    cfg = work / f"guard-w{workers}.toml"
    cfg.write_text(f"""
data_dir = "{work / f"var-w{workers}"}"
[org]
internal_domains = ["example.com"]
[smtp]
listen = "127.0.0.1:{port}"
upstream = "smtp://127.0.0.1:{sink_port}"
hostname = "guard.bench"
max_commands = 1000000
[http]
enabled = false
[store]
url = "sqlite:///{work / f"var-w{workers}" / "guard.db"}"
[rules]
hash_key = "bench-hash-key"
""")
    log = (work / f"guard-w{workers}.log").open("wb")
    args = [sys.executable, "-m", "guard", "serve", "--config", str(cfg)]
    if workers > 1:
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    wait_port(port)
    if workers > 1:
        time.sleep(3)  # let every worker bind before measuring
    return proc, log


def stop(proc: subprocess.Popen[bytes] | Any) -> None:
    if isinstance(proc, subprocess.Popen):
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    else:
        proc.terminate()
        proc.join(10)


class Postfix:
    """A throwaway Postfix with an smtpd listener on loopback, relaying to the sink."""

    def __init__(self, root: Path, port: int, sink_port: int) -> None:
        self.root, self.etc = root, root / "etc"
        for sub in ("etc", "spool", "data"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        shutil.chown(root / "data", user="postfix")
        (root / "data").chmod(0o700)
        master = []
        keeping = False
        for line in Path("/etc/postfix/master.cf").read_text().splitlines():
            if not line or line.startswith("#"):
                continue
            if not line[0].isspace():
                f = line.split()
                keeping = f[1] in ("unix", "unix-dgram", "fifo") and f[0] not in (
                    "maildrop",
                    "uucp",
                    "ifmail",
                    "bsmtp",
                    "scalemail-backend",
                    "mailman",
                )
            if keeping:
                master.append(line)
        master.append(f"127.0.0.1:{port} inet n - n - - smtpd")
        (self.etc / "master.cf").write_text("\n".join(master) + "\n")
        (self.etc / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {root / "spool"}
data_directory = {root / "data"}
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{sink_port}
smtp_tls_security_level = none
message_size_limit = 52428800
maillog_file = {root / "maillog"}
maillog_file_prefixes = {root}
""")

    def start(self) -> None:
        subprocess.run(["postfix", "-c", str(self.etc), "start"], check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.etc), "stop"], capture_output=True)
        for _ in range(50):
            if subprocess.run(["postfix", "-c", str(self.etc), "status"], capture_output=True).returncode:
                break
            time.sleep(0.1)


def postfix_usable() -> str | None:
    if shutil.which("postfix") is None:
        return "postfix not installed"
    if os.geteuid() != 0:
        return "not root"
    return None


# -- load generator --------------------------------------------------------------------------
@dataclass
class Cell:
    system: str
    size_kb: int
    conns: int
    sent: int
    errors: int
    seconds: float
    msgs_per_s: float
    p50_ms: float
    p99_ms: float
    e2e_per_s: float


async def _reply(reader: asyncio.StreamReader) -> bytes:
    """One (possibly multi-line) SMTP reply."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            return line


async def drive(port: int, raw: bytes, conns: int, duration: float) -> tuple[list[float], int]:
    """C connections, each sending back to back with PIPELINING (MAIL+RCPT+DATA in one write,
    then the pre-stuffed content): a light client, so the system under test is what is measured."""
    from aiosmtplib.protocol import normalize_message_line_endings

    loop = asyncio.get_running_loop()
    stop_at = loop.time() + duration
    latencies: list[float] = []
    errors = 0
    envelope = f"MAIL FROM:<{SENDER}> SIZE={len(raw)}\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n".encode()
    content = normalize_message_line_endings(raw).replace(b"\r\n.", b"\r\n..") + b".\r\n"

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        await _reply(reader)
        writer.write(b"EHLO load.bench\r\n")
        await _reply(reader)
        try:
            while loop.time() < stop_at:
                t = time.perf_counter()
                writer.write(envelope)
                replies = [await _reply(reader) for _ in range(3)]
                if not replies[2].startswith(b"354"):
                    errors += 1
                    writer.write(b"RSET\r\n")
                    await _reply(reader)
                    continue
                writer.write(content)
                final = await _reply(reader)
                if final.startswith(b"250"):
                    latencies.append(time.perf_counter() - t)
                else:
                    errors += 1
        finally:
            writer.write(b"QUIT\r\n")
            with contextlib.suppress(Exception):
                await _reply(reader)
            writer.close()

    await asyncio.gather(*(worker() for _ in range(conns)))
    return latencies, errors


#: Messages acknowledged so far by any system; the sink must have them all before a cell starts.
_EXPECTED = [0]


def _await_sink(counter: Any, expected: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while counter.value < expected and time.monotonic() < deadline:
        time.sleep(0.01)


def measure(
    system: str, port: int, raw: bytes, size_kb: int, conns: int, duration: float, counter: Any
) -> Cell:
    warm, _ = asyncio.run(drive(port, raw, conns, 0.5))  # warm-up: pools, caches, first inspections
    _EXPECTED[0] += len(warm)
    _await_sink(counter, _EXPECTED[0])  # a queueing system (Postfix) delivers the warm-up first
    before = counter.value
    t0 = time.perf_counter()
    latencies, errors = asyncio.run(drive(port, raw, conns, duration))
    elapsed = time.perf_counter() - t0
    sent = len(latencies)
    _EXPECTED[0] += sent
    _await_sink(counter, _EXPECTED[0])
    e2e = time.perf_counter() - t0
    latencies.sort()
    p = (
        (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000)
        if latencies
        else (lambda q: 0.0)
    )
    return Cell(
        system,
        size_kb,
        conns,
        sent,
        errors,
        round(elapsed, 2),
        round(sent / elapsed, 1),
        round(p(0.50), 2),
        round(p(0.99), 2),
        round((counter.value - before) / e2e, 1),
    )


def _median_cell(cells: list[Cell]) -> Cell:
    """The round with the median throughput (its own latencies, so the figures belong together)."""
    ordered = sorted(cells, key=lambda c: c.msgs_per_s)
    return ordered[len(ordered) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per cell (after 0.5 s warm-up)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median round is reported")
    ap.add_argument("--sizes", default="10,100", help="message sizes in KB")
    ap.add_argument("--conns", default="1,8,32", help="concurrent connections")
    ap.add_argument("--systems", default="bare,guard,guard-w2,postfix")
    ap.add_argument("--json", help="also write the cells as JSON to this file")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops every process
    sizes = [int(x) for x in args.sizes.split(",")]
    conns_list = [int(x) for x in args.conns.split(",")]
    systems = args.systems.split(",")
    if "postfix" in systems and (why := postfix_usable()):
        print(f"postfix: skipped ({why})")
        systems.remove("postfix")

    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("q", 0)
    sink_port = free_port()
    sink = ctx.Process(target=_sink_main, args=(sink_port, counter), daemon=True)
    sink.start()
    wait_port(sink_port)
    messages = {kb: make_message(kb) for kb in sizes}
    work = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
    work.chmod(0o755)
    ports: dict[str, int] = {}
    handles: list[Any] = []
    postfix: Postfix | None = None
    runs: dict[tuple[str, int, int], list[Cell]] = {}
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    try:
        for system in systems:  # all systems run side by side; only the measured one gets traffic
            port = ports[system] = free_port()
            if system == "bare":
                proc = ctx.Process(
                    target=_bare_main, args=(port, f"smtp://127.0.0.1:{sink_port}"), daemon=True
                )
                proc.start()
                handles.append(proc)
                wait_port(port)
            elif system.startswith("guard"):
                handles.append(start_guard(work, port, sink_port, 2 if system == "guard-w2" else 1)[0])
            elif system == "postfix":
                postfix = Postfix(work / "pf", port, sink_port)
                postfix.start()
                wait_port(port)
        for r in range(args.rounds):
            for kb in sizes:
                for c in conns_list:
                    for system in systems:
                        cell = measure(system, ports[system], messages[kb], kb, c, args.duration, counter)
                        runs.setdefault((system, kb, c), []).append(cell)
                        print(
                            f"round {r + 1} {system:9} {kb:>4} KB x{c:<3} {cell.msgs_per_s:>8.1f} msgs/s"
                            f"  p50 {cell.p50_ms:>7.2f} ms  p99 {cell.p99_ms:>8.2f} ms"
                            f"  e2e {cell.e2e_per_s:>8.1f}/s  errors {cell.errors}",
                            flush=True,
                        )
    finally:
        if postfix is not None:
            postfix.stop()
        for handle in handles:
            stop(handle)
        sink.terminate()
        shutil.rmtree(work, ignore_errors=True)

    cells = [_median_cell(v) for v in runs.values()]
    by = {(c.system, c.size_kb, c.conns): c for c in cells}
    print(
        f"\nmedian of {args.rounds} interleaved rounds, {args.duration:.0f} s each; "
        f"load average after: {os.getloadavg()[0]:.2f}"
    )
    print(
        "size conns | guard msgs/s p50 ms p99 ms | bare msgs/s p50 ms | guard/bare +p50 ms"
        " | postfix msgs/s p50 ms e2e/s | guard/postfix | w2 msgs/s w2/w1"
    )
    for kb in sizes:
        for c in conns_list:
            g, b = by.get(("guard", kb, c)), by.get(("bare", kb, c))
            pf, w2 = by.get(("postfix", kb, c)), by.get(("guard-w2", kb, c))

            def fmt(cell: Cell | None, *fields: str) -> str:
                return " ".join(f"{getattr(cell, f):>8.1f}" if cell else f"{'-':>8}" for f in fields)

            ratio = f"{g.msgs_per_s / b.msgs_per_s:>5.2f}" if g and b and b.msgs_per_s else "    -"
            added = f"{g.p50_ms - b.p50_ms:>+7.2f}" if g and b else "      -"
            pf_ratio = f"{g.msgs_per_s / pf.msgs_per_s:>5.2f}" if g and pf and pf.msgs_per_s else "    -"
            w2_ratio = f"{w2.msgs_per_s / g.msgs_per_s:>5.2f}" if g and w2 and g.msgs_per_s else "    -"
            print(
                f"{kb:>3}K {c:>4} | {fmt(g, 'msgs_per_s', 'p50_ms', 'p99_ms')} |"
                f" {fmt(b, 'msgs_per_s', 'p50_ms')} |"
                f" {ratio} {added} | {fmt(pf, 'msgs_per_s', 'p50_ms', 'e2e_per_s')} | {pf_ratio} |"
                f" {fmt(w2, 'msgs_per_s')} {w2_ratio}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(c) for c in cells], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
