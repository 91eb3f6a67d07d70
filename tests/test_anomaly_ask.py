"""`gpureport ask "anything unusual this week?"` on a store with a known anomaly
(tests/anomaly_store.py): the episodes, their figures against the rows, their cause, the
history said, and "nothing unusual" said plainly — in English and Chinese.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from statistics import median

import pytest

from agent.phrasing import anomalies as words
from agent.understand.model import Metadata
from agent.understand.rules import understand
from tests.anomaly_store import DROPPED_TO, EPISODE, HOUR, build_store, utilization
from tests.cli import run
from tests.conftest import NOW


@pytest.fixture
def store(home, tmp_path, monkeypatch):
    """Build a store (``build_store`` keywords) and point gpureport at it."""
    def make(**kw) -> str:
        url = build_store(tmp_path / "lab.db", **kw)
        monkeypatch.setenv("GPUREPORT_DATABASE_URL", url)
        return url
    return make


def ask_json(question: str, *extra) -> dict:
    r = run("ask", question, "--json", *extra)
    assert r.exit_code == 0, r
    return r.json()


def lost_gpu_hours() -> float:
    """Utilized GPU-hours train-a (4 GPUs) lost in the episode, from the injected values."""
    hours = [EPISODE[0] + i * HOUR for i in range(6)]
    return sum(4 * (utilization("train-a", t, False) - DROPPED_TO) / 100.0 for t in hours)


def sql_value(url: str, table: str, where: str, args: tuple, hour) -> float:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        row = con.execute(f"SELECT avg_utilization FROM {table} WHERE {where} AND stat_hour = ?",
                          (*args, hour.strftime("%Y-%m-%d %H:%M:%S.%f"))).fetchone()
    return row[0]


def test_the_questions_of_the_brief_are_anomaly_questions():
    names = Metadata(clusters=["gpu-east", "gpu-west"], namespaces=["ml-team"])
    for question, cluster in (("anything unusual this week?", None),
                              ("any anomalies in gpu-east?", "gpu-east"),
                              ("这周有什么异常吗？", None)):
        u = understand(question, NOW, names)
        assert (u.intent, u.cluster) == ("anomalies", cluster) and u.confidence >= 0.6
    assert understand("这周有什么异常吗？", NOW, names).period.label == "this week"
    assert understand("any anomalies in gpu-east?", NOW, names).period.label == "last 7 days"


def test_an_injected_drop_is_one_episode_per_level_with_figures_from_the_rows(store):
    url = store()
    out = ask_json("anything unusual this week?")
    assert out["intent"] == "anomalies"
    f = out["figures"]
    assert (f["weeks_of_history"], f["weeks_wanted"], f["detected"]) == (4, 4, True)
    found = {(e["namespace"], e["metric"]): e for e in f["anomalies"]}
    assert set(found) == {("alpha", "avg_utilization"), (None, "avg_utilization")}
    for e in found.values():
        assert (e["start"], e["end"], e["hours"], e["direction"]) == (
            "2026-11-18T10:00:00Z", "2026-11-18T16:00:00Z", 6, "below")
        # the same 4 utilized GPU-hours an hour, seen on 8 GPUs (alpha) or 16 (the cluster)
        assert e["gpu_hours_affected"] == pytest.approx(lost_gpu_hours(), abs=1e-9)
    # the peak: the row's value against the median of the same hour in the 4 weeks before
    alpha = found[("alpha", "avg_utilization")]
    peak = EPISODE[0].replace(tzinfo=None)
    value = sql_value(url, "namespace_gpu_hourly_stats", "namespace = ?", ("alpha",), peak)
    refs = [sql_value(url, "namespace_gpu_hourly_stats", "namespace = ?", ("alpha",),
                      peak - timedelta(weeks=w)) for w in range(1, 5)]
    assert alpha["peak"]["time"] == "2026-11-18T10:00:00Z"
    assert alpha["peak"]["deviation"] == pytest.approx(value - median(refs), abs=1e-9)
    # the likely cause: the workload that dropped (alpha) and the namespace (the cluster)
    assert [c["name"] for c in alpha["cause"]["contributors"]] == ["train-a"]
    assert [c["name"] for c in found[(None, "avg_utilization")]["cause"]["contributors"]] == ["alpha"]
    assert alpha["cause"]["baseline"] == {"start": "2026-11-11T10:00:00Z",
                                          "end": "2026-11-11T16:00:00Z",
                                          "label": "the same hours a week earlier"}
    assert out["answer"] == ("2 unusual episodes for the cluster (lab) this week "
                             "(baseline: the same hours of the previous 4 weeks), largest first:")
    first, second = out["insights"]  # equal GPU-hours affected: the namespace sorts first
    assert first.startswith(
        "alpha on lab: utilization below usual from 2026-11-18 10:00 to 2026-11-18 16:00 UTC "
        f"(6 h), peak −{abs(alpha['peak']['deviation']):.1f} pp at 2026-11-18 10:00")
    assert f"{lost_gpu_hours():.1f} GPU-hours affected. Likely cause: workload train-a" in first
    assert second.startswith("cluster lab: utilization below usual") and \
        "Likely cause: namespace alpha" in second
    assert out["tables"] == []  # two episodes: the lines say it all (a table from six on)


def test_the_same_in_chinese(store):
    store()
    out = ask_json("这周有什么异常吗？")
    assert out["language"] == "zh" and out["intent"] == "anomalies"
    assert out["answer"] == "集群（lab）在本周有 2 个异常时段（基线为前 4 周同一时段），最大的在前："
    first = out["insights"][0]
    assert first.startswith("alpha（lab）：利用率低于往常，2026-11-18 10:00 至 2026-11-18 16:00 "
                            "UTC（6 小时）")
    assert f"影响 {lost_gpu_hours():.1f} GPU小时。可能原因：任务 train-a" in first
    assert out["tables"] == []


def test_nothing_unusual_is_said_plainly(store):
    store(inject=False)
    out = ask_json("any anomalies in lab?")
    assert out["figures"]["anomalies"] == [] and out["tables"] == []
    assert out["answer"] == ("Nothing unusual for the cluster (lab) over the last 7 days: every "
                             "hour stayed within its usual weekly pattern (baseline: the same "
                             "hours of the previous 4 weeks).")
    zh = ask_json("lab这周有什么异常吗？")
    assert zh["answer"].startswith("集群（lab）在本周没有异常")


def test_short_history_is_said_and_no_history_is_not_judged(store, tmp_path, monkeypatch):
    store(weeks_of_history=2)
    out = ask_json("anything unusual this week?")
    f = out["figures"]
    assert (f["weeks_of_history"], f["detected"]) == (2, True)
    assert {e["namespace"] for e in f["anomalies"]} == {"alpha", None}
    assert "baseline from only 2 weeks of history, 4 wanted: less certain" in out["answer"]
    assert all("baseline from only 2 weeks of history." in line  # each episode says it too
               for line in out["insights"])

    monkeypatch.setenv("GPUREPORT_DATABASE_URL", build_store(tmp_path / "new.db",
                                                             weeks_of_history=1))
    out = ask_json("anything unusual this week?")
    assert out["figures"]["detected"] is False and out["figures"]["anomalies"] == []
    assert out["answer"].startswith("Cannot tell whether anything was unusual for the cluster "
                                    "(lab) this week")
    assert "(1 found)" in out["answer"]


def test_a_cluster_too_young_to_judge_is_named_without_hiding_the_others(store, tmp_path):
    url = store()
    build_store(tmp_path / "lab.db", weeks_of_history=1, cluster="fresh")  # same store
    out = ask_json("anything unusual this week?")
    f = out["figures"]
    assert f["detected"] is True and f["history_by_cluster"] == {"fresh": 1, "lab": 4}
    assert {e["cluster"] for e in f["anomalies"]} == {"lab"}
    assert out["answer"].startswith("2 unusual episodes for all clusters this week")
    assert out["insights"][-1] == "Not judged (less than 2 weeks of history): fresh."
    assert url.endswith("lab.db")


def test_more_episodes_than_lines_come_with_a_table_of_all():
    e = {"cluster": "c", "namespace": "n", "metric": "avg_utilization", "unit": "pp",
         "direction": "below", "start": "2026-11-18T10:00:00Z", "end": "2026-11-18T13:00:00Z",
         "hours": 3, "peak": {"time": "2026-11-18T10:00:00Z", "value": 20.0, "baseline": 60.0,
                              "deviation": -40.0, "z": -16.0},
         "mean_deviation": -40.0, "gpu_hours_affected": 12.0, "weeks_of_history": 4}
    f = {"detected": True, "weeks_of_history": 4, "weeks_wanted": 4,
         "anomalies": [dict(e, namespace=f"n{i}") for i in range(7)]}
    head, lines = words.answer(f, {"cluster": "c"}, "en", "this week", None)
    assert head.startswith("7 unusual episodes") and len(lines) == 6
    assert lines[-1] == "2 more in the table."
    (t,) = words.table(f, "en")
    assert [r["namespace"] for r in t.rows] == [f"n{i}" for i in range(7)]
    assert words.table(dict(f, anomalies=f["anomalies"][:5]), "en") == []
