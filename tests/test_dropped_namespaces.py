"""One rule for "a namespace dropped", shared by the digest and the namespace-drop alert."""

from __future__ import annotations

from agent import figures
from agent.ask import AgentDeps, answer_preset
from agent.periods import baseline, this_week
from agent.settings import SourceSettings
from agent.sources import make_source
from agent.sources.base import Scope
from agent.tools import run_tool
from agent.understand.model import Understanding
from tests.conftest import NOW
from tests.expect import expected


def _row(name, before, after):
    def stats(gh, util):
        return None if gh is None else {"gpu_hours": gh, "avg_utilization": util}
    b, a = stats(*before), stats(*after)
    both = b is not None and a is not None and b["gpu_hours"] > 0 and a["gpu_hours"] > 0
    return {"name": name, "before": b, "after": a,
            "delta_pp": a["avg_utilization"] - b["avg_utilization"] if both else None}


def test_a_drop_needs_the_threshold_both_periods_and_a_material_share():
    rows = [
        _row("big-drop", (500, 80.0), (400, 60.0)),       # −20 pp, 40 % of GPU-hours
        _row("small-drop", (500, 80.0), (400, 77.0)),     # −3 pp: below the threshold
        _row("tiny-team", (2, 90.0), (3, 10.0)),          # −80 pp but 0.3 % of GPU-hours
        _row("new-team", (None, None), (197, 5.0)),       # started: new, not a drop
        _row("rose", (100, 20.0), (0.0001, 50.0)),
    ]
    out = figures.dropped_namespaces(rows, 5.0, min_share_pct=2.0)
    assert [r["name"] for r in out] == ["big-drop"]
    assert abs(out[0]["drop_pp"] - 20.0) < 1e-9
    assert abs(out[0]["share_pct"] - 400 / 1000.0001 * 100) < 1e-6
    # alerts set a GPU-hour floor instead of a share: tiny-team goes, then comes back at 0
    assert [r["name"] for r in figures.dropped_namespaces(rows, 5.0, min_gpu_hours=50)] == ["big-drop"]
    assert [r["name"] for r in figures.dropped_namespaces(rows, 5.0)] == ["tiny-team", "big-drop"]


def test_on_the_demo_ml_team_dropped_this_week(demo_db):
    src = make_source(SourceSettings(database_url=demo_db))
    period = this_week(NOW)
    rows = figures.children_compare(src, Scope("cluster", "gpu-east"), "namespace", period,
                                    baseline(period))
    out = figures.dropped_namespaces(rows, 5.0, min_share_pct=2.0)
    assert [r["name"] for r in out] == ["ml-team"]
    where = "cluster_name = ? AND namespace = ?"
    now_ = expected(demo_db, "namespace_gpu_hourly_stats", where, ("gpu-east", "ml-team"),
                    period.start, period.end)
    then = expected(demo_db, "namespace_gpu_hourly_stats", where, ("gpu-east", "ml-team"),
                    baseline(period).start, baseline(period).end)
    assert abs(out[0]["drop_pp"] - (then["avg_utilization"] - now_["avg_utilization"])) < 1e-9


def test_the_week_over_week_table_and_freshness_are_agent_tools(demo_db):
    """Reports get their tables from the agent, through the same path as ``ask``."""
    src = make_source(SourceSettings(database_url=demo_db))
    deps = AgentDeps(src, NOW)
    period = this_week(NOW)
    base = baseline(period)
    args = {"scope": {"kind": "cluster", "cluster": "gpu-east"}, "child": "namespace",
            "period": {"start": period.as_dict()["start"], "end": period.as_dict()["end"]},
            "baseline": {"start": base.as_dict()["start"], "end": base.as_dict()["end"]}}
    _, art = run_tool("compare_children", args, src, NOW)
    assert {r["name"] for r in art["rows"]} >= {"ml-team", "cv-team"}
    _, fresh = run_tool("get_data_freshness", {"cluster": None}, src, NOW)
    assert {c["cluster"] for c in fresh["clusters"]} == {"gpu-east", "gpu-west", "gpu-lab"}
    assert all(c["newest"] == "2026-11-19T11:00:00Z" and c["age_hours"] == 0.0
               for c in fresh["clusters"])
    # and a preset goes through the same entry point as ``ask``
    u = Understanding(question="Why did ml-team drop?", intent="drilldown", confidence=1.0,
                      cluster="gpu-east", namespace="ml-team", period=period, baseline=base)
    ans = answer_preset(u, deps)
    assert ans.intent == "drilldown" and ans.headline.startswith("Utilization of ml-team")
    assert abs(ans.figures["total_delta_pp"] + rows_drop(art["rows"], "ml-team")) < 1e-9


