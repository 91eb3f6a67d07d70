"""The agent graph on the demo data: nodes called alone, concurrent tool calls, clarification by
interrupt and resume, the event stream, and the parts of an answer for every intent.

Everything runs in this process against the shared demo store (seed 42, now = NOW) through
``agent.ask`` or the node functions themselves; expected figures come from the tools' own
results or from the raw rows (tests/expect.py), never from the text of an answer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from agent.answer import Data, Final, Status
from agent.ask import AgentDeps, answer_preset, ask, stream
from agent.errors import SourceError, UsageError
from agent.graph import build
from agent.graph.execute import execute
from agent.graph.plan import plan
from agent.graph.state import new_turn, serializer
from agent.graph.synthesize import synthesize
from agent.graph.understand import understand
from agent.periods import baseline, last_days, last_week, this_week
from agent.settings import SourceSettings
from agent.sources import make_source
from agent.tools import TOOLS, PeriodArgs, run_tool
from agent.understand.model import Issue, Understanding
from tests.conftest import NOW
from tests.expect import expected


@pytest.fixture
def deps(demo_db):
    source = make_source(SourceSettings(database_url=demo_db))
    yield AgentDeps(source, NOW)
    source.close()


def config_of(deps: AgentDeps) -> dict:
    return {"configurable": {"deps": deps}}


def period_args(p) -> dict:
    return PeriodArgs.of(p).model_dump()


# -- nodes are plain functions ---------------------------------------------------------------------

def test_understand_node_alone(deps):
    out = understand(new_turn("Why is ml-team's utilization lower this week than last week?"),
                     config_of(deps))
    u = out["understanding"]
    assert isinstance(u, Understanding)
    assert (u.intent, u.namespace, u.cluster) == ("drilldown", "ml-team", "gpu-east")
    assert (u.period, u.baseline) == (this_week(NOW), baseline(this_week(NOW)))
    assert sorted(out["clusters"]) == ["gpu-east", "gpu-lab", "gpu-west"]
    assert "get_available_clusters" in [r["tool"] for r in out["data_collected"]]


def test_plan_node_alone(deps):
    cur = this_week(NOW)
    u = Understanding(question="q", intent="compare", cluster="gpu-east", period=cur,
                      baseline=baseline(cur), breakdown="namespace")
    out = plan({"understanding": u}, config_of(deps))
    (step,) = out["plan"]
    assert [c["tool"] for c in step] == ["compare_usage", "compare_children"]
    assert step[1]["args"]["child"] == "namespace"
    assert step[0]["args"]["b_period"] == period_args(cur)
    assert out["step"] == 0 and out["results"] == []


def test_execute_and_synthesize_nodes_alone(deps):
    cur = this_week(NOW)
    u = Understanding(question="Why did gpu-east drop?", intent="drilldown", cluster="gpu-east",
                      period=cur, baseline=baseline(cur))
    scope = {"kind": "cluster", "cluster": "gpu-east"}
    call = {"tool": "drilldown_change", "args": {"scope": scope, "period": period_args(cur),
                                                 "baseline": period_args(baseline(cur))}}
    state = {"understanding": u, "plan": [[call]], "step": 0, "results": [], "data_collected": []}
    out = execute(state, config_of(deps))
    # the cluster drill-down added a step: the namespace that moved most, in the same direction
    assert out["step"] == 1 and len(out["plan"]) == 2
    assert out["plan"][1][0]["args"]["scope"]["namespace"] == "ml-team"
    _, direct = run_tool("drilldown_change", call["args"], deps.source, NOW)
    assert out["results"][0]["artifact"] == direct
    assert out["data_collected"] == [{"tool": "drilldown_change", "args": call["args"],
                                      "rows": len(direct["contributors"])}]
    state.update(out)
    state.update(execute(state, config_of(deps)))
    assert state["step"] == 2 and len(state["plan"]) == 2  # no follow-up of a follow-up
    answer = synthesize({**state, "clusters": ["gpu-east", "gpu-west"]}, config_of(deps))["answer"]
    assert answer.figures["total_delta_pp"] == direct["total_delta_pp"]
    assert answer.figures["namespace_drilldown"]["namespace"] == "ml-team"
    assert answer.headline.startswith("Utilization of the cluster (gpu-east) fell")
    assert any(n.startswith("Inside ml-team: ") for n in answer.notes)


def test_a_node_without_deps_says_what_is_missing():
    with pytest.raises(TypeError, match=r'config\["configurable"\]\["deps"\]'):
        plan({"understanding": Understanding("q")}, {"configurable": {}})


def test_the_graph_is_compiled_once_per_process(deps):
    build._compiled_once.cache_clear()
    ask("How many GPUs are currently in use?", deps, cluster="gpu-east")
    ask("Which namespaces wasted the most GPU hours last week?", deps, cluster="gpu-east")
    assert build._compiled_once.cache_info().misses == 1


def test_the_tool_registry_is_a_plain_list():
    names = [t.name for t in TOOLS]
    assert names[:7] == ["query_gpu_usage_trend", "analyze_workload_history", "get_latest_snapshot",
                         "get_workload_metadata", "get_available_clusters",
                         "get_available_namespaces", "get_available_dimension_keys"]
    assert len(set(names)) == len(names) and {"compare_children", "get_data_freshness",
                                              "list_workload_history", "find_idle_gpus"} <= set(names)


# -- the calls of one step run concurrently ------------------------------------------------------------

@dataclass
class Call:
    name: str
    args: tuple
    start: float
    end: float
    thread: str


class SlowSource:
    """The demo source, with chosen methods slowed down and every call to them recorded."""

    parallel_calls = True  # its calls wait, as on a network: overlapping them pays

    def __init__(self, inner, slow: tuple[str, ...], delay: float = 0.4):
        self._inner, self._slow, self._delay = inner, slow, delay
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name not in self._slow:
            return attr

        def slowed(*args, **kwargs):
            start = time.perf_counter()
            time.sleep(self._delay)
            try:
                return attr(*args, **kwargs)
            finally:
                with self._lock:
                    self.calls.append(Call(name, args, start, time.perf_counter(),
                                           threading.current_thread().name))
        return slowed


def test_two_calls_of_one_step_overlap_in_time(deps):
    slow = SlowSource(deps.source, ("dimension_keys",))
    window = period_args(last_days(NOW, 7))
    calls = [{"tool": "get_available_dimension_keys",
              "args": {"cluster": "gpu-east", "dimension_type": t, "period": window}}
             for t in ("label", "annotation")]
    t0 = time.perf_counter()
    out = execute({"understanding": Understanding("q", intent="discovery"), "plan": [calls],
                   "step": 0}, config_of(AgentDeps(slow, NOW)))
    elapsed = time.perf_counter() - t0
    a, b = slow.calls
    assert max(a.start, b.start) < min(a.end, b.end), "the two calls did not overlap"
    assert a.thread != b.thread and elapsed < 2 * 0.4
    # results stay in plan order whichever finished first
    assert [r["artifact"]["dimension_type"] for r in out["results"]] == ["label", "annotation"]


def test_a_whole_question_runs_its_step_concurrently(deps):
    """End to end: "what label keys can I filter by?" plans one step of two key lookups."""
    slow = SlowSource(deps.source, ("dimension_keys",), delay=0.3)
    events = list(stream("What label keys can I filter by?", AgentDeps(slow, NOW),
                         cluster="gpu-east"))
    data = [e for e in events if isinstance(e, Data)]
    assert [d.tool for d in data] == ["get_available_dimension_keys"] * 2
    planned = [c for c in slow.calls if c.args[0] == "gpu-east"]  # not the catalogue's lookups
    assert len(planned) == 2
    assert max(c.start for c in planned) < min(c.end for c in planned)
    answer = events[-1].answer
    assert answer.intent == "discovery" and answer.figures["target"] == "label_keys"
    assert [r["name"] for r in answer.table("options").rows] == answer.figures["options"]


# -- clarification: interrupt, then resume in the same thread -----------------------------------------

def test_a_typo_is_asked_back_and_the_number_resumes(deps, demo_db):
    first = ask("trend for namespace ml-teem", deps)
    assert first.needs_clarification and first.options == ["ml-team"]
    assert first.clarify_entity == "namespace" and "ml-teem" in first.question
    assert first.session_id is None and first.thread_id.startswith("oneshot-")
    assert first.to_json()["question"] == first.question and first.to_json()["options"] == ["ml-team"]
    done = ask("trend for namespace ml-teem", deps, session=first.thread_id, resume="1")
    assert not done.needs_clarification and done.session_id is None
    assert (done.intent, done.entities["namespace"]) == ("trend", "ml-team")
    p = last_days(NOW, 7)
    want = expected(demo_db, "namespace_gpu_hourly_stats", "cluster_name = ? AND namespace = ?",
                    ("gpu-east", "ml-team"), p.start, p.end)
    assert done.figures["avg_utilization"] == pytest.approx(want["avg_utilization"], abs=1e-9)
    # the answered one-shot thread is gone: nothing is left to resume
    with pytest.raises(UsageError, match="not waiting"):
        ask("x", deps, session=first.thread_id, resume="1")


def test_choices_by_name_and_free_text_and_a_choice_that_names_nothing(deps):
    first = ask("I want to check GPU usage", deps)
    assert sorted(first.options) == ["gpu-east", "gpu-lab", "gpu-west"]
    assert first.clarify_entity == "cluster"
    again = ask("", deps, session=first.thread_id, resume="gpu-wst")  # names no cluster
    assert again.needs_clarification and again.options == ["gpu-west"]
    assert "gpu-wst" in again.question and again.thread_id == first.thread_id
    done = ask("", deps, session=first.thread_id, resume="GPU West")  # free text, resolves
    assert not done.needs_clarification and done.entities["cluster"] == "gpu-west"
    by_name = ask("trend for namespace ml-teem", deps)
    done = ask("", deps, session=by_name.thread_id, resume="ML-Team")
    assert done.entities["namespace"] == "ml-team"
    label = ask("How is team=nlpp doing this month?", deps)
    assert label.clarify_entity == "label" and label.options == ["team=nlp"]
    done = ask("", deps, session=label.thread_id, resume="1")
    assert done.entities["label"] == "team=nlp" and done.intent == "trend"


def test_a_period_clarification_applies_the_chosen_period(deps):
    u = Understanding("How did ml-team do?", intent="trend", cluster="gpu-east",
                      namespace="ml-team", issues=[Issue("ambiguous", "period", "whenever")])
    asked = answer_preset(u, deps)
    assert asked.needs_clarification and asked.clarify_entity == "period"
    assert "last-week" in asked.options
    done = ask("", deps, session=asked.thread_id, resume=str(asked.options.index("last-week") + 1))
    assert done.entities["period"] == last_week(NOW).as_dict()


def test_monday_midnight_asks_for_a_period_and_takes_the_choice(deps):
    """At Monday 00:00 "this week" is empty: the agent asks once, offering only periods that
    exist at that moment, and the chosen one is answered (with its natural baseline)."""
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
    at_monday = AgentDeps(deps.source, monday)
    asked = ask("Why is ml-team's utilization lower this week?", at_monday)
    assert asked.needs_clarification and asked.clarify_entity == "period"
    assert "this-week" not in asked.options and "today" not in asked.options
    done = ask("", at_monday, session=asked.thread_id, resume="last-week")
    assert not done.needs_clarification and done.intent == "drilldown"
    assert done.entities["period"] == last_week(monday).as_dict()
    assert done.entities["baseline"] == baseline(last_week(monday)).as_dict()


def test_in_a_session_an_option_resumes_and_anything_else_starts_a_new_turn(deps):
    from langgraph.checkpoint.memory import InMemorySaver

    saver = InMemorySaver(serde=serializer())
    first = ask("trend for namespace ml-teem", deps, session="s", checkpointer=saver)
    assert first.needs_clarification and first.session_id == "s"
    other = ask("How many GPUs are currently in use?", deps, session="s", checkpointer=saver,
                cluster="gpu-east")
    assert other.intent == "realtime" and not other.needs_clarification
    again = ask("trend for namespace ml-teem", deps, session="s", checkpointer=saver)
    resumed = ask("1", deps, session="s", checkpointer=saver)
    assert again.needs_clarification and resumed.entities["namespace"] == "ml-team"
    # the conversation holds each turn, the clarification and its answer included
    messages = build.compiled(saver).get_state(
        {"configurable": {"thread_id": "s"}}).values["messages"]
    assert [m.type for m in messages] == ["human", "ai", "human", "ai", "human", "ai"]
    assert messages[4].content == "1" and messages[3].content == again.question
    assert all(m.additional_kwargs["timestamp"].endswith("Z") for m in messages)


def test_the_checkpoint_serializer_rebuilds_only_our_types():
    u = Understanding("q", intent="trend", period=last_days(NOW, 7),
                      issues=[Issue("unknown", "namespace", "x", ["ml-team"])])
    s = serializer()
    assert s.loads_typed(s.dumps_typed({"u": u}))["u"] == u

    @dataclass
    class Stranger:
        value: int

    back = s.loads_typed(s.dumps_typed({"x": Stranger(1)}))["x"]
    assert not isinstance(back, Stranger)


# -- the event stream -------------------------------------------------------------------------------

def test_stream_events_in_order(deps):
    events = list(stream("Why did gpu-east utilization drop this week?", deps))
    status = [(e.stage, e.phase) for e in events if isinstance(e, Status)]
    assert status == [("understand", "start"), ("understand", "end"), ("plan", "start"),
                      ("plan", "end"), ("execute", "start"), ("execute", "end"),
                      ("execute", "start"), ("execute", "end"), ("synthesize", "start"),
                      ("synthesize", "end"), ("respond", "start"), ("respond", "end")]
    kinds = [e.type if not isinstance(e, Status) else f"{e.stage}:{e.phase}" for e in events]
    # each tool result arrives while its execute step runs, the answer comes last, once
    assert kinds[kinds.index("execute:start") + 1] == "data"
    assert kinds.count("data") == 2 and kinds.count("final") == 1 and kinds[-1] == "final"
    data = [e for e in events if isinstance(e, Data)]
    assert [d.args["scope"].get("namespace") for d in data] == [None, "ml-team"]
    assert data[0].summary == f"drilldown_change: {data[0].rows} rows"
    final = events[-1]
    assert isinstance(final, Final) and final.to_json()["type"] == "final"
    same = ask("Why did gpu-east utilization drop this week?", deps)
    assert {**final.answer.to_json(), "session_id": None} == {**same.to_json(), "session_id": None}


def test_stream_of_a_clarification_ends_waiting(deps):
    events = list(stream("trend for namespace ml-teem", deps))
    status = [(e.stage, e.phase, e.message) for e in events if isinstance(e, Status)]
    assert [s[:2] for s in status] == [("understand", "start"), ("understand", "end"),
                                       ("clarify", "start"), ("clarify", "end")]
    assert status[-1][2] == "Waiting for an answer"
    assert events[-1].answer.needs_clarification and events[-1].answer.options == ["ml-team"]


# -- the parts of an answer, per intent ------------------------------------------------------------------

def test_ranking_table_rows_are_the_ranked_items(deps):
    a = ask("Which workloads wasted the most GPU hours last week?", deps, cluster="gpu-east")
    t = a.table("ranking")
    # gpu-east's weekly jobs are families: a runs column after the name (answers.md §7)
    keys = ["name", "runs", "gpu_hours", "avg_utilization", "idle_gpu_hours"]
    assert [c.key for c in t.columns] == keys
    assert t.rows == [{k: it.get(k) for k in keys} for it in a.figures["items"]]
    assert len(a.insights) == 5 and a.notes == []


def test_drilldown_tables_and_notes(deps):
    a = ask("Why did gpu-east utilization drop this week?", deps)
    contributors, inside = a.tables
    assert (contributors.name, inside.name, inside.title) == ("contributors", "inside",
                                                              "Inside ml-team")
    for table, figs in ((contributors, a.figures), (inside, a.figures["namespace_drilldown"])):
        assert [(r["kind"], r["name"], r["impact_pp"], r["workloads"]) for r in table.rows] == [
            (c["kind"], c["name"], c["impact_pp"], [c["workloads_before"], c["workloads_after"]])
            for c in figs["contributors"]]
    assert len(a.notes) == 1 and a.notes[0].startswith("Inside ml-team: workload llm-eval-server")
    assert a.to_json()["insights"] == [*a.insights, *a.notes]
    assert a.to_json()["tables"][0]["rows"] == contributors.rows


def test_realtime_table_is_the_snapshot_by_namespace(deps):
    a = ask("How many GPUs are currently in use in the cluster?", deps, cluster="gpu-east")
    assert a.table("by_namespace").rows == [
        {"namespace": n["namespace"], "allocated_gpus": n["allocated_gpus"],
         "utilization": n["utilization"]} for n in a.figures["by_namespace"]]


def test_compare_with_breakdown_and_freshness_presets_have_tables(deps):
    cur = this_week(NOW)
    a = answer_preset(Understanding("How did each namespace compare?", intent="compare",
                                    cluster="gpu-east", period=cur, baseline=baseline(cur),
                                    breakdown="namespace"), deps)
    t = a.table("children")
    assert t.title == "By namespace" and len(t.rows) == len(a.figures["children"])
    for row, child in zip(t.rows, a.figures["children"]):
        assert row["name"] == child["name"] and row["delta_pp"] == child["delta_pp"]
        assert row["utilization_after"] == (child["after"] or {}).get("avg_utilization")
        assert row["gpu_hours_before"] == (child["before"] or {}).get("gpu_hours")
    fresh = answer_preset(Understanding("How fresh is the data?", intent="freshness"), deps)
    assert fresh.table("freshness").rows == fresh.figures["clusters"]
    assert [r["cluster"] for r in fresh.table("freshness").rows] == sorted(
        ["gpu-east", "gpu-west", "gpu-lab"], key=[r["cluster"] for r in fresh.figures["clusters"]].index)


def test_trend_and_plain_compare_have_no_table_but_details_and_notes(deps):
    a = ask("What is the GPU utilization trend over the last 7 days across all clusters?", deps)
    assert a.tables == [] and len(a.insights) == 2
    assert a.headline.startswith("All clusters averaged") and a.notes == []  # said up front
    u = ask("What is the GPU utilization trend of user user_a over the last 7 days in total?", deps)
    assert u.entities["cluster"] is None and u.notes == ["Figures cover all clusters."]
    c = ask("Compare GPU usage between ml-team and cv-team", deps, cluster="gpu-east")
    assert c.tables == [] and c.insights[0].startswith("GPU-hours:") and c.notes == []
    h = ask("write me a poem", deps)
    assert h.intent == "help" and h.tables == [] and "GPU" in h.headline


def test_chinese_answers_have_chinese_column_labels(deps):
    a = ask("上周哪些命名空间空闲GPU小时最多？", deps, cluster="gpu-east")
    assert a.language == "zh"
    assert [c.label for c in a.table("ranking").columns] == ["命名空间", "GPU小时", "利用率 %",
                                                             "空闲GPU小时"]


class FailingOnce:
    """The demo source whose ``latest_snapshot`` fails the first time it is called."""

    def __init__(self, inner):
        self._inner, self.failed = inner, False

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name != "latest_snapshot":
            return attr

        def once(*args, **kwargs):
            if not self.failed:
                self.failed = True
                raise SourceError("the snapshot service is down")
            return attr(*args, **kwargs)
        return once


def test_a_source_failure_ends_the_run_and_the_session_goes_on(deps):
    from langgraph.checkpoint.memory import InMemorySaver

    saver = InMemorySaver(serde=serializer())
    flaky = AgentDeps(FailingOnce(deps.source), NOW)
    with pytest.raises(SourceError, match="snapshot service is down"):
        ask("How many GPUs are currently in use?", flaky, session="f", checkpointer=saver,
            cluster="gpu-east")
    again = ask("How many GPUs are currently in use?", flaky, session="f", checkpointer=saver,
                cluster="gpu-east")
    assert again.intent == "realtime" and again.figures["total_gpus"] > 0
    follow = ask("and what about gpu-west?", flaky, session="f", checkpointer=saver)
    assert (follow.intent, follow.entities["cluster"]) == ("realtime", "gpu-west")
    with pytest.raises(UsageError, match="session=answer.thread_id"):
        ask("", deps, resume="1")
