"""Issue 12, the findings about scope, periods, "the question asked" and workload history
(answers.md §1 and §5; issue 12 item 6), through the real command line on the demo store.

Each test is one finding of the issue, asserting the behaviour the contract asks for: a name
that matches nothing is never dropped, no cluster named while several exist is asked back,
calendar periods are answered for the period asked (never a default), "who" ranks users,
"idle GPUs" are idle allocated workloads plus the free count, money without a price says so,
out-of-scope questions are help, workload history counts and lists what SQL over
``gpu_workload`` counts, and "daily" gives one point per day. Expected figures come from plain
SQL over the store (tests/expect.py's ``raw_rows``), never from gpureport's code.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.cli import run
from tests.expect import raw_rows
from tests.fakes.lens_api import serve_lens


@pytest.fixture(autouse=True)
def asking_the_demo_store(home, demo_db, monkeypatch):
    monkeypatch.setenv("GPUREPORT_DATABASE_URL", demo_db)


def ask(question, *extra, code=0, env=None):
    r = run("--now", "2026-11-19T12:00:00Z", "ask", question, "--json", *extra, env=env)
    assert r.exit_code == code, r
    return r


def period(out) -> tuple[str, str]:
    p = out["entities"]["period"]
    return p["start"], p["end"]


# -- §1 scope: unknown names, which cluster -------------------------------------------------------

@pytest.mark.parametrize("question, option", [
    ("robotcs utilization last week", "robotics"),
    ("gpu-wset utilisation this week", "gpu-west"),
    ("speach组这周的利用率", "speech"),
])
def test_a_close_typo_is_asked_back_with_the_close_matches(question, option):
    out = ask(question, code=3).json()
    assert out["needs_clarification"] and option in out["options"]


@pytest.mark.parametrize("question, word, real", [
    ("utilization of gpu-nowhere last week", "gpu-nowhere", "gpu-east"),
    ("how is the payments team doing?", "payments", "ml-team"),
    ("a100-pool cluster utilization last week", "a100-pool", "gpu-west"),
    ("fraud-detection 这周用了多少卡", "fraud-detection", "gpu-east"),
])
def test_a_name_that_matches_nothing_is_one_error_line_never_all_clusters(question, word, real):
    r = ask(question, code=1)
    assert len(r.stderr.strip().splitlines()) == 1
    assert word in r.stderr and real in r.stderr
    error = r.json()["error"]  # --json: no answer, the error as JSON (README "Asking questions")
    assert error["type"] == "UnknownName" and error["name"] == word and real in error["suggestions"]


@pytest.mark.parametrize("question", ["what was utilization like last week", "上周分配率多少",
                                      "show me the idle gpus", "上周哪个用户浪费的卡最多"])
def test_no_cluster_named_among_several_asks_which(question):
    out = ask(question, code=3).json()
    assert set(out["options"]) == {"gpu-east", "gpu-west", "gpu-lab"}


def test_all_clusters_when_the_question_says_so_or_cluster_is_given():
    out = ask("how many gpu hours did we burn in total last week").json()
    assert out["intent"] == "trend" and out["entities"]["cluster"] is None
    assert out["answer"].startswith("All clusters") and "last week" in out["answer"].split(", ")[0]
    total = raw_rows(_db(), "SELECT sum(allocated_gpu_count) FROM cluster_gpu_hourly_stats "
                            "WHERE stat_hour >= '2026-11-09' AND stat_hour < '2026-11-16'")[0][0]
    assert out["figures"]["gpu_hours"] == pytest.approx(total)
    given = ask("what was utilization like last week", "--cluster", "gpu-lab").json()
    assert given["entities"]["cluster"] == "gpu-lab" and "gpu-lab" in given["answer"].split(", ")[0]


def test_a_namespace_in_two_clusters_offers_only_those_two():
    out = ask("cv-team utilization last week", code=3).json()
    assert sorted(out["options"]) == ["gpu-east", "gpu-west"]


# -- §1 periods: calendar months, quarters, years, since, between; never a default ------------------

@pytest.mark.parametrize("question, start, end", [
    ("gpu-east utilization in august", "2026-08-01T00:00:00Z", "2026-09-01T00:00:00Z"),
    ("gpu-east 10月的利用率", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"),
    ("this quarter gpu-west", "2026-10-01T00:00:00Z", "2026-11-19T12:00:00Z"),
    ("last quarter on gpu-lab", "2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z"),
    ("gpu-east今年的平均利用率", "2026-01-01T00:00:00Z", "2026-11-19T12:00:00Z"),
    ("gpu-lab usage since nov 10", "2026-11-10T00:00:00Z", "2026-11-19T12:00:00Z"),
    ("gpu-west between nov 3 and nov 7", "2026-11-03T00:00:00Z", "2026-11-08T00:00:00Z"),
    ("gpu-east 从11月2日到11月8日的GPU使用情况", "2026-11-02T00:00:00Z", "2026-11-09T00:00:00Z"),
])
def test_calendar_periods_are_answered_for_the_period_asked(question, start, end):
    out = ask(question).json()
    assert period(out) == (start, end)


def test_a_month_with_no_data_is_that_month_not_the_last_7_days():
    out = ask("gpu-east utilization in september").json()
    assert period(out) == ("2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z")
    assert "September 2026" in out["answer"]


def test_a_long_period_is_a_daily_series():
    out = ask("gpu-east 10月的利用率").json()
    days = raw_rows(_db(), "SELECT DISTINCT date(stat_hour) FROM cluster_gpu_hourly_stats WHERE "
                           "cluster_name = 'gpu-east' AND stat_hour < '2026-11-01' ORDER BY 1")
    assert out["figures"]["granularity"] == "day"  # the demo's data starts Oct 19: 13 days
    assert [p["time"][:10] for p in out["figures"]["series"]] == [d for (d,) in days] and len(days) == 13


@pytest.mark.parametrize("question, phrase", [
    ("gpu-east usage last fiscal year", "fiscal"), ("春节期间gpu-east的利用率", "春节"),
    ("what will gpu-east utilization be next week", "next week"), ("ml-team usage in 2027", "2027"),
    ("gpu-east between nov 12 and nov 3", "nov 12"), ("gpu-west usage on feb 30", "feb 30"),
])
def test_an_unusable_period_is_a_usage_error_naming_it_and_the_supported_forms(question, phrase):
    r = ask(question, code=2)
    assert phrase in r.stderr and ("Supported periods" in r.stderr or "可用的时间范围" in r.stderr)
    assert "Traceback" not in r.stderr and r.json()["error"]["type"] == "PeriodError"


# -- §5 the question asked -------------------------------------------------------------------------

def _db() -> str:
    import os
    return os.environ["GPUREPORT_DATABASE_URL"]


def test_who_ranks_users_and_which_team_ranks_namespaces():
    users = {r[0] for r in raw_rows(_db(), "SELECT DISTINCT json_extract(annotations, "
                                           "'$.\"primus-safe.user.name\"') FROM gpu_workload")}
    who = ask("who is using the most gpus on gpu-west this week").json()
    assert who["intent"] == "ranking" and {i["name"] for i in who["figures"]["items"]} <= users
    team = ask("which team burned the most gpu hours on gpu-east last week").json()
    namespaces = {r[0] for r in raw_rows(_db(), "SELECT DISTINCT namespace FROM namespace_gpu_hourly_stats")}
    assert {i["name"] for i in team["figures"]["items"]} <= namespaces


def test_idle_gpus_are_idle_allocated_workloads_and_the_free_count():
    out = ask("are there idle gpus in gpu-lab").json()
    items = out["figures"]["items"]
    assert out["figures"]["entity"] == "workload" and items[0]["name"] == "scratch"
    snap = raw_rows(_db(), "SELECT total_gpu_capacity - allocated_gpu_count FROM gpu_allocation_snapshots "
                           "WHERE cluster_name = 'gpu-lab' AND dimension_type = 'cluster' "
                           "AND snapshot_time <= '2026-11-19 12:00:00.000000' ORDER BY snapshot_time DESC LIMIT 1")
    assert out["figures"]["free_gpus"] == snap[0][0]
    assert any(f"{snap[0][0]} of" in n for n in out["notes"])


@pytest.mark.parametrize("question, lang", [
    ("how much money are we wasting on idle gpus on gpu-west", "en"),
    ("gpu-east 上周闲置GPU浪费了多少钱", "zh"),
    ("what did ml-team cost us last month", "en"),
])
def test_money_without_a_price_says_so_and_gives_gpu_hours(question, lang):
    out = ask(question).json()
    note = next(n for n in out["notes"] if "prices.default_per_gpu_hour" in n)
    assert ("GPU-hours" if lang == "en" else "GPU小时") in note
    assert "$" not in out["answer"] + note and out["figures"]["gpu_hours"] is not None


@pytest.mark.parametrize("question", ["what's the weather?", "will it rain in beijing tomorrow",
                                      "how do i cordon a node with kubectl", "帮我写一首关于显卡的诗"])
def test_out_of_scope_is_help_without_figures(question):
    out = ask(question).json()
    assert out["intent"] == "help" and not out["figures"] and not out["needs_clarification"]


@pytest.mark.parametrize("args", [("ask", ""), ("ask", "   "), ("ask", "gpu-east util", "--lang", "fr"),
                                  ("report", "weekly", "--period", "2026-W60")])
def test_empty_question_and_bad_option_values_are_usage_errors(args):
    r = run("--now", "2026-11-19T12:00:00Z", *args)
    assert r.exit_code == 2 and "Traceback" not in r.stderr, r


# -- workload history (issue 12 item 6) ---------------------------------------------------------------

TOP = "coalesce(g.parent_uid, '') = ''"
IN_CLUSTER = ("EXISTS (SELECT 1 FROM workload_gpu_hourly_stats w WHERE w.namespace = g.namespace "
              "AND w.workload_name = g.name AND w.cluster_name = ?)")


def test_how_many_pytorchjobs_ran_in_a_namespace_last_week():
    out = ask("How many PyTorchJobs ran in ml-team last week?").json()
    want = raw_rows(_db(), f"SELECT count(*) FROM gpu_workload g WHERE {TOP} AND {IN_CLUSTER} AND "
                           "g.namespace = 'ml-team' AND g.kind = 'PyTorchJob' AND g.created_at < '2026-11-16 00:00:00.000000' "
                           "AND (g.end_at IS NULL OR g.end_at > '2026-11-09 00:00:00.000000')", "gpu-east")[0][0]
    assert out["intent"] == "history" and out["figures"]["count"] == want > 0
    assert {w["kind"] for w in out["figures"]["workloads"]} == {"PyTorchJob"}
    assert out["answer"].startswith(f"ml-team (gpu-east), last week: {want} PyTorchJobs ran")


def test_which_workloads_failed_last_week_lists_them_with_kind_status_user_and_times():
    out = ask("Which workloads failed last week on gpu-east?").json()
    want = raw_rows(_db(), f"SELECT g.name FROM gpu_workload g WHERE {TOP} AND {IN_CLUSTER} AND "
                           "g.status = 'Failed' AND g.end_at >= '2026-11-09 00:00:00.000000' AND g.end_at < '2026-11-16 00:00:00.000000'",
                    "gpu-east")
    f = out["figures"]
    assert f["count"] == len(want) == 25
    assert {w["name"] for w in f["workloads"]} <= {r[0] for r in want}
    first = f["workloads"][0]
    assert first["status"] == "Failed" and set(first) >= {"kind", "user", "gpu_hours", "duration_hours",
                                                           "start", "end"}
    assert out["tables"][0]["name"] == "workloads"


@pytest.mark.parametrize("question", ["what did user_a run yesterday?", "user_a昨天跑了什么"])
def test_what_a_user_ran_is_the_list_of_their_workloads(question):
    """"What did user_a run yesterday" names no workload noun, yet asks for the workloads:
    a history list of those that ran (overlapped) yesterday, user_a's only — not a trend."""
    out = ask(question).json()
    assert out["intent"] == "history" and out["entities"]["user"] == "user_a"
    f = out["figures"]
    assert f["count"] > 0 and {w["user"] for w in f["workloads"]} == {"user_a"}
    assert all(w["start"] < "2026-11-19T00:00:00Z" and (w["end"] is None or
                                                       w["end"] > "2026-11-18T00:00:00Z")
               for w in f["workloads"])


