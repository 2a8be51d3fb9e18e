"""promtool checks: the alert rules, their unit tests, the scrape config and our exposition.

promtool comes from the Debian package `prometheus` (.ci/setup-extra.sh installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ops_helpers import ALERTS, DEPLOY
from prometheus_client import generate_latest

from guard.metrics import Metrics

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: apt-get install prometheus")


def promtool(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_check_rules_passes() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert b"SUCCESS" in result.stdout


def test_check_rules_rejects_a_broken_rule(tmp_path: Path) -> None:
    bad = tmp_path / "alerts.yml"
    bad.write_text(ALERTS.read_text().replace("max(guard_quarantine_items", "max(guard_quarantine_items{", 1))
    result = promtool("check", "rules", str(bad))
    assert result.returncode != 0


def test_alert_unit_tests_pass() -> None:
    """alerts_test.yml feeds series through the rules and expects exact alerts and texts."""
    result = promtool("test", "rules", "alerts_test.yml", cwd=DEPLOY / "prometheus")
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_alert_unit_tests_notice_a_changed_threshold(tmp_path: Path) -> None:
    shutil.copy(DEPLOY / "prometheus" / "alerts_test.yml", tmp_path)
    held = 'max(guard_quarantine_items{status="held"})'
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text().replace(f"{held} > 50", f"{held} > 70"))
    result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and b"GuardQuarantineBacklogHigh" in result.stdout + result.stderr


def test_scrape_config_is_valid() -> None:
    result = promtool("check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_exposition_passes_the_metrics_linter() -> None:
    """Naming conventions (units, _total, help text) as promtool checks them."""
    body = generate_latest(Metrics().registry)
    result = promtool("check", "metrics", stdin=body)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.strip() == b"", result.stdout.decode()


def test_metrics_linter_can_complain() -> None:
    body = b"# HELP guard_bad_count Bad.\n# TYPE guard_bad_count counter\nguard_bad_count 1\n"
    result = promtool("check", "metrics", stdin=body)
    assert result.returncode != 0 and b"_total" in result.stdout + result.stderr
