"""Answers a platform lead can trust (answers.md §2, §3, §4, §6, §7; issue 12's findings):
missing data is not zero, an early week is answered over the last 7 days too, clusters are never
merged, every sentence comes from one set of figures, and renamed periodic jobs are one family.

Each test asks through the real command line in-process (tests/cli.py) about the shared demo
store, the Monday demo store or the store with holes (tests/conftest.py). Expected figures are
computed here with plain SQL over the rows (tests/expect.py), never by gpureport's code.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from agent.coverage import coverage
from agent.families import family_names, group, stem_of
from agent.periods import iso, last_days
from agent.phrasing.coverage import coverage_warnings
from agent.settings import SourceSettings
from agent.sources import make_source
from agent.sources.base import PeriodStats
from tests.cli import run
from tests.conftest import MONDAY_ISO, NOW, NOW_ISO
from tests.expect import _ts, expected, raw_rows

RENAMED_RUN = re.compile(r"-w\d\d-\d\d$")  # user-b-finetune-w47-01


def ask(url: str, question: str, *extra: str, now: str = NOW_ISO, code: int = 0) -> dict:
    r = run("--now", now, "ask", question, "--json", *extra, env={"GPUREPORT_DATABASE_URL": url})
    assert r.exit_code == code, r
    return r.json()


def text_of(out: dict) -> str:
    return "\n".join([out["answer"], *out.get("insights", []), *out.get("notes", []),
                      *out.get("warnings", [])])


def day_avg(url: str, cluster: str, namespace: str | None, day: datetime) -> float:
    table, where, args = (("namespace_gpu_hourly_stats", "cluster_name = ? AND namespace = ?",
                           (cluster, namespace)) if namespace else
                          ("cluster_gpu_hourly_stats", "cluster_name = ?", (cluster,)))
    return expected(url, table, where, args, day, day + timedelta(days=1),
                    cluster=cluster)["avg_utilization"]


# -- §3: Monday morning ---------------------------------------------------------------------------

def test_monday_morning_headline_is_the_last_7_days_and_says_so(monday_demo_store):
    """Issue 12: on a Monday the README's headline question said "fell from 61.4 % to 61.4 %"
    over 6 hours. Now the exact 6-hour figures stay (a note), a warning says how short the
    week is, and the headline is the last 7 days vs the 7 before — where the drop is."""
    url = monday_demo_store.url
    out = ask(url, "Why is ml-team's utilization lower this week than last week?", now=MONDAY_ISO)
    assert out["intent"] == "drilldown"
    assert out["warnings"] == ["this week so far covers 6 hours"]
    assert out["answer"].startswith("This week has only just started, so over the last 7 days")
    monday = datetime.fromisoformat(MONDAY_ISO.replace("Z", "+00:00"))
    rolling = out["figures"]["rolling"]
    where = ("cluster_name = ? AND namespace = ?", ("gpu-east", "ml-team"))
    for side, (start, end) in (("after", (monday - timedelta(days=7), monday)),
                               ("before", (monday - timedelta(days=14), monday - timedelta(days=7)))):
        want = expected(url, "namespace_gpu_hourly_stats", *where, start, end)
        assert rolling[side]["avg_utilization"] == pytest.approx(want["avg_utilization"], abs=1e-9)
        assert f"{want['avg_utilization']:.1f}%" in out["answer"]
    drop = rolling["before"]["avg_utilization"] - rolling["after"]["avg_utilization"]
    assert drop > 5  # the scripted drop of W47 is in the headline, not a flat "61.4 → 61.4"
    # the week's own figures are still there, exact
    week = expected(url, "namespace_gpu_hourly_stats", *where, monday - timedelta(hours=6), monday)
    assert out["figures"]["after"]["avg_utilization"] == pytest.approx(week["avg_utilization"])


def test_on_monday_the_exact_figures_are_shown_before_the_table_that_holds_them(monday_demo_store):
    """The headline is the last 7 days; the contributors table is the week's own 6 hours. A
    terminal prints the week's sentence (naming "this week") right above that table, so the
    table is not read as the headline's: before, the sentence was a detail the table hid."""
    r = run("ask", "Why is ml-team's utilization lower this week than last week?",
            env={"GPUREPORT_DATABASE_URL": monday_demo_store.url, "GPUREPORT_NOW": MONDAY_ISO})
    assert r.exit_code == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].startswith("This week has only just started, so over the last 7 days")
    assert lines[1].startswith("  • Utilization of ml-team (gpu-east)") and "(this week)" in lines[1]
    table = next(i for i, line in enumerate(lines) if line.lstrip().startswith("kind "))
    assert table == 3 and lines[2] == ""


