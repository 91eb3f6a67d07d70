"""Recommendations from the last 7 days: the demo's scripted idle server (llm-eval-server) and
oversized deployment (bert-serve-xl) are named with savings computed here by SQL, nothing
healthy is recommended, in `ask` (both languages, --json), with money when priced, and in the
digest once.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import timedelta

import pytest

from agent.periods import Period
from agent.recommendations import for_namespace, recommendations
from agent.sources.base import OfficeSplit, PeriodStats, Scope
from tests.cli import run
from tests.conftest import NOW, sqlite_path

WINDOW = Period(NOW - timedelta(days=7), NOW, "last 7 days")


@pytest.fixture(autouse=True)
def asking_the_demo_store(home, demo_db, monkeypatch):
    monkeypatch.setenv("GPUREPORT_DATABASE_URL", demo_db)


@pytest.fixture(scope="module")
def usage(demo_db) -> dict[tuple, tuple]:
    """Per (cluster, namespace, workload) over the window, by SQLite: hours, GPUs held,
    GPU-hours, highest hourly peak, busiest hour's average."""
    with sqlite3.connect(sqlite_path(demo_db)) as con:
        rows = con.execute(
            "SELECT cluster_name, namespace, workload_name, COUNT(*), MAX(allocated_gpu_count), "
            "SUM(allocated_gpu_count), MAX(max_utilization), MAX(avg_utilization) "
            "FROM workload_gpu_hourly_stats WHERE stat_hour >= ? AND stat_hour < ? "
            "GROUP BY cluster_name, namespace, workload_name",
            (WINDOW.start.strftime("%Y-%m-%d %H:%M:%S"),
             WINDOW.end.strftime("%Y-%m-%d %H:%M:%S"))).fetchall()
    return {(c, n, w): rest for c, n, w, *rest in rows}


@pytest.fixture(scope="module")
def figures(demo_db) -> dict:
    from agent.sources.sql import SqlSource

    src = SqlSource(demo_db)
    try:
        return recommendations(src, Scope(), NOW)
    finally:
        src.close()


def by_workload(figs: dict) -> dict[str, dict]:
    return {r["workload"]: r for r in figs["recommendations"] if r["workload"]}


def test_the_oversized_deployment_is_right_sized_to_the_gpus_its_peak_needs(figures, usage):
    hours, held, _, peak, _ = usage[("gpu-west", "nlp-team", "bert-serve-xl")]
    suggested = math.ceil(held * peak / 100)
    assert (held, hours, suggested) == (8, 168, 3) and peak < 35
    r = by_workload(figures)["bert-serve-xl"]
    assert (r["kind"], r["cluster"], r["namespace"], r["user"]) == \
        ("right_size", "gpu-west", "nlp-team", "dave")
    assert r["evidence"]["suggested_gpus"] == suggested
    assert r["saving_gpu_hours"] == pytest.approx((held - suggested) * hours)
    assert r["evidence"]["peak_utilization"] == pytest.approx(peak)


def test_the_scripted_idle_server_is_cleaned_up_with_all_its_gpu_hours(figures, usage):
    hours, held, gpu_hours, _, busiest = usage[("gpu-east", "ml-team", "llm-eval-server")]
    assert busiest < 5 and hours >= 24
    r = by_workload(figures)["llm-eval-server"]
    assert (r["kind"], r["user"], r["evidence"]["gpus"]) == ("clean_up", "user_b", held)
    assert r["saving_gpu_hours"] == pytest.approx(gpu_hours)


def test_exactly_the_workloads_the_rules_select_are_recommended(figures, usage):
    """Clean up: ≥ 24 h, every hour below 5 %. Right-size: ≥ 24 h, peak below 50 % and fewer
    GPUs would cover it. Everything else — the training jobs, the busy services, the short
    notebooks — is healthy and absent."""
    idle = {k for k, (h, g, _, _, busiest) in usage.items() if h >= 24 and busiest < 5}
    oversized = {k for k, (h, g, _, peak, busiest) in usage.items()
                 if h >= 24 and busiest >= 5 and peak < 50 and math.ceil(g * peak / 100) < g}
    got = {(r["cluster"], r["namespace"], r["workload"]): r["kind"]
           for r in figures["recommendations"]}
    assert got == {**{k: "clean_up" for k in idle}, **{k: "right_size" for k in oversized}}
    assert oversized == {("gpu-west", "nlp-team", "bert-serve-xl")}
    assert ("gpu-east", "ml-team", "llm-eval-server") in idle
    # no namespace of the demo works in office hours only
    assert figures["by_kind"]["schedule"] == 0
    assert figures["saving_gpu_hours"] == pytest.approx(
        sum(r["saving_gpu_hours"] for r in figures["recommendations"]))


