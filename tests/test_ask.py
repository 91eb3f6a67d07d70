"""`gpureport ask` end to end on the demo data: figures, drill-down, clarification, sessions,
and hostile input (the LLM path and its grounding guard: tests/test_llm_guard.py).

Every test asks from its own empty GPUREPORT_HOME about the shared demo store (seed 42, now =
NOW), through the real command line in-process (tests/cli.py). Expected figures are computed
here from the raw rows (tests/expect.py), not by gpureport.
"""

from __future__ import annotations

import re

import time
from collections import defaultdict

import pytest

from agent.periods import baseline, last_days, last_week, this_week
from tests.cli import run, run_process
from tests.conftest import NOW
from tests.expect import _ts, expected, raw_rows
from tests.rows import add_idle_workload
from tests.fakes.lens_api import serve_lens


@pytest.fixture(autouse=True)
def asking_the_demo_store(home, demo_db, monkeypatch):
    monkeypatch.setenv("GPUREPORT_DATABASE_URL", demo_db)


def ask_json(question, *extra, code=0, env=None):
    """``gpureport ask QUESTION --json *extra``: the parsed answer, after checking the exit code."""
    r = run("ask", question, "--json", *extra, env=env)
    assert r.exit_code == code, r
    return r.json()


# -- figures equal independent SQL -------------------------------------------------------------

def test_trend_figures(demo_db):
    out = ask_json("What is the GPU utilization trend of ml-team over the last 7 days?")
    assert out["intent"] == "trend" and out["entities"]["namespace"] == "ml-team"
    p = last_days(NOW, 7)
    want = expected(demo_db, "namespace_gpu_hourly_stats", "cluster_name = ? AND namespace = ?",
                    ("gpu-east", "ml-team"), p.start, p.end)
    f = out["figures"]
    for key in ("gpu_hours", "avg_utilization", "allocation_rate"):
        assert f[key] == pytest.approx(want[key], abs=1e-9)
    assert len(f["series"]) == 168
    assert out["llm_calls"] == 0 and out["entities"]["period"] == {"start": "2026-11-12T12:00:00Z",
                                                                   "end": "2026-11-19T12:00:00Z"}
    assert "ml-team" in out["answer"] and f"{want['avg_utilization']:.1f}%" in out["answer"]


def test_compare_two_namespaces(demo_db):
    out = ask_json("Compare GPU usage between ml-team and cv-team", "--cluster", "gpu-east")
    assert out["intent"] == "compare"
    p = last_days(NOW, 7)
    f = out["figures"]
    for side, ns in (("a", "ml-team"), ("b", "cv-team")):
        want = expected(demo_db, "namespace_gpu_hourly_stats", "cluster_name = ? AND namespace = ?",
                        ("gpu-east", ns), p.start, p.end)
        assert f[side]["avg_utilization"] == pytest.approx(want["avg_utilization"], abs=1e-9)
        assert f[side]["gpu_hours"] == pytest.approx(want["gpu_hours"], abs=1e-9)
    assert f["delta_pp"] == pytest.approx(f["b"]["avg_utilization"] - f["a"]["avg_utilization"])


def test_compare_this_week_with_last_week(demo_db):
    out = ask_json("Compare this week's and last week's utilization", "--cluster", "gpu-east")
    assert out["intent"] == "compare"
    cur = this_week(NOW)
    prev = baseline(cur)
    f = out["figures"]
    for side, p in (("a", prev), ("b", cur)):
        want = expected(demo_db, "cluster_gpu_hourly_stats", "cluster_name = ?", ("gpu-east",), p.start, p.end)
        assert f[side]["avg_utilization"] == pytest.approx(want["avg_utilization"], abs=1e-9)
        assert f[side]["allocation_rate"] == pytest.approx(want["allocation_rate"], abs=1e-9)


