"""schemathesis against the served quarantine OpenAPI document, on a running guard with held items."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from quarantine_helpers import TOKENS, mail_item


@pytest.mark.slow
async def test_schemathesis_finds_no_failures(make_guard, smtp_sink, tmp_path: Path) -> None:
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    if not Path(st).exists():
        pytest.skip("schemathesis is not installed (pip install schemathesis)")
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    for i in range(3):
        await g.store.put(mail_item(marker=str(i)))
    proc = await asyncio.create_subprocess_exec(
        st,
        "run",
        g.base + "/api/v1/openapi-quarantine.yaml",
        "--url",
        g.base + "/",
        "-H",
        f"Authorization: Bearer {TOKENS['admin']}",
        "--checks",
        "all",
        "--max-examples",
        "10",
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=150)
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-6000:]
    assert "No issues found" in report