def test_on_monday_a_ranking_headline_is_the_same_ranking_over_the_last_7_days(monday_demo_store):
    """answers.md §3 asks for *the same question* over the last 7 days: for "top users" that
    is the top users of those 7 days (not the cluster's utilization), checked against SQL;
    the week's own ranking stays as the table."""
    url = monday_demo_store.url
    out = ask(url, "top users by GPU hours this week in gpu-east", now=MONDAY_ISO)
    monday = datetime.fromisoformat(MONDAY_ISO.replace("Z", "+00:00"))
    rows = raw_rows(url, "SELECT dimension_value, SUM(allocated_gpu_count) FROM "
                         "label_gpu_hourly_stats WHERE cluster_name = 'gpu-east' AND "
                         "dimension_type = 'annotation' AND dimension_key = ? AND stat_hour >= ? "
                         "AND stat_hour < ? GROUP BY dimension_value ORDER BY 2 DESC, 1",
                    "primus-safe.user.name",
                    *((monday - timedelta(days=d)).strftime("%Y-%m-%d %H:%M:%S.%f") for d in (7, 0)))
    top, gpu_hours = rows[0]
    rolling = out["figures"]["rolling"]
    assert (rolling["entity"], rolling["by"]) == ("user", "gpu_hours")
    assert rolling["items"][0]["name"] == top
    assert rolling["items"][0]["gpu_hours"] == pytest.approx(gpu_hours)
    assert out["answer"].startswith("This week has only just started; top user by GPU-hours on "
                                    f"gpu-east over the last 7 days: {top} with {gpu_hours:,.0f}")
    week = [i["name"] for i in out["figures"]["items"]]
    table = [r["name"] for r in out["tables"][0]["rows"]]
    assert table == week[:len(table)] and table  # the table is the week's own ranking


def test_gpus_a_namespace_holds_right_now_are_its_own_first(demo_db):
    """"How many GPUs does ml-team use right now" is answered with ml-team's allocation in the
    latest snapshot (its row of ``allocation_details``), then the cluster's."""
    [(details,)] = raw_rows(demo_db, "SELECT allocation_details FROM gpu_allocation_snapshots "
                                     "WHERE cluster_name = 'gpu-east' AND snapshot_time <= ? "
                                     "ORDER BY snapshot_time DESC LIMIT 1",
                            NOW.strftime("%Y-%m-%d %H:%M:%S.%f"))
    held = json.loads(details)["namespaces"]["ml-team"]["allocatedGpu"]
    out = ask(demo_db, "how many GPUs does ml-team use right now?")
    assert out["intent"] == "realtime"
    assert out["answer"].startswith(f"As of {out['figures']['time']}, ml-team on gpu-east holds "
                                    f"{held} GPUs at ")
    zh = ask(demo_db, "ml-team现在用了多少卡")
    assert f"ml-team（gpu-east）占用 {held} 块GPU" in zh["answer"]


def test_a_question_over_the_last_7_days_is_that_question_not_a_rolling_headline(demo_db):
    """Asked over "the last 7 days" on a Thursday, a drill-down is answered over them: its
    period's label is the rolling headline's, and it used to be taken for it (and dropped:
    IndexError)."""
    out = ask(demo_db, "why did ml-team's utilization drop over the last 7 days compared with "
                       "the 7 days before?")
    assert out["intent"] == "drilldown" and "rolling" not in out["figures"]
    assert out["answer"].startswith("Utilization of ml-team (gpu-east) fell")
    assert out["figures"]["after"]["label"] == "last 7 days"