def test_realtime_matches_the_latest_snapshot(demo_db):
    out = ask_json("How many GPUs are currently in use in the cluster?", "--cluster", "gpu-east")
    assert out["intent"] == "realtime"
    (t, cap, alloc), = raw_rows(demo_db, "SELECT snapshot_time, total_gpu_capacity, allocated_gpu_count "
                                         "FROM gpu_allocation_snapshots WHERE cluster_name='gpu-east' "
                                         "ORDER BY snapshot_time DESC LIMIT 1")
    f = out["figures"]
    assert (f["total_gpus"], f["allocated_gpus"]) == (cap, alloc)
    assert f["allocation_rate"] == pytest.approx(alloc / cap * 100)
    assert str(alloc) in out["answer"]


def test_ranking_of_wasted_gpu_hours(demo_db):
    out = ask_json("Which workloads wasted the most GPU hours last week?", "--cluster", "gpu-east")
    assert out["intent"] == "ranking"
    p = last_week(NOW)
    idle: dict = defaultdict(float)
    for hour, ns, name, a, u in raw_rows(demo_db, "SELECT stat_hour, namespace, workload_name, "
                                                  "allocated_gpu_count, avg_utilization FROM "
                                                  "workload_gpu_hourly_stats WHERE cluster_name='gpu-east'"):
        if p.start <= _ts(hour) < p.end:
            idle[(ns, name)] += a * (1 - u / 100)
    # a weekly job renamed every run is one family (answers.md §7): its idle GPU-hours are the
    # sum of its members'; a single workload is itself
    items = out["figures"]["items"]
    got = []
    for item in items:
        names = item.get("members") or [item["name"]]
        assert len(names) == 1 or item["name"].endswith("*")
        value = sum(idle[(item["namespace"], n)] for n in names)
        assert item["idle_gpu_hours"] == pytest.approx(value, abs=1e-9)
        got.append(value)
    assert got == sorted(got, reverse=True)
    members = {n for item in items for n in item.get("members") or []}
    singles = sorted(((v, k[1]) for k, v in idle.items() if k[1] not in members), reverse=True)
    assert got[0] >= singles[0][0]  # no single workload wasted more than the first row
    assert any(item.get("members") for item in items[:5])
    assert not any(re.search(r"-w\d\d-\d\d$", item["name"]) for item in items)


# -- drill-down ----------------------------------------------------------------------------------

def test_drilldown_names_user_a_and_the_idle_workload(demo_db):
    out = ask_json("Why is ml-team's utilization lower this week than last week? Which workloads caused this?")
    assert out["intent"] == "drilldown"
    f = out["figures"]
    cur, prev = this_week(NOW), baseline(this_week(NOW))
    for block, p in (("before", prev), ("after", cur)):
        want = expected(demo_db, "namespace_gpu_hourly_stats", "cluster_name = ? AND namespace = ?",
                        ("gpu-east", "ml-team"), p.start, p.end)
        assert f[block]["avg_utilization"] == pytest.approx(want["avg_utilization"], abs=1e-9)
    for kind in ("user", "workload"):
        impacts = [c["impact_pp"] for c in f["contributors"] if c["kind"] == kind]
        if kind == "user":  # users partition the namespace: their impacts add up to the change
            assert sum(impacts) == pytest.approx(f["total_delta_pp"], abs=1e-9)
    users = [c for c in f["contributors"] if c["kind"] == "user"]
    workloads = [c for c in f["contributors"] if c["kind"] == "workload"]
    assert workloads[0]["name"] == "llm-eval-server" and workloads[0]["status"] == "new"
    user_a = next(c for c in users if c["name"] == "user_a")
    assert (user_a["workloads_before"], user_a["workloads_after"]) == (28, 12)
    assert user_a["impact_pp"] < -3
    assert "user_a" in out["answer"] and "llm-eval-server" in out["answer"]
    assert f["total_delta_pp"] < -10


def test_drilldown_in_chinese():
    out = ask_json("为什么ml-team这周的利用率比上周低？是哪些任务导致的？")
    assert out["language"] == "zh" and out["intent"] == "drilldown"
    assert "user_a" in out["answer"] and "llm-eval-server" in out["answer"] and "下降" in out["answer"]


# -- clarification -------------------------------------------------------------------------------

