"""Benchmark: what the LangGraph machinery costs per question, apart from the work it runs.

On the small demo store (seed 42, now = Thursday 2026-11-19 12:00 UTC; generated into a temp
file unless ``--db`` names one), in one process:

* ``import``: importing ``agent.ask`` (the graph, LangGraph, the tool registry, phrasing);
* ``compile``: ``StateGraph.compile`` of the agent graph (done once per process), and binding
  the compiled graph to a checkpointer (done per question: a shallow copy);
* ``tools``: building the tool registry (``agent.tools`` at import) and validating one call's
  arguments;
* per question, the median of ``--repeat`` runs of ``agent.ask.ask`` (the graph with its
  in-memory checkpointer and event stream) against the same node functions called in sequence
  by hand with the same deps — the difference is the graph's own overhead.

    python bench/graph_overhead.py [--db sqlite:///PATH] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    ("drilldown", "Why is ml-team's utilization lower this week than last week?", None),
    ("cluster drilldown (2 steps)", "Why did gpu-east utilization drop this week?", None),
    ("ranking", "Which workloads wasted the most GPU hours last week?", "gpu-east"),
    ("realtime", "How many GPUs are currently in use?", "gpu-east"),
    ("discovery (2 calls in a step)", "What label keys can I filter by?", "gpu-east"),
    ("help", "write me a poem", None),
]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def by_hand(question: str, cluster: str | None, deps) -> None:
    """The nodes of one turn called in sequence, without LangGraph."""
    from agent.graph.execute import execute
    from agent.graph.plan import plan
    from agent.graph.respond import respond
    from agent.graph.state import new_turn
    from agent.graph.synthesize import synthesize
    from agent.graph.understand import understand

    config = {"configurable": {"deps": deps}}
    state = new_turn(question, cluster=cluster)
    for node in (understand, plan):
        state.update(node(state, config))
    while state["step"] < len(state["plan"]):
        state.update(execute(state, config))
    for node in (synthesize, respond):
        state.update(node(state, config))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="a demo store URL (default: generate one into a temp dir)")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    from datetime import datetime, timezone

    now = datetime(2026, 11, 19, 12, 0, tzinfo=timezone.utc)
    url = args.db
    if url is None:
        from reporter.demo import generate

        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'demo.db'}"
        generate(url, seed=42, profile="small", now=now)

    t = time.perf_counter()
    import agent.tools  # noqa: F401 - the registry is built at import
    t_tools = time.perf_counter() - t
    t = time.perf_counter()
    from agent.ask import AgentDeps, ask
    t_import = time.perf_counter() - t
    from agent.graph import build
    from agent.settings import SourceSettings
    from agent.sources import make_source
    from agent.tools import BY_NAME

    print(f"import agent.ask           {ms(t_import)}  (agent.tools alone {ms(t_tools)})")
    t = time.perf_counter()
    build._compiled_once()
    print(f"compile (once per process) {ms(time.perf_counter() - t)}")
    saver = build.memory_saver()
    print(f"bind to a checkpointer     {ms(median_time(lambda: build.compiled(saver), 101))}")
    tool = BY_NAME["drilldown_change"]
    call = {"scope": {"kind": "namespace", "cluster": "gpu-east", "namespace": "ml-team"},
            "period": {"start": "2026-11-16T00:00:00Z", "end": "2026-11-19T12:00:00Z"},
            "baseline": {"start": "2026-11-09T00:00:00Z", "end": "2026-11-12T12:00:00Z"}}
    print(f"validate one call's args   {ms(median_time(lambda: tool.args.model_validate(call), 101))}")

    source = make_source(SourceSettings(database_url=url))
    deps = AgentDeps(source, now)
    print(f"\n{'question':32} {'ask()':>11} {'nodes by hand':>14} {'graph overhead':>15}")
    for label, question, cluster in QUESTIONS:
        ask(question, deps, cluster=cluster)  # warm: caches, page cache
        graph = median_time(lambda: ask(question, deps, cluster=cluster), args.repeat)
        hand = median_time(lambda: by_hand(question, cluster, deps), args.repeat)
        print(f"{label:32} {ms(graph)} {ms(hand):>14} {ms(graph - hand):>15}")
    source.close()


if __name__ == "__main__":
    main()