def test_early_week_in_chinese_says_hours_and_the_last_7_days(demo_db):
    out = ask(demo_db, "gpu-west本周利用率", now="2026-11-16T03:00:00Z")
    assert out["warnings"] == ["本周到目前为止只有 3 小时"]
    assert "过去7天" in out["answer"]
    assert out["figures"]["rolling"]["b"]["start"] == "2026-11-09T03:00:00Z"


def test_an_early_week_after_the_data_stopped_warns_about_the_7_days_and_says_where_it_ends(
        demo_db):
    """Ingest stopped on Thursday (the store's newest hour is Nov 19 11:00) and the question
    comes on Monday 00:30: the rolling headline covers only half of its 7 days, so it warns
    (§2 holds for the headline too), and the empty week says where the data ends, not where
    it started in October."""
    out = ask(demo_db, "How is ml-team doing this week on gpu-east?", now="2026-11-23T00:30:00Z")
    assert out["warnings"] == ["this week so far covers 0.5 hours",
                               "gpu-east has data for 3.5 of the 7 days asked in the last 7 days."]
    assert out["figures"]["rolling"]["b"]["coverage"]["partial"] == ["gpu-east"]
    assert "No data for ml-team (gpu-east) this week (newest data: Nov 19 11:00 UTC)." \
        in out["insights"]


def test_a_ranking_over_a_period_without_rows_is_no_data_not_nobody(demo_db):
    out = ask(demo_db, "who used the most GPUs in October 2024 across all clusters")
    f = out["figures"]
    assert (f["items"], f["total"], f["no_data"]) == ([], None, True)
    assert out["answer"] == "No data for all clusters in October 2024 (data starts Oct 19, 2026)."


def test_a_ranking_over_a_period_with_holes_warns_like_the_trend(gaps_store):
    out = ask(gaps_store.url, "top namespaces by gpu hours on gpu-west over the last 30 days")
    assert out["intent"] == "ranking" and out["figures"]["items"]
    assert out["warnings"] == ["gpu-west has data for 23 of the 30 days asked."]


@pytest.mark.parametrize("question, first", [
    ("how many GPUs are in use right now on gpu-east", "As of 2026-11-19T12:00:00Z, on gpu-east "),
    ("gpu-east 现在有多少GPU在用", "截至 2026-11-19T12:00:00Z，gpu-east："),
    ("compare this month vs last month on gpu-east", "The cluster (gpu-east), this month: "),
    ("gpu-east 这个月和上个月比", "集群（gpu-east），本月："),
])
def test_the_first_sentence_names_the_cluster(demo_db, question, first):
    """answers.md §1: the snapshot and a period comparison said "As of …, 267 of 384 GPUs"
    and "this month: 71.8% vs …" without saying which cluster."""
    assert ask(demo_db, question)["answer"].startswith(first)



@pytest.mark.parametrize("question, says", [
    ("gpu-east utilization today", "GPU utilization today, "),
    ("how was ml-team yesterday on gpu-east", "GPU utilization yesterday, "),
    ("gpu-east utilization last week", "GPU utilization last week, "),
    ("gpu-east utilization since Nov 10", "GPU utilization since 2026-11-10, "),
    ("gpu-east utilization in October 2026", "GPU utilization in October 2026, "),
    ("gpu-east utilization 2026-W46", "GPU utilization in 2026-W46, "),
    ("gpu-east utilization on Nov 3", "GPU utilization on 2026-11-03, "),
    ("gpu-east utilization over the last 3 days", "GPU utilization over the last 3 days, "),
    ("top namespaces by gpu hours on gpu-east yesterday", "Top namespace by GPU-hours on gpu-east yesterday: "),
    ("gpu-east 今天的利用率", "集群（gpu-east）今天的平均GPU利用率为"),
    ("gpu-east 上周利用率", "集群（gpu-east）上周的平均GPU利用率为"),
    ("gpu-east 过去3天的利用率", "集群（gpu-east）在过去3天的平均GPU利用率为"),
])
def test_a_period_reads_as_people_say_it(demo_db, question, says):
    """Each period with the word it takes: "today", "last week" and "since …" alone, "in"
    a month or a week, "on" a day, "over" the last N days — never "over today" or "over since"
    (nor 在今天的 in Chinese)."""
    answer = ask(demo_db, question)["answer"]
    assert says in answer
    assert not re.search(r"over (today|yesterday|this|last week|since|October)|在(今天|上周)的", answer)