def test_bare_request_lists_exactly_the_real_clusters(demo_db):
    out = ask_json("I want to check GPU usage", code=3)
    clusters = sorted(r[0] for r in raw_rows(demo_db, "SELECT DISTINCT cluster_name FROM cluster_gpu_hourly_stats"))
    assert out["needs_clarification"] is True
    assert sorted(out["options"]) == clusters
    assert out["question"]


def test_typo_in_namespace_suggests_the_real_one():
    out = ask_json("trend for namespace ml-teem", code=3)
    assert "ml-team" in out["options"] and "ml-team" in out["question"]



@pytest.mark.parametrize("question, extra, entity, word", [
    ("how is ml-team doing last week", ("--cluster", "gpu-esat"), "cluster", "gpu-esat"),
    ("how is ml-team doing last week on gpu-esat", (), "cluster", "gpu-esat"),
    ("how is ml-taem doing last week on gpu-east", (), "namespace", "ml-taem"),
    ("how is user alcie doing last week on gpu-east", (), "user", "alcie"),
])
def test_a_name_asked_back_is_not_in_the_entities(question, extra, entity, word):
    """``entities`` hold what is known (answers.md §1): the misspelt word is the issue's, asked
    back with its close matches, and no cluster stands in for the one being asked about (not
    even the home cluster of ml-team)."""
    out = ask_json(question, *extra, code=3)
    assert out["entities"][entity] is None
    assert out["figures"]["issue"] == {"kind": "unknown", "entity": entity, "text": word}
    assert word not in str(out["entities"])


def test_choosing_the_cluster_of_a_comparison_answers_the_comparison():
    """The chosen cluster is the comparison's scope, not a second side to compare with."""
    first = ask_json("compare ml-team last week vs the week before", "--cluster", "gpu-esat",
                     "--session", "typo", code=3)
    assert first["options"] == ["gpu-east", "gpu-west"]
    done = ask_json("1", "--session", "typo")
    assert (done["intent"], done["entities"]["cluster"]) == ("compare", "gpu-east")
    assert "compare_with" not in done["entities"] and not done["needs_clarification"]


def test_picking_an_option_continues():
    r = run("ask", "trend for namespace ml-teem", "--interactive", input="1\n")
    assert r.exit_code == 0, r
    assert "ml-team" in r.stdout and "averaged" in r.stdout


def test_non_interactive_text_output_exits_3():
    r = run("ask", "我想看看GPU使用情况")
    assert r.exit_code == 3, r
    for c in ("gpu-east", "gpu-west", "gpu-lab"):
        assert c in r.stdout


# -- sessions --------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["sqlite", "postgres"])
def test_follow_up_across_processes(state, request, monkeypatch):
    """A session lives in the state database: the follow-up asked by a second process resolves
    against the first turn, and the third turn (back in this one) against the second."""
    if state == "postgres":
        monkeypatch.setenv("GPUREPORT_STATE_DATABASE_URL", request.getfixturevalue("pg_url"))
    first = ask_json("What is ml-team's utilization this week?", "--session", "s1")
    assert first["entities"]["namespace"] == "ml-team" and first["session_id"] == "s1"
    r = run_process("ask", "and last week?", "--json", "--session", "s1")
    assert r.exit_code == 0, r
    second = r.json()
    assert second["entities"]["namespace"] == "ml-team"
    assert second["entities"]["period"] == {"start": "2026-11-09T00:00:00Z", "end": "2026-11-16T00:00:00Z"}
    third = ask_json("what about cv-team?", "--session", "s1")
    assert third["entities"]["namespace"] == "cv-team"


def test_compare_follow_up_replaces_one_side():
    ask_json("Compare ml-team and cv-team", "--session", "c1", "--cluster", "gpu-east")
    out = ask_json("what about nlp-team instead of cv-team?", "--session", "c1", "--cluster", "gpu-east")
    assert out["intent"] == "compare"
    assert {out["figures"]["a"]["label"], out["figures"]["b"]["label"]} == {"ml-team", "nlp-team"}


