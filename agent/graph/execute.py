"""The ``execute`` node: run the calls of one plan step concurrently, record what they returned.

The calls of a step are independent (``plan``), and each one waits on the data source (SQL,
HTTP), so they run at once on the process's worker threads (``agent.workers``); results are
kept in plan order whatever order they finish in. As each call finishes its result goes to
the run's sink (``configurable["data_sink"]``: a ``data`` event of ``agent.ask.stream``, sent
before the step's end) and to ``data_collected``. A sink rather than LangGraph's "custom"
stream: with a custom stream LangGraph runs every node on another thread, behind a stream
waiter; without one a step of one node runs in the caller's thread. When the last step has run,
``plan.follow_up`` may add one more (a cluster drill-down continues into a namespace); the graph
comes back here while steps remain.

A call that fails raises: the run stops with the source's error (``SourceError`` and kin), which
the caller reports on one line.
"""

from __future__ import annotations

import functools

from langchain_core.runnables import RunnableConfig

from agent import workers
from agent.graph.plan import follow_up
from agent.graph.state import DATA_SINK, AgentState, ToolCall, ToolResult, deps_of
from agent.tools import rows_of, run_tool

MAX_WORKERS = 6  # more than any step has; bounded so a source's connection pool is not swamped


def execute(state: AgentState, config: RunnableConfig) -> dict:
    deps = deps_of(config)
    plan = list(state.get("plan") or [])
    step = state.get("step") or 0
    with workers.parallel_calls(deps.source):
        done = run_calls(plan[step], deps.source, deps.now, _writer(config))
    results = [*(state.get("results") or []), *done]
    step += 1
    if step == len(plan):
        plan += follow_up(state["understanding"], plan, results)
    return {
        "plan": plan,
        "step": step,
        "results": results,
        "data_collected": [*(state.get("data_collected") or []),
                           *({"tool": r["tool"], "args": r["args"], "rows": r["rows"]} for r in done)],
    }


def _writer(config: RunnableConfig):
    """Where this run wants each tool result (``agent.ask``'s sink); None when the node is
    called on its own."""
    return (config.get("configurable") or {}).get(DATA_SINK)


def run_calls(calls: list[ToolCall], source, now, write=None) -> list[ToolResult]:
    """Every call of one step (at once where the source gains from it); results in the order
    of ``calls``. ``write`` (the run's sink) gets ``{"tool", "args", "rows", "summary"}`` as each call finishes."""
    out: list[ToolResult | None] = [None] * len(calls)
    jobs = [functools.partial(run_tool, c["tool"], c["args"], source, now) for c in calls]
    for i, (summary, artifact) in workers.run_all(jobs, MAX_WORKERS):
        call = calls[i]
        out[i] = {"tool": call["tool"], "args": call["args"], "artifact": artifact,
                  "summary": summary, "rows": rows_of(artifact)}
        if write is not None:
            write({"tool": call["tool"], "args": call["args"], "rows": out[i]["rows"],
                   "summary": summary})
    return [r for r in out if r is not None]