def test_still_running_pending_longest_and_biggest():
    running = ask("whats still running in ml-team").json()["figures"]
    assert running["count"] == raw_rows(_db(), f"SELECT count(*) FROM gpu_workload g WHERE {TOP} AND "
                                                f"{IN_CLUSTER} AND g.namespace = 'ml-team' AND g.status = "
                                                "'Running' AND g.created_at <= '2026-11-19 12:00:00.000000'",
                                        "gpu-east")[0][0]
    assert ask("anything pending on gpu-lab").json()["figures"]["count"] == 0
    longest = ask("list the 5 longest jobs that finished on gpu-west last week").json()["figures"]
    durations = [w["duration_hours"] for w in longest["workloads"]]
    assert len(durations) == 5 and durations == sorted(durations, reverse=True)
    biggest = ask("gpu-lab 上周 最大的几个任务").json()
    hours = [w["gpu_hours"] for w in biggest["figures"]["workloads"]]
    assert biggest["language"] == "zh" and hours == sorted(hours, reverse=True)
    top = raw_rows(_db(), "SELECT max(s) FROM (SELECT sum(allocated_gpu_count) s FROM workload_gpu_hourly_stats "
                          "WHERE cluster_name = 'gpu-lab' AND stat_hour >= '2026-11-09' AND stat_hour < "
                          "'2026-11-16' GROUP BY namespace, workload_name)")[0][0]
    assert hours[0] == pytest.approx(top)