def test_a_namespace_working_only_in_office_hours_is_scheduled():
    office = PeriodStats("labs", gpu_hours=500.0, utilized_gpu_hours=300.0, rows=50)
    nights = PeriodStats("labs", gpu_hours=1180.0, utilized_gpu_hours=11.8, rows=118)
    r = for_namespace(OfficeSplit("gpu-lab", "labs", office, nights))
    assert r["kind"] == "schedule" and r["saving_gpu_hours"] == 1180.0
    assert r["evidence"]["office_share"] == pytest.approx(300 / 311.8 * 100)
    busy_nights = PeriodStats("labs", gpu_hours=1180.0, utilized_gpu_hours=600.0, rows=118)
    assert for_namespace(OfficeSplit("gpu-lab", "labs", office, busy_nights)) is None


def test_the_office_hours_split_adds_up_to_the_namespace(demo_db):
    from agent.sources.sql import SqlSource

    src = SqlSource(demo_db)
    try:
        splits = src.office_hours("gpu-east", WINDOW.start, WINDOW.end)
        total = src.period_stats(Scope("namespace", "gpu-east", "ml-team"), WINDOW.start,
                                 WINDOW.end)
    finally:
        src.close()
    with sqlite3.connect(sqlite_path(demo_db)) as con:
        office_rows, office_hours = con.execute(
            "SELECT COUNT(*), SUM(allocated_gpu_count) FROM namespace_gpu_hourly_stats "
            "WHERE cluster_name = 'gpu-east' AND namespace = 'ml-team' AND stat_hour >= ? "
            "AND stat_hour < ? AND strftime('%w', stat_hour) BETWEEN '1' AND '5' "
            "AND strftime('%H', stat_hour) BETWEEN '08' AND '17'",
            (WINDOW.start.strftime("%Y-%m-%d %H:%M:%S"),
             WINDOW.end.strftime("%Y-%m-%d %H:%M:%S"))).fetchone()
    ml = next(o for o in splits if o.namespace == "ml-team")
    assert (ml.office.rows, ml.office.gpu_hours) == (office_rows, pytest.approx(office_hours))
    assert ml.office.rows + ml.other.rows == total.rows
    assert ml.office.gpu_hours + ml.other.gpu_hours == pytest.approx(total.gpu_hours)


def test_ask_how_to_save_gpus_in_both_languages(figures):
    r = run("ask", "How can we save GPUs?", "--json")
    assert r.exit_code == 0, r
    out = r.json()
    assert out["intent"] == "recommend"
    assert out["figures"]["recommendations"] == figures["recommendations"]
    first = out["figures"]["recommendations"][0]
    assert set(first) == {"kind", "cluster", "namespace", "workload", "user", "evidence",
                          "saving_gpu_hours", "saving_cost"}
    total, n = figures["saving_gpu_hours"], figures["by_kind"]
    assert n["right_size"] == 1 and n["clean_up"] >= 1
    assert out["answer"] == (f"All clusters could have saved {total:,.0f} GPU-hours over the "
                             f"last 7 days: {n['clean_up']} to clean up, 1 to right-size.")
    assert ("Right-size bert-serve-xl (nlp-team, gpu-west, dave): peak "
            f"{first['evidence']['peak_utilization']:.1f}% of 8 GPUs; 3 would cover it — saves "
            "840 GPU-hours.") in out["insights"]
    zh = run("ask", "怎么节省GPU")
    assert zh.exit_code == 0, zh
    assert f"所有集群过去7天可节省 {total:,.0f} GPU小时：{n['clean_up']} 项清理、1 项缩减规格。" \
        in zh.stdout
    assert "缩减规格" in zh.stdout and "bert-serve-xl" in zh.stdout


