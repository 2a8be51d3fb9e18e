"""schemathesis (CLI, every check) against the served OpenAPI document of /api/v1/check.

It generates schema-valid and schema-invalid drafts and asserts: no 5xx, status codes and
content types as documented, response bodies valid against the spec, valid drafts accepted,
invalid ones rejected. The guard runs in this test's loop; the CLI in a subprocess.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest
from chat_env import GuardFactory, route

from guard.testing_webhook import FakeWebhook

TOKEN = "schemathesis-token"


@pytest.mark.slow
async def test_schemathesis_finds_no_failures(start_guard: GuardFactory, tmp_path: Path) -> None:
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    if not Path(st).exists():
        pytest.skip("schemathesis is not installed (pip install schemathesis)")
    async with FakeWebhook("slack") as hook:
        guard = await start_guard(
            [route("support", "slack", hook), route("team", "discord", hook, audience="internal")],
            review={
                "api_tokens": [{"name": "st", "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}]
            },
        )
        proc = await asyncio.create_subprocess_exec(
            st,
            "run",
            guard.url("/api/v1/openapi.yaml"),
            "--url",
            guard.url("/"),
            "-H",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "all",
            "--max-examples",
            os.environ.get("ST_MAX_EXAMPLES", "80"),  # raise it for a longer hunt
            "--no-color",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-6000:]
    assert "No issues found" in report
    assert hook.requests == []  # checks never send
