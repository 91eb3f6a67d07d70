"""The typed state of the agent graph, what a turn starts with, and how a checkpoint stores it.

The state is a ``TypedDict``; the understanding of the question travels as ONE typed value (the
``Understanding`` dataclass, with its ``Period``s and ``Issue``s) from the ``understand`` node to
``synthesize``, and the answer leaves ``synthesize`` as an ``agent.answer.Answer``. Nothing
converts them to dicts and back: the checkpointer stores them with LangGraph's msgpack
serializer, which rebuilds only the types listed in ``CHECKPOINT_TYPES`` (``serializer()``:
LangGraph's explicit allow-list, so a session read back by another process never constructs
an arbitrary class from the database).

Kept across the turns of a session (thread): ``messages`` (the question and the headline of
each turn, with timestamps: what a conversation API lists) and ``last`` (the previous turn's
understanding, for follow-ups like "and last week?"). Everything else is per turn, and
``new_turn`` resets it.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.channels.untracked_value import UntrackedValue
from langgraph.graph.message import add_messages

from agent.answer import Answer, Column, Table
from agent.deps import AgentDeps
from agent.periods import Period, iso
from agent.understand.model import Issue, Understanding

# the project's types a checkpoint may hold; nothing else of ours is ever rebuilt from one
CHECKPOINT_TYPES = (Understanding, Issue, Period, Answer, Table, Column)


class ToolCall(TypedDict):
    tool: str
    args: dict[str, Any]


class ToolResult(TypedDict):
    tool: str
    args: dict[str, Any]
    artifact: Any
    summary: str
    rows: int


class AgentState(TypedDict, total=False):
    # -- the turn's input (new_turn) --------------------------------------------------------------
    question: str
    language: str | None  # forced answer language (--lang), else detected
    cluster: str | None  # --cluster
    use_llm: bool
    preset: Understanding | None  # a preset question (reports, alerts): no parsing, no LLM
    asked_at: str  # wall clock when the turn started (the question's timestamp)
    # -- kept across turns ------------------------------------------------------------------------
    messages: Annotated[list[AnyMessage], add_messages]
    last: Understanding | None  # the previous turn's understanding
    # -- the turn's work --------------------------------------------------------------------------
    understanding: Understanding
    clusters: list[str]  # the clusters the source knows (several: "all clusters" wording)
    clarifications: list[dict]  # [{"question", "answer"}] asked back and answered this turn
    plan: list[list[ToolCall]]  # steps; the calls of one step run concurrently
    step: int  # the next step to run
    # in plan order; read by ``synthesize`` in the same run, never from a checkpoint: not
    # checkpointed (the tools' artifacts, hourly series included, were re-serialized into
    # every checkpoint after ``execute``)
    results: Annotated[list[ToolResult], UntrackedValue]
    data_collected: list[dict]  # {"tool", "args", "rows"} of every source call
    llm_calls: int
    warnings: list[str]
    answer: Answer | None


def new_turn(question: str, *, language: str | None = None, cluster: str | None = None,
             use_llm: bool = True, preset: Understanding | None = None) -> AgentState:
    """The input of one turn: the question and its options, with every per-turn field reset
    (a session's thread still holds the previous turn's values)."""
    return {
        "question": question, "language": language, "cluster": cluster, "use_llm": use_llm,
        "preset": preset, "asked_at": wall_clock(), "clusters": [], "clarifications": [],
        "plan": [], "step": 0, "results": [], "data_collected": [], "llm_calls": 0,
        "warnings": [], "answer": None,
    }


DATA_SINK = "data_sink"  # configurable key: the run's callable for each tool result (agent.ask)


def deps_of(config: RunnableConfig) -> AgentDeps:
    """The source, clock, settings and catalogue of this run (``config["configurable"]["deps"]``)."""
    deps = (config.get("configurable") or {}).get("deps")
    if not isinstance(deps, AgentDeps):
        raise TypeError('the agent graph runs with config["configurable"]["deps"] = AgentDeps(...)')
    return deps


def wall_clock() -> str:
    """When something happened in a conversation (real time, unlike the data's fixed "now")."""
    return iso(datetime.now(timezone.utc))


@functools.lru_cache(maxsize=1)
def serializer():
    """LangGraph's serializer with our checkpoint types on its msgpack allow-list."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(allowed_msgpack_modules=[(t.__module__, t.__name__)
                                                       for t in CHECKPOINT_TYPES])