def test_not_early_no_warning(demo_db):
    out = ask(demo_db, "gpu-east this week")  # Thursday noon: 3.5 days
    assert out["warnings"] == [] and "rolling" not in out["figures"]


# -- §2: missing data is not zero -----------------------------------------------------------------

def test_a_week_without_rows_has_null_figures_and_says_where_data_starts(gaps_store):
    out = ask(gaps_store.url, "gpu-west utilization in week 45")
    f = out["figures"]
    assert f["avg_utilization"] is None and f["gpu_hours"] is None and f["allocation_rate"] is None
    assert out["answer"] == "No data for the cluster (gpu-west) in 2026-W45 (data starts Oct 19)."
    assert "0.0%" not in text_of(out)


def test_partial_coverage_gives_figures_over_the_hours_present_and_one_warning(gaps_store):
    url = gaps_store.url
    out = ask(url, "gpu-west last 30 days")
    now = datetime.fromisoformat(NOW_ISO.replace("Z", "+00:00"))
    want = expected(url, "cluster_gpu_hourly_stats", "cluster_name = ?", ("gpu-west",),
                    now - timedelta(days=30), now, cluster="gpu-west")
    assert out["figures"]["avg_utilization"] == pytest.approx(want["avg_utilization"])
    assert out["figures"]["gpu_hours"] == pytest.approx(want["gpu_hours"])
    hours = {_ts(h) for (h,) in raw_rows(url, "SELECT DISTINCT stat_hour FROM cluster_gpu_hourly_stats"
                                             " WHERE cluster_name = 'gpu-west'")
             if now - timedelta(days=30) <= _ts(h) < now}
    assert len(hours) == 552  # 23 days: W45 is missing
    assert out["warnings"] == ["gpu-west has data for 23 of the 30 days asked."]


def test_all_clusters_warn_once_per_cluster_below_95_percent(gaps_store):
    """Coverage of every cluster, counted by the source; a line for each one below 95 %."""
    src = make_source(SourceSettings(database_url=gaps_store.url))
    now = datetime.fromisoformat(NOW_ISO.replace("Z", "+00:00"))
    period = last_days(now, 30)
    cov = coverage(src, None, period)
    hours = {c: len({_ts(h) for (h,) in raw_rows(
        gaps_store.url, "SELECT DISTINCT stat_hour FROM cluster_gpu_hourly_stats WHERE cluster_name = ?", c)
        if period.start <= _ts(h) < period.end}) for c in ("gpu-east", "gpu-lab", "gpu-west")}
    assert {r["cluster"]: r["hours"] for r in cov["clusters"]} == hours
    assert cov["partial"] == ["gpu-lab", "gpu-west"]
    assert coverage_warnings(cov, iso(period.start), "en") == [
        "gpu-lab has data for 17.5 of the 30 days asked (from Nov 2).",
        "gpu-west has data for 23 of the 30 days asked."]
    assert coverage_warnings(cov, iso(period.start), "zh")[0] == (
        "gpu-lab 在所查询的 30 天中只有 17.5 天的数据（数据从 11月2日 开始）。")


def test_a_comparison_with_an_empty_baseline_is_not_a_comparison(gaps_store):
    out = ask(gaps_store.url, "compare last week with the week before on gpu-west")
    f = out["figures"]
    assert out["intent"] == "compare"
    assert f["a"]["avg_utilization"] is None and f["delta_pp"] is None
    assert f["b"]["avg_utilization"] is not None
    assert out["answer"].startswith("No data for the cluster (gpu-west) in the week before")
    assert "No comparison is possible" in out["answer"] and "0.0%" not in text_of(out)


