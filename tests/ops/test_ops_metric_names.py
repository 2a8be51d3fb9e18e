"""Alerts, dashboard, deploy files and docs refer only to metrics the guard really exports,
and every label the guard exports takes values from a bounded, known set.
"""

from __future__ import annotations

import re

import pytest
from ops_helpers import (
    DEPLOY,
    DOCS,
    PROMETHEUS_SYNTHETIC,
    alert_rules,
    dashboard,
    dashboard_exprs,
    exported_families,
    exported_names,
    promql_metric_names,
)

from guard import __version__
from guard.metrics import (
    OTHER_TYPE,
    REPLY_CLASSES,
    REVIEW_ACTIONS,
    STATUSES,
    TLS_VALUES,
    UPSTREAM_CHANNELS,
    Metrics,
    entity_label,
)
from guard.model import ENTITY_TYPES, Action, Audience, Channel


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return exported_names(Metrics().registry)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        (
            'sum by (channel, le) (rate(guard_x_bucket{channel="smtp", i=~"$instance"}[$__rate_interval]))',
            {"guard_x_bucket"},
        ),
        ("histogram_quantile(0.99, sum by (le) (rate(a_bucket[5m]))) > 1", {"a_bucket"}),
        ("max(guard_age_seconds) > 4 * 3600 and on(instance) b offset 5m", {"guard_age_seconds", "b"}),
        ('label_replace(c, "dst", "$1", "src", "(.*)") / ignoring(class) d', {"c", "d"}),
        ("sum without (type) (e) unless f == bool 1e3", {"e", "f"}),
    ],
)
def test_promql_name_extraction(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_alerts_use_exported_metrics(exported: set[str]) -> None:
    rules = alert_rules()
    assert len(rules) >= 10
    used: set[str] = set()
    for rule in rules:
        names = promql_metric_names(rule["expr"])
        assert names, rule["alert"]
        used |= names
    assert sorted(used - exported - PROMETHEUS_SYNTHETIC) == []


def test_alerts_cover_what_operations_must_see() -> None:
    text = " ".join(rule["expr"] for rule in alert_rules())
    for needed in (
        'guard_quarantine_items{status="held"}',
        "guard_quarantine_oldest_held_age_seconds",
        "guard_upstream_replies_total",
        "guard_inspection_errors_total",
        "guard_smtp_auth_failures_total",
    ):
        assert needed in text, needed


def test_shared_backlog_gauges_are_never_summed() -> None:
    """Every instance reports the same shared-store backlog: sum() would multiply it."""
    exprs = [r["expr"] for r in alert_rules()] + dashboard_exprs(dashboard())
    for expr in exprs:
        assert not re.search(r"sum[^(]*\([^()]*guard_(quarantine|store_up)", expr), expr


def test_dashboard_uses_exported_metrics(exported: set[str]) -> None:
    exprs = dashboard_exprs(dashboard())
    assert len(exprs) >= 15
    used = set().union(*(promql_metric_names(e) for e in exprs))
    assert sorted(used - exported - PROMETHEUS_SYNTHETIC) == []
    # Each guard metric family appears on the dashboard.
    families = {n for n in exported_families(Metrics().registry) if n.startswith("guard_")}
    shown = {f for f in families if any(u.startswith(f) for u in used)}
    assert sorted(families - shown) == []


def test_deploy_files_and_docs_name_only_exported_metrics(exported: set[str]) -> None:
    families = set(exported_families(Metrics().registry))
    known = exported | families
    suffixes = {".yml", ".yaml", ".json", ".toml", ".service", ".py", ""}
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in suffixes]
    files += [DOCS]
    assert len(files) > 10
    for path in files:
        names = set(re.findall(r"\bguard_[a-z0-9_]*[a-z0-9]\b", path.read_text(encoding="utf-8")))
        unknown = sorted(n for n in names if n not in known)
        assert unknown == [], f"{path}: {unknown}"


