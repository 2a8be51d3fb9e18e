#!/usr/bin/env python3
"""Container health check: exit 0 if the guard's /healthz answers 200, else 1.

Standard library only (the slim image has no curl). The port comes from GUARD_HTTP__LISTEN,
the same variable the guard reads, so the check follows a changed listener; a wildcard host
is probed on loopback. Usage: guard-healthcheck [PATH]   (default /healthz)
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 3.0


def probe_url(listen: str, path: str) -> str:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    url = probe_url(os.environ.get("GUARD_HTTP__LISTEN", "127.0.0.1:8025"), path)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            ok = resp.status == 200
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if not ok:
        print(f"unhealthy: {url}: status {resp.status}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
