"""Chat proxy and check API throughput, in one run (not a timed test; run by hand).

    apt-get install wrk       # the load generator (an asyncio fallback is used without it)
    python tests/bench/bench_chat.py [--seconds 8] [--connections 8,64]

Processes, all on loopback: a Slack-like upstream (200 `ok`), a bare aiohttp forwarder to it
(one shared ClientSession, the floor for any proxy), the guard's chat route (external
audience, the real rules) and the guard's /api/v1/check. Payloads: 1 KB clean Slack JSON;
1 KB clean email drafts. Reported per target and connection count: requests/s, p50 and p99,
and for the guard the share of the bare forwarder's throughput and the p50 added latency.
The guard logs one line per decision (to /dev/null here), as it would in production.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKEN = "bench-token"
WORDS = (
    "deploy",
    "finished",
    "for",
    "the",
    "service",
    "review",
    "pipeline",
    "green",
    "team",
    "please",
    "check",
    "dashboard",
    "release",
    "notes",
    "tomorrow",
    "morning",
    "weekly",
    "report",
    "ready",
)


def clean_text(size: int) -> str:
    out, i = [], 0
    while sum(len(w) + 1 for w in out) < size:
        out.append(WORDS[i % len(WORDS)])
        i += 7
    return " ".join(out)[:size]


def slack_payload() -> bytes:
    body = {"text": "", "username": "ci-bot", "icon_emoji": ":rocket:"}
    body["text"] = clean_text(1024 - len(json.dumps(body)))
    return json.dumps(body).encode()


def check_payload() -> bytes:
    body = {"from": "agent@example.com", "to": ["ops@partner.test"], "subject": "Status", "text": ""}
    body["text"] = clean_text(1024 - len(json.dumps(body)))
    return json.dumps(body).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the three servers, each run as `python bench_chat.py --serve KIND PORT [UPSTREAM]` ---------------------
def serve_upstream(port: int) -> None:
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"ok", content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_bare(port: int, upstream: str) -> None:
    """The smallest honest forwarder: read, POST upstream over one session, copy status/body/type."""
    import aiohttp
    from aiohttp import web

    async def start(app: web.Application) -> None:
        app["session"] = aiohttp.ClientSession(auto_decompress=False)

    async def stop(app: web.Application) -> None:
        await app["session"].close()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with request.app["session"].post(upstream, data=body, headers=headers) as resp:
            data = await resp.read()
            out = web.Response(status=resp.status, body=data)
            if "Content-Type" in resp.headers:
                out.headers["Content-Type"] = resp.headers["Content-Type"]
            return out

    app = web.Application()
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/hooks/{name}", forward)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_guard(port: int, upstream: str) -> None:
    """The guard as `guard serve` builds it (composition root, audit of every verdict), SMTP off."""
    from guard.app import build_services, serve_forever
    from guard.config import load_settings
    from guard.logs import get_logger

    data = tempfile.mkdtemp(prefix="guard-bench-")
    settings = load_settings(
        None,
        data_dir=data,
        smtp={"enabled": False},
        http={"listen": f"127.0.0.1:{port}"},
        store={"url": f"sqlite:///{data}/guard.db"},
        rules={"hash_key": "bench"},
        log={"format": "json", "level": "INFO"},
        chat={"routes": [{"name": "bench", "format": "slack", "upstream": upstream, "audience": "external"}]},
        review={
            "api_tokens": [{"name": "bench", "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}],
        },
    )
    services = build_services(settings)
    devnull = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)
    services.log = get_logger("guard", settings.log, stream=devnull)  # a line per decision, as deployed
    asyncio.run(serve_forever(services))


# -- load ----------------------------------------------------------------------------------------------------
def _wrk(
    url: str, body: bytes, headers: dict[str, str], connections: int, seconds: float, pin: bool
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        lua_headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
        fh.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n{lua_headers}')
        script = fh.name
    threads = "1" if connections < 16 or pin else "2"
    cmd = [
        *(["taskset", "-c", "1"] if pin else []),
        "wrk",
        "-t",
        threads,
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--latency",
        "-s",
        script,
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    os.unlink(script)
    out = proc.stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk failed: {out}{proc.stderr}")
    rps = float(found.group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    failed = float(errors.group(1)) if errors else 0.0
    total = re.search(r"(\d+) requests in", out)
    n = float(total.group(1)) if total else 0.0
    return {"rps": rps, "p50": pct("50"), "p99": pct("99"), "errors": failed, "n": n}


async def _asyncio_load(
    url: str, body: bytes, headers: dict[str, str], connections: int, seconds: float
) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                errors += resp.status >= 300
            latencies.append((time.perf_counter() - t0) * 1000)

    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=conn) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "errors": float(errors),
        "n": float(len(latencies)),
    }


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process: cost per request that neighbours' load does not distort."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _median(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}


def load(
    url: str, body: bytes, headers: dict[str, str], connections: int, seconds: float, pin: bool = False
) -> dict[str, float]:
    if shutil.which("wrk"):
        return _wrk(url, body, headers, connections, seconds, pin)
    return asyncio.run(_asyncio_load(url, body, headers, connections, seconds))


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", default="8,64")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin processes to CPUs")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        kind, port, *rest = args.serve
        {
            "upstream": lambda: serve_upstream(int(port)),
            "bare": lambda: serve_bare(int(port), rest[0]),
            "guard": lambda: serve_guard(int(port), rest[0]),
        }[kind]()
        return 0

    ports = {k: free_port() for k in ("upstream", "bare", "guard")}
    upstream = f"http://127.0.0.1:{ports['upstream']}/services/T0/B0/X"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pin = bool(args.pin and shutil.which("taskset") and (os.cpu_count() or 1) >= 2)
    cpu = {"upstream": "1", "bare": "0", "guard": "0"}
    procs = [
        subprocess.Popen(
            [
                *(["taskset", "-c", cpu[kind]] if pin else []),
                sys.executable,
                __file__,
                "--serve",
                kind,
                str(ports[kind]),
                upstream,
            ],
            env=env,
        )
        for kind in ("upstream", "bare", "guard")
    ]
    try:
        for port in ports.values():
            wait_port(port)
        slack, draft = slack_payload(), check_payload()
        js = {"Content-Type": "application/json"}
        auth = {**js, "Authorization": f"Bearer {TOKEN}"}
        targets = {
            "bare": (f"http://127.0.0.1:{ports['bare']}/hooks/bench", slack, js),
            "guard": (f"http://127.0.0.1:{ports['guard']}/hooks/bench", slack, js),
            "check": (f"http://127.0.0.1:{ports['guard']}/api/v1/check", draft, auth),
        }
        server_pid = {"bare": procs[1].pid, "guard": procs[2].pid, "check": procs[2].pid}
        for url, body, headers in targets.values():  # warm-up: connections, rule caches
            load(url, body, headers, 8, 1.0, pin)
        tool = "wrk" if shutil.which("wrk") else "asyncio"
        print(
            f"load generator: {tool}; {args.seconds:.0f} s per cell, "
            f"median of {args.rounds} interleaved rounds; "
            f"payloads {len(slack)} B slack, {len(draft)} B draft; {os.cpu_count()} CPUs; "
            f"pinned: {'proxies on CPU 0, upstream+load on CPU 1' if pin else 'no'}"
        )
        print(
            f"{'target':<7} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
            f"{'cpu us/req':>10}  notes"
        )
        for conns in (int(c) for c in args.connections.split(",")):
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (url, body, headers) in targets.items():
                    cpu0 = cpu_seconds(server_pid[name])
                    r = load(url, body, headers, conns, args.seconds, pin)
                    r["cpu_us"] = (cpu_seconds(server_pid[name]) - cpu0) / max(r["n"], 1) * 1e6
                    rounds[name].append(r)
            results = {name: _median(rs) for name, rs in rounds.items()}
            for name, r in results.items():
                note = ""
                if name == "guard":
                    bare = results["bare"]
                    note = (
                        f"{r['rps'] / bare['rps']:.0%} of bare req/s, "
                        f"{bare['cpu_us'] / r['cpu_us']:.0%} by CPU per request; "
                        f"p50 +{r['p50'] - bare['p50']:.2f} ms (target >= 60%, <= +1 ms)"
                    )
                if name == "check":
                    ceiling = 1e6 / r["cpu_us"]
                    note = f"target >= 3000 req/s; CPU-bound ceiling {ceiling:.0f} req/s on one core"
                print(
                    f"{name:<7} {conns:>5} {r['rps']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
                    f"{r['errors']:>8.0f} {r['cpu_us']:>10.0f}  {note}",
                    flush=True,
                )
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