def test_savings_are_priced_at_each_clusters_price(config_file, figures):
    cfg = config_file({"prices": {"models": {"H100": 4.0, "MI300X": 3.5},
                                  "clusters": {"gpu-lab": 1.0}}})
    r = run("--config", str(cfg), "ask", "How can we save GPUs?", "--json")
    assert r.exit_code == 0, r
    out = r.json()["figures"]
    rate = {"gpu-west": 4.0, "gpu-east": 3.5, "gpu-lab": 1.0}
    for rec in out["recommendations"]:
        assert rec["saving_cost"] == pytest.approx(rec["saving_gpu_hours"] * rate[rec["cluster"]])
    assert out["saving_cost"] == pytest.approx(
        sum(r["saving_gpu_hours"] * rate[r["cluster"]] for r in figures["recommendations"]))
    assert r.json()["answer"].startswith(
        f"All clusters could have saved {figures['saving_gpu_hours']:,.0f} GPU-hours over the "
        f"last 7 days (USD {out['saving_cost']:,.0f})")


def test_a_namespace_without_waste_is_told_so():
    r = run("ask", "How can ml-training save GPUs?")
    assert r.exit_code == 0, r
    assert r.stdout.startswith("Nothing to save in ml-training (gpu-east) over the last 7 days")


def test_the_digest_says_each_recommendation_once_and_not_what_the_idle_table_lists(demo_db):
    from agent.sources.sql import SqlSource
    from reporter.render.html import render_html
    from reporter.reports.build import build_report

    src = SqlSource(demo_db)
    try:
        ctx = build_report("weekly", src, NOW, period="last-week")
    finally:
        src.close()
    summary, *clusters = ctx.sections
    assert all(not s.recommendations for s in clusters)
    listed = {(s.cluster, w["namespace"], w["name"]) for s in clusters for w in s.idle}
    said = [(r["cluster"], r["namespace"], r["workload"]) for r in summary.recommendations]
    assert ("gpu-west", "nlp-team", "bert-serve-xl") in said
    assert len(said) == len(set(said))
    assert not [k for r, k in zip(summary.recommendations, said)
                if r["kind"] == "clean_up" and k in listed]
    html = render_html(ctx)
    assert html.count(">Recommendations<") == 1
    assert "Right-size bert-serve-xl (nlp-team, gpu-west, dave)" in html


def test_the_lens_source_recommends_the_same(demo_db, figures):
    """Over the Lens API (the fake serving the demo store) the hourly rows are added up in
    Python, by the same rules: the same recommendations (the API's rows carry no user: the
    user chain stops at owner_name there, sources/base.py)."""
    from agent.sources.lens import LensSource
    from tests.fakes.lens_api import serve_lens

    with serve_lens(demo_db) as server, LensSource(server.url, backoff=0.001) as src:
        over_lens = recommendations(src, Scope(cluster="gpu-west"), NOW)
    from_sql = [r for r in figures["recommendations"] if r["cluster"] == "gpu-west"]
    def flat(rows):  # pytest.approx compares flat dicts
        return [{**{k: v for k, v in r.items() if k not in ("user", "evidence")},
                 **r["evidence"]} for r in rows]

    assert flat(over_lens["recommendations"]) == [pytest.approx(r) for r in flat(from_sql)]
    assert "bert-serve-xl" in [r["workload"] for r in from_sql]


def test_postgresql_recommends_the_same_and_tells_the_same_models(demo_pg, demo_db, figures):
    """The statements run on PostgreSQL too (EXTRACT there, STRFTIME on SQLite)."""
    from agent.sources.sql import SqlSource

    lite = SqlSource(demo_db)
    try:
        on_lite = {(o.cluster, o.namespace): (o.office.rows, o.other.rows)
                   for o in lite.office_hours(None, WINDOW.start, WINDOW.end)}
    finally:
        lite.close()
    src = SqlSource(demo_pg)
    try:
        on_pg = recommendations(src, Scope(), NOW)
        splits = {(o.cluster, o.namespace): o for o in src.office_hours(None, WINDOW.start,
                                                                         WINDOW.end)}
        models = src.gpu_models()
    finally:
        src.close()

    def flat(rows):
        return [{**{k: v for k, v in r.items() if k != "evidence"}, **r["evidence"]}
                for r in rows]

    assert flat(on_pg["recommendations"]) == [pytest.approx(r)
                                              for r in flat(figures["recommendations"])]
    assert {k: (o.office.rows, o.other.rows) for k, o in splits.items()} == on_lite
    assert splits[("gpu-east", "ml-team")].office.rows > 0
    assert models == {"gpu-east": "AMD_Instinct_MI300X_OAM", "gpu-west": "NVIDIA H100 80GB HBM3"}