# -- §4: clusters are never merged ----------------------------------------------------------------

def latest_namespace_gpus(url: str) -> dict[tuple[str, str], int]:
    """(cluster, namespace) -> allocated GPUs in each cluster's newest snapshot at NOW."""
    out = {}
    for (cluster,) in raw_rows(url, "SELECT DISTINCT cluster_name FROM gpu_allocation_snapshots"):
        rows = raw_rows(url, "SELECT allocation_details FROM gpu_allocation_snapshots WHERE "
                             "cluster_name = ? AND dimension_type = 'cluster' AND snapshot_time <= ? "
                             "ORDER BY snapshot_time DESC LIMIT 1", cluster, "2026-11-19 12:00:00.000000")
        for ns, d in json.loads(rows[0][0]).get("namespaces", {}).items():
            out[(cluster, ns)] = int(d.get("allocatedGpu") or 0)
    return out


def test_right_now_across_clusters_cv_team_is_two_rows(demo_db):
    """Issue 12: "cv-team 77" was gpu-east's 31 plus gpu-west's 46, with no cluster shown."""
    out = ask(demo_db, "How many GPUs are currently in use across all clusters?")
    rows = out["figures"]["by_namespace"]
    want = latest_namespace_gpus(demo_db)
    cv = {r["cluster"]: r["allocated_gpus"] for r in rows if r["name"] == "cv-team"}
    assert cv == {"gpu-east": want[("gpu-east", "cv-team")], "gpu-west": want[("gpu-west", "cv-team")]}
    assert len(cv) == 2 and all(r.get("cluster") for r in rows)
    assert {(r["cluster"], r["name"]): r["allocated_gpus"] for r in rows} == want
    assert "across all clusters" in out["answer"]


def test_rankings_across_clusters_carry_the_cluster(demo_db):
    """Issue 12: rankings showed chat-api-1 and chat-api-1-gn8ct with no namespace or cluster."""
    out = ask(demo_db, "top namespaces by gpu hours across all clusters last week")
    items = out["figures"]["items"]
    assert all(it["cluster"] for it in items)
    pairs = [(it["cluster"], it["name"]) for it in items]
    assert len(pairs) == len(set(pairs))
    assert ("gpu-east", "cv-team") in pairs and ("gpu-west", "cv-team") in pairs
    for it in items:
        p = (datetime(2026, 11, 9, tzinfo=timezone.utc), datetime(2026, 11, 16, tzinfo=timezone.utc))
        want = expected(demo_db, "namespace_gpu_hourly_stats", "cluster_name = ? AND namespace = ?",
                        (it["cluster"], it["name"]), *p, cluster=it["cluster"])
        assert it["gpu_hours"] == pytest.approx(want["gpu_hours"])
    text = text_of(out)
    assert "gpu-east/ml-team" in out["answer"]
    assert "cv-team is in 2 clusters (GPU-hours): gpu-west/cv-team 7,313, gpu-east/cv-team 4,545" in text


def test_workload_ranking_over_all_clusters_names_each_rows_cluster(demo_db):
    out = ask(demo_db, "which workloads wasted the most gpu across all clusters yesterday")
    items = out["figures"]["items"]
    assert len({it["cluster"] for it in items}) >= 2
    r = run("--now", NOW_ISO, "ask", "which workloads wasted the most gpu across all clusters yesterday",
            env={"GPUREPORT_DATABASE_URL": demo_db})
    assert re.search(r"^\s+cluster\s+workload", r.stdout, re.M)  # the table's first column


def test_the_same_namespace_in_two_clusters_compared(demo_db):
    out = ask(demo_db, "compare cv-team on gpu-east with cv-team on gpu-west last week")
    p = (datetime(2026, 11, 9, tzinfo=timezone.utc), datetime(2026, 11, 16, tzinfo=timezone.utc))
    for side, cluster in (("a", "gpu-east"), ("b", "gpu-west")):
        want = expected(demo_db, "namespace_gpu_hourly_stats", "cluster_name = ? AND namespace = ?",
                        (cluster, "cv-team"), *p, cluster=cluster)
        assert out["figures"][side]["avg_utilization"] == pytest.approx(want["avg_utilization"])
        assert out["figures"][side]["label"] == f"{cluster}/cv-team"
    assert " vs " in out["answer"] and "→" not in text_of(out)