def test_history_and_daily_series_on_the_lens_api_match_sql(demo_db):
    questions = ["which jobs failed last week on gpu-east", "cv-team在gpu-west上周跑了多少个pytorchjob",
                 "gpu-east utilization per day over the past 14 days"]
    via_sql = [ask(q).json() for q in questions]
    with serve_lens(demo_db) as server:
        via_lens = [ask(q, env={"LENS_API_URL": server.url}).json() for q in questions]
    for s, l in zip(via_sql[:2], via_lens[:2]):
        assert l["figures"]["count"] == s["figures"]["count"]
        assert [w["name"] for w in l["figures"]["workloads"]] == [w["name"] for w in s["figures"]["workloads"]]
    assert [p["avg_utilization"] for p in via_lens[2]["figures"]["series"]] == \
        pytest.approx([p["avg_utilization"] for p in via_sql[2]["figures"]["series"]])


# -- granularity ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("question", ["gpu-east utilization per day over the past 14 days",
                                      "gpu-west 过去两周每天的利用率"])
def test_daily_utilization_is_one_point_per_day_computed_from_the_rows(question):
    r = run("--now", "2026-11-19T00:00:00Z", "ask", question, "--json")
    out = r.json()
    series = out["figures"]["series"]
    assert out["figures"]["granularity"] == "day" and len(series) == 14
    assert [p["time"][:10] for p in series] == [f"2026-11-{d:02d}" for d in range(5, 19)]
    cluster = out["entities"]["cluster"]
    want = raw_rows(_db(), "SELECT date(stat_hour), sum(allocated_gpu_count * avg_utilization) / "
                           "sum(allocated_gpu_count) FROM cluster_gpu_hourly_stats WHERE cluster_name = ? "
                           "AND stat_hour >= '2026-11-05' AND stat_hour < '2026-11-19' GROUP BY 1 ORDER BY 1",
                    cluster)
    assert [p["avg_utilization"] for p in series] == pytest.approx([v for _, v in want])
    text = run("--now", "2026-11-19T00:00:00Z", "ask", question)
    assert "2026-11-05" in text.stdout and "2026-11-18" not in text.stdout.split("\n")[0]