def test_docs_reference_every_exported_family() -> None:
    text = DOCS.read_text(encoding="utf-8")
    registry = Metrics().registry
    missing = []
    for name, family in exported_families(registry).items():
        if not name.startswith("guard_"):
            continue
        if not any(s.name in text for s in family.samples) and f"`{name}`" not in text:
            missing.append(name)
    assert missing == []


# -- bounded labels --------------------------------------------------------------------------
BOUNDED: dict[str, set[str]] = {
    "channel": {c.value for c in Channel} | set(UPSTREAM_CHANNELS),
    "audience": {a.value for a in Audience},
    "action": {a.value for a in Action} | set(REVIEW_ACTIONS),
    "type": set(ENTITY_TYPES) | {OTHER_TYPE},
    "class": set(REPLY_CLASSES),
    "tls": set(TLS_VALUES),
    "status": set(STATUSES),
    "version": {__version__},
}


def assert_labels_bounded(metrics: Metrics) -> int:
    """Every label of every guard sample is a known name with a value from its set."""
    checked = 0
    for family in metrics.registry.collect():
        if not family.name.startswith("guard_"):
            continue
        for sample in family.samples:
            for label, value in sample.labels.items():
                if label == "le":
                    assert value == "+Inf" or float(value) > 0
                    continue
                assert label in BOUNDED, f"{sample.name}: unexpected label {label}"
                assert value in BOUNDED[label], f"{sample.name}{{{label}={value!r}}}"
                checked += 1
    return checked


def test_initialised_labels_are_bounded_and_complete() -> None:
    metrics = Metrics()
    assert assert_labels_bounded(metrics) > 200
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in metrics.registry.collect()
        for s in f.samples
    }
    # Every combination exists at zero from the start (rates work from the first scrape).
    for channel in Channel:
        for audience in Audience:
            for action in Action:
                labels = (("action", action), ("audience", audience), ("channel", channel))
                assert values[("guard_messages_total", labels)] == 0
    for status in STATUSES:
        assert values[("guard_quarantine_items", (("status", status),))] == 0
    for up in UPSTREAM_CHANNELS:
        for klass in REPLY_CLASSES:
            assert values[("guard_upstream_replies_total", (("channel", up), ("class", klass)))] == 0
    assert values[("guard_build_info", (("version", __version__),))] == 1


def test_a_value_passed_as_entity_type_never_becomes_a_label() -> None:
    metrics = Metrics()
    metrics.count_verdict(
        "smtp",
        "external",
        "quarantine",
        {
            "CREDIT_CARD": 2,
            "4111 1111 1111 1111": 1,
            "jane@example.org": 1,
            "credit_card": 1,
        },
    )
    assert_labels_bounded(metrics)
    get = metrics.registry.get_sample_value
    assert get("guard_findings_total", {"channel": "smtp", "type": "CREDIT_CARD"}) == 2
    assert get("guard_findings_total", {"channel": "smtp", "type": OTHER_TYPE}) == 3
    labels = {"channel": "smtp", "audience": "external", "action": "quarantine"}
    assert get("guard_messages_total", labels) == 1


@pytest.mark.parametrize(
    ("given", "label"),
    [
        ("US_SSN", "US_SSN"),
        ("EMPLOYEE_ID", "EMPLOYEE_ID"),
        ("4111111111111111", OTHER_TYPE),
        ("a@b.c", OTHER_TYPE),
        ("X" * 41, OTHER_TYPE),
        ("", OTHER_TYPE),
        ("PASS PORT", OTHER_TYPE),
    ],
)
def test_entity_label(given: str, label: str) -> None:
    assert entity_label(given) == label


def test_the_bounded_label_check_can_fail() -> None:
    metrics = Metrics()
    metrics.upstream_replies.labels("smtp", "250 2.0.0 ok").inc()
    with pytest.raises(AssertionError, match=r"250 2\.0\.0 ok"):
        assert_labels_bounded(metrics)