# -- §6: one set of numbers -------------------------------------------------------------------------

def test_trend_bullets_are_daily_averages_with_their_days(demo_db):
    """Issue 12: "71.0 %, −2.5 pp" then "went from 70.5 % to 71.1 %" (first and last *hour*),
    "74.3 % to 74.4 %" then "rising: +2.4 pp per day" (hourly slope). Now first and last are
    the first and last full days' averages and the slope is fitted to the daily averages."""
    out = ask(demo_db, "gpu-east utilization trend last 7 days")
    f = out["figures"]
    days = [datetime(2026, 11, d, tzinfo=timezone.utc) for d in range(13, 19)]
    values = [day_avg(demo_db, "gpu-east", None, d) for d in days]
    assert [d["day"] for d in f["daily"]] == [d.date().isoformat() for d in days]
    assert f["first"] == pytest.approx({**f["first"], "day": "2026-11-13", "avg_utilization": values[0]})
    assert f["last"]["avg_utilization"] == pytest.approx(values[-1])
    n = len(values)
    xm, ym = (n - 1) / 2, sum(values) / n
    slope = sum((i - xm) * (v - ym) for i, v in enumerate(values)) / sum((i - xm) ** 2 for i in range(n))
    assert f["slope_pp_per_day"] == pytest.approx(slope)
    first, trend = out["insights"]
    assert first == (f"Daily average utilization was {values[0]:.1f}% on Nov 13 (first full day) "
                     f"and {values[-1]:.1f}% on Nov 18 (last full day).")
    direction = "rising" if slope > 0.5 else "falling" if slope < -0.5 else "flat"
    sign = "+" if slope >= 0 else "−"
    assert trend == (f"Over the 6 full days the trend is {direction}: {sign}{abs(slope):.1f} pp per "
                     f"day (least squares over the daily averages).")


def test_two_entities_are_compared_with_vs_not_arrows(demo_db):
    out = ask(demo_db, "compare ml-team and cv-team on gpu-east last week")
    a, b = out["figures"]["a"], out["figures"]["b"]
    assert out["answer"].startswith(f"ml-team {a['avg_utilization']:.1f}% vs cv-team "
                                    f"{b['avg_utilization']:.1f}% utilization (gpu-east, last week)")
    assert "→" not in text_of(out)


# -- §7: workload families ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, display", [
    ("user-b-finetune-w47-01", "user-b-finetune-w*"),
    ("user-a-train-w46-13", "user-a-train-w*"),
    ("segment-train-x7k2q", "segment-train-*"),
    ("chat-api-1-gn8ct", "chat-api-*"),
    ("nightly-eval-20261116", "nightly-eval-*"),
    ("report-2026-11-16", "report-*"),
])
def test_a_run_token_is_digits_an_iso_week_a_pod_hash_or_a_date(name, display):
    assert stem_of(name).display == display


@pytest.mark.parametrize("name", ["llm-eval-server", "resnet-train", "scratch", "42"])
def test_names_without_a_run_token_have_no_family(name):
    assert stem_of(name) is None


def test_a_family_needs_two_names_of_one_namespace_user_and_kind():
    def st(name, user="u", ns="ns", kind="Job", gh=10.0):
        return PeriodStats(name, gpu_hours=gh, utilized_gpu_hours=gh / 2, rows=1, workloads=1,
                           namespace=ns, user=user, kind=kind)
    rows = [st("train-w47-01"), st("train-w48-01"), st("train-w48-02", user="v"),
            st("solo-w48-01"), st("train-w47-01", ns="other")]
    names = family_names(rows)
    assert names[("", "ns", "u", "Job", "train-w47-01")] == "train-w*"
    assert names[("", "ns", "v", "Job", "train-w48-02")] == "train-w48-02"  # another user
    assert names[("", "ns", "u", "Job", "solo-w48-01")] == "solo-w48-01"  # alone
    merged = {(s.namespace, s.user, s.name): (s.gpu_hours, s.workloads, m) for s, m in group(rows, names)}
    assert merged[("ns", "u", "train-w*")] == (20.0, 2, ["train-w47-01", "train-w48-01"])


