"""The edges of the agent graph, top to bottom, and the compiled graph (once per process).

``compiled(checkpointer)`` is the one graph of the process (compiled on first use) bound to a
checkpointer; binding is a shallow copy, so a CLI run, a report's preset questions and an HTTP
request pay for compilation at most once. One-shot questions use ``memory_saver()``, an
in-memory checkpointer shared by the process (its threads are removed when their answer is
given); ``--session`` uses the state database's (``agent.sessions.checkpointer``). The runs'
threads (nodes, stream waiter, checkpoint writes) come from ``agent.workers``' one pool.
"""

from __future__ import annotations

import functools

from agent import workers
from agent.graph.clarify import clarify
from agent.graph.execute import execute
from agent.graph.plan import plan
from agent.graph.respond import respond
from agent.graph.state import AgentState, serializer
from agent.graph.synthesize import synthesize
from agent.graph.understand import understand

RECURSION_LIMIT = 40  # supersteps per run: a few clarifications and plan steps, never a loop


def after_understand(state: AgentState) -> str:
    return "clarify" if state["understanding"].issues else "plan"


def after_plan(state: AgentState) -> str:
    return "execute" if state.get("plan") else "synthesize"


def after_execute(state: AgentState) -> str:
    return "execute" if (state.get("step") or 0) < len(state.get("plan") or []) else "synthesize"


def build():
    """The graph, uncompiled."""
    from langgraph.graph import END, START, StateGraph

    g = StateGraph(AgentState)
    g.add_node("understand", understand)
    g.add_node("clarify", clarify)
    g.add_node("plan", plan)
    g.add_node("execute", execute)
    g.add_node("synthesize", synthesize)
    g.add_node("respond", respond)

    g.add_edge(START, "understand")
    g.add_conditional_edges("understand", after_understand, ["clarify", "plan"])
    g.add_conditional_edges("clarify", after_understand, ["clarify", "plan"])
    g.add_conditional_edges("plan", after_plan, ["execute", "synthesize"])
    g.add_conditional_edges("execute", after_execute, ["execute", "synthesize"])
    g.add_edge("synthesize", "respond")
    g.add_edge("respond", END)
    return g


@functools.lru_cache(maxsize=1)
def _compiled_once():
    workers.install()  # the runs' node threads come from the process's pool
    return build().compile()


def compiled(checkpointer):
    """The compiled graph bound to ``checkpointer``."""
    return _compiled_once().copy(update={"checkpointer": checkpointer})


@functools.lru_cache(maxsize=1)
def memory_saver():
    """The process's in-memory checkpointer for one-shot questions."""
    from langgraph.checkpoint.memory import InMemorySaver

    return InMemorySaver(serde=serializer())