def rows_drop(rows, name):
    return -next(r for r in rows if r["name"] == name)["delta_pp"]


def test_a_compare_preset_can_carry_the_children_table_and_freshness_is_askable(demo_db):
    src = make_source(SourceSettings(database_url=demo_db))
    deps = AgentDeps(src, NOW)
    period = this_week(NOW)
    u = Understanding(question="How did each namespace of gpu-east compare with last week?",
                      intent="compare", confidence=1.0, cluster="gpu-east", period=period,
                      baseline=baseline(period), breakdown="namespace")
    ans = answer_preset(u, deps)
    rows = {r["name"]: r for r in ans.figures["children"]}
    assert ans.figures["child"] == "namespace" and "ml-team" in rows
    assert abs(rows["ml-team"]["delta_pp"] + 16.678946108020668) < 1e-6
    assert any(i.startswith("Largest changes: ml-team −16.7 pp") for i in ans.insights)
    fresh = answer_preset(Understanding(question="How fresh is the data?", intent="freshness",
                                        confidence=1.0), deps)
    assert "2026-11-19T11:00:00Z" in fresh.headline and len(fresh.insights) == 3


# -- the digest and the namespace-drop alert: one rule, the same rows -----------------------------
def _drops_both_ways(url: str, min_share_pct: float) -> tuple[dict, dict]:
    """{(cluster, namespace): drop in pp} as the digest's drops block and as the alert rule
    see them, this ISO week so far against the same span of last week."""
    from datetime import timedelta

    from reporter.alerts.dataview import DataView
    from reporter.alerts.evaluators import evaluate
    from reporter.alerts.loading import parse_rules
    from reporter.reports.build import build_report

    src = make_source(SourceSettings(database_url=url))
    try:
        ctx = build_report("namespace-drops", src, NOW, period="this-week", drop_threshold=5.0,
                           drop_min_share_pct=min_share_pct)
        rule = parse_rules({"rules": [{
            "name": "ns-drop", "kind": "namespace-drop", "min_drop_pp": 5, "min_gpu_hours": 0,
            "min_share_pct": min_share_pct}]}).rules[0]
        ev = evaluate(rule, DataView(src, NOW, timedelta(hours=2)))
    finally:
        src.close()
    assert ev.error is None and ev.covered == {"gpu-east", "gpu-west", "gpu-lab"}
    digest = {(d.cluster, d.namespace): -d.delta_pp for d in ctx.dropped}
    # the table rows the drops were picked from say the same
    for s in ctx.sections:
        for r in s.table:
            if (s.cluster, r["name"]) in digest:
                assert abs(-r["delta_pp"] - digest[(s.cluster, r["name"])]) < 1e-9
    alert = {(f.labels["cluster"], f.labels["namespace"]): f.figures["drop_pp"]
             for f in ev.findings}
    return digest, alert


def test_the_digest_and_the_alert_name_the_same_drops_with_the_same_figures(demo_db):
    digest, alert = _drops_both_ways(demo_db, 2.0)
    assert set(digest) == set(alert) == {("gpu-east", "ml-team")}
    for key, drop in alert.items():
        assert abs(digest[key] - drop) < 1e-9 and drop > 16


def test_a_tiny_namespace_that_fell_is_a_drop_for_neither_unless_the_share_rule_is_off(
        demo_copy):
    """A namespace of gpu-east that used 10 GPU-hours in each span and fell 80 pp: below 2 %
    of the cluster, neither the digest nor the alert calls it a drop; with the share rule off
    both do, with the same figure."""
    from datetime import datetime

    from tests.conftest import sqlite_path
    from tests.rows import add_namespace_hours

    add_namespace_hours(sqlite_path(demo_copy), "gpu-east", "tiny-team",
                        [(datetime(2026, 11, 9), 90.0), (datetime(2026, 11, 16), 10.0)])
    digest, alert = _drops_both_ways(demo_copy, 2.0)
    assert set(digest) == set(alert) == {("gpu-east", "ml-team")}
    digest, alert = _drops_both_ways(demo_copy, 0.0)
    assert set(digest) == set(alert) == {("gpu-east", "ml-team"), ("gpu-east", "tiny-team")}
    assert abs(digest[("gpu-east", "tiny-team")] - 80.0) < 1e-9
    assert abs(alert[("gpu-east", "tiny-team")] - 80.0) < 1e-9