def test_renamed_weekly_jobs_are_one_family_that_contributes_almost_nothing(demo_db):
    """Issue 12: the drill-down listed eight renamed weekly jobs as "gone" and "new"."""
    out = ask(demo_db, "why did ml-team drop this week")
    rows = out["figures"]["contributors"]
    assert not [r["name"] for r in rows if RENAMED_RUN.search(r["name"])]
    fam = {r["name"]: r for r in rows if r.get("members")}
    assert {"user-a-train-w*", "user-b-finetune-w*", "user-c-rlhf-w*"} <= set(fam)
    assert abs(fam["user-b-finetune-w*"]["impact_pp"]) < 0.3
    assert abs(fam["user-c-rlhf-w*"]["impact_pp"]) < 0.3
    assert all(RENAMED_RUN.search(m) for m in fam["user-b-finetune-w*"]["members"])
    assert "gone" not in text_of(out)
    # the impacts still add up to the change
    level = out["figures"]["levels"]["workload"]
    assert level["sum_of_impacts_pp"] == pytest.approx(level["delta_pp"])


def test_a_workload_ranking_groups_a_family_with_its_run_count(demo_db):
    out = ask(demo_db, "which workloads in ml-team used the most gpu hours last week")
    items = out["figures"]["items"]
    top = items[0]
    assert top["name"] == "user-a-train-w*" and top["runs"] == len(top["members"]) == 28
    runs = raw_rows(demo_db, "SELECT workload_name, sum(allocated_gpu_count) FROM workload_gpu_hourly_stats "
                             "WHERE cluster_name = 'gpu-east' AND namespace = 'ml-team' AND stat_hour >= ? "
                             "AND stat_hour < ? GROUP BY workload_name",
                    "2026-11-09 00:00:00.000000", "2026-11-16 00:00:00.000000")
    gh = {n: v for n, v in runs}
    assert top["gpu_hours"] == pytest.approx(sum(gh[m] for m in top["members"]))
    assert not [it["name"] for it in items if RENAMED_RUN.search(it["name"])]
    assert "user-a-train-w* (28 runs)" in out["answer"]


def test_on_the_lens_api_families_and_coverage_are_the_same(demo_db, gaps_store):
    """The `lens` source (the fake Lens server over the same stores) groups and covers alike."""
    from tests.fakes.lens_api import serve_lens

    q = "which workloads in ml-team used the most gpu hours last week"
    with serve_lens(demo_db) as server:
        r = run("--now", NOW_ISO, "ask", q, "--json",
                env={"GPUREPORT_DATABASE_URL": demo_db, "LENS_API_URL": server.url})
        assert r.exit_code == 0, r
    via_lens, via_sql = r.json()["figures"]["items"], ask(demo_db, q)["figures"]["items"]
    assert [(i["name"], i.get("members")) for i in via_lens] == [(i["name"], i.get("members")) for i in via_sql]
    for a, b in zip(via_lens, via_sql):
        assert a["gpu_hours"] == pytest.approx(b["gpu_hours"])
    q = "gpu-west last 30 days"
    with serve_lens(gaps_store.url) as server:
        r = run("--now", NOW_ISO, "ask", q, "--json",
                env={"GPUREPORT_DATABASE_URL": gaps_store.url, "LENS_API_URL": server.url})
        assert r.exit_code == 0, r
    assert r.json()["warnings"] == ask(gaps_store.url, q)["warnings"] == [
        "gpu-west has data for 23 of the 30 days asked."]
    assert r.json()["figures"]["coverage"] == ask(gaps_store.url, q)["figures"]["coverage"]