# -- hostile input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("question", [
    "trend for namespace '; DROP TABLE namespace_gpu_hourly_stats; --",
    "Robert'); DELETE FROM cluster_gpu_hourly_stats;-- utilization trend",
    "<script>alert(1)</script> utilization of <img src=x onerror=alert(1)>",
])
def test_injection_strings_are_just_text(demo_db, question):
    before = raw_rows(demo_db, "SELECT count(*) FROM namespace_gpu_hourly_stats")[0][0]
    r = run("ask", question, "--json")
    assert r.exit_code in (0, 1, 3), r
    if r.exit_code == 1:  # a name that matches nothing: one line naming it (answers.md §1)
        assert len(r.stderr.strip().splitlines()) == 1 and "no " in r.stderr, r
    else:
        assert r.json()["answer"]
    assert raw_rows(demo_db, "SELECT count(*) FROM namespace_gpu_hourly_stats")[0][0] == before
    assert "Traceback" not in r.stderr


def test_very_long_and_empty_questions():
    t = time.perf_counter()
    out = ask_json("What is the GPU utilization trend of ml-team? " + "blah " * 2000)
    assert time.perf_counter() - t < 20
    assert out["intent"] == "trend"
    for blank in ("", "   ", "\t\n", "\u3000\u3000"):  # answers.md §5: a usage error, exit 2
        r = run("ask", blank, "--json")
        assert r.exit_code == 2 and "empty" in r.stderr and "Traceback" not in r.stderr, r


def test_the_lens_api_source_gives_the_same_answer(demo_db):
    """The same question through a Lens API (local contract server) and through SQL."""
    q = "Why is ml-team's utilization lower this week than last week?"
    via_sql = ask_json(q)
    with serve_lens(demo_db) as server:
        via_lens = ask_json(q, env={"LENS_API_URL": server.url})
    for block in ("before", "after"):
        for key in ("avg_utilization", "gpu_hours", "allocation_rate"):
            assert via_lens["figures"][block][key] == pytest.approx(via_sql["figures"][block][key], abs=1e-9)
    lens_workloads = {c["name"]: c["impact_pp"] for c in via_lens["figures"]["contributors"] if c["kind"] == "workload"}
    assert lens_workloads["llm-eval-server"] == pytest.approx(
        next(c["impact_pp"] for c in via_sql["figures"]["contributors"] if c["name"] == "llm-eval-server"), abs=1e-9)


# -- how the answer is printed ---------------------------------------------------------------------

def test_text_output_prints_tables_notes_and_details_by_part():
    r = run("ask", "Why did gpu-east utilization drop this week?")
    assert r.exit_code == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Utilization of the cluster (gpu-east) fell")
    # the note is printed; the detail lines are not, because the tables show the same rows
    assert any(line.startswith("  • Inside ml-team: workload llm-eval-server") for line in lines)
    assert not any(line.startswith("  • namespace ml-team") for line in lines)
    header = next(i for i, line in enumerate(lines) if line.split() == [
        "kind", "name", "impact", "GPU-h", "before", "after", "workloads"])
    assert lines[header + 1].split()[:3] == ["namespace", "ml-team", "−4.3"]
    assert "  Inside ml-team" in lines
    trend = run("ask", "What is the GPU utilization trend of ml-team over the last 7 days?")
    bullets = [line for line in trend.stdout.splitlines() if line.startswith("  • ")]
    assert len(bullets) == 2 and bullets[0].startswith("  • Daily average utilization was")


def test_render_text_is_generic_over_the_parts():
    """No rule looks at what a line says: any note is printed, details only without a table."""
    from agent.answer import Answer, Column, Table
    from reporter.commands_ask import render_text

    table = Table("things", [Column("name", "thing"), Column("v", "share", "pct")],
                  [{"name": f"t{i}", "v": i / 3} for i in range(12)], title="Some things")
    a = Answer("Headline.", intent="ranking", insights=["detail one"], notes=["Zebra note"],
               tables=[table], warnings=["mind the gap"])
    text = render_text(a).splitlines()
    assert text[:2] == ["Headline.", "  • Zebra note"] and "  • detail one" not in text
    assert "  Some things" in text and "  t1     0.3" in text
    assert "  … 2 more (--json has them all)" in text and text[-1] == "  (warning: mind the gap)"
    assert render_text(Answer("H.", insights=["detail one"])).splitlines() == ["H.", "  • detail one"]


def test_control_characters_in_names_never_reach_the_terminal(demo_copy, monkeypatch):
    evil = "evil\x1b]0;owned\x07\x1b[2J\x1b[31mjob\x9b1m\u202e"
    add_idle_workload(demo_copy, evil)
    monkeypatch.setenv("GPUREPORT_DATABASE_URL", demo_copy)
    q = "Which workloads wasted the most GPU hours this week?"
    r = run("ask", q, "--cluster", "gpu-east")
    assert r.exit_code == 0, r
    assert "evil" in r.stdout and "eviljob" in r.stdout  # the name, without what drove the terminal
    for ch in ("\x1b", "\x07", "\x9b", "\u202e", "owned"):
        assert ch not in r.stdout, repr(ch)
    j = run("ask", q, "--cluster", "gpu-east", "--json")
    assert j.json()["figures"]["items"][0]["name"] == evil  # JSON keeps the data ...
    assert "\\u001b" in j.stdout and "\\u009b" in j.stdout and "\x1b" not in j.stdout  # ... escaped


def test_a_terminal_prompts_and_the_same_thread_answers(demo_db, home):
    """In a real pseudo-terminal ``ask`` asks back, reads the choice and answers."""
    import os
    import pty
    import select
    import subprocess
    import sys

    from tests.cli import ROOT

    master, slave = pty.openpty()
    env = {**os.environ, "GPUREPORT_DATABASE_URL": demo_db, "GPUREPORT_NOW": "2026-11-19T12:00:00Z",
           "PYTHONPATH": str(ROOT), "TERM": "dumb"}
    proc = subprocess.Popen([sys.executable, "-m", "reporter.cli", "ask", "trend for namespace ml-teem"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen, answered = b"", False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"Pick a number or a name" in seen:
            os.write(master, b"1\n")
            answered = True
        if proc.poll() is not None and not ready:
            break
    proc.wait(timeout=30)
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "Did you mean: ml-team?" in text and "  1. ml-team" in text
    assert "ml-team (gpu-east) averaged" in text


@pytest.mark.parametrize("raw, shown", [
    ("ml-team", "ml-team"),
    ("ml-团队", "ml-团队"),
    ("a\x1b]0;title\x07b", "ab"),  # OSC (window title) ended by BEL
    ("a\x1b]8;;http://x\x1b\\b", "ab"),  # OSC ended by ST
    ("\x1b[2J\x1b[Hclear", "clear"),  # CSI: clear screen, cursor home
    ("red\x1b[1;31mX\x1b[0m", "redX"),
    ("c1\x9b2Jcsi", "c1csi"),  # the 8-bit CSI
    ("bell\x07\x00nul\x7f", "bellnul"),
    ("line\nbreak\ttab", "line break tab"),
    ("bidi\u202eevil\u2066x", "bidievilx"),
])
def test_printable_strips_terminal_control(raw, shown):
    from agent.text import printable

    assert printable(raw) == shown


def test_a_rule_path_question_imports_no_llm_client_pdf_chart_or_migration_module():
    """A real start-up: a question the rules answer loads none of langchain-openai, WeasyPrint,
    pygal or Alembic (item 9: they cost start-up time and this path never uses them)."""
    r = run_process("ask", "Why is ml-team's utilization lower this week than last week?",
                    python=("-X", "importtime"))
    assert r.exit_code == 0, r
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()
                if line.startswith("import time:")}
    assert "agent.graph.build" in imported
    heavy = {m for m in imported if m.split(".")[0] in ("langchain_openai", "openai", "weasyprint",
                                                        "pygal", "alembic")}
    assert not heavy, sorted(heavy)
