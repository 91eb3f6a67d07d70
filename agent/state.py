"""The typed state of the agent graph, and how an ``Understanding`` travels inside it.

Everything in the state is plain JSON (dicts, lists, strings, numbers) plus LangChain messages,
so the checkpointer can store a session in SQLite or PostgreSQL and a later process can read it
back without trusting pickled objects.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Annotated, Any, TypedDict

from langgraph.graph.message import add_messages

from agent.periods import Period, parse_now
from agent.understand.model import Issue, Understanding


class AgentState(TypedDict, total=False):
    # input of a turn
    question: str
    now: str
    language: str | None  # forced answer language (--lang), else detected
    cluster: str | None  # --cluster
    overrides: dict  # a clarification answer: {"cluster": "gpu-east"} / {"namespace": "ml-team"}
    use_llm: bool
    preset: dict | None  # a preset question's understanding (reports): skips parsing
    # understanding
    understanding: dict
    last: dict | None  # the previous turn's understanding (sessions)
    # planning and execution
    plan: list  # steps; each step a list of {"tool", "args"} run concurrently
    step: int
    messages: Annotated[list, add_messages]
    results: dict  # tool call id -> {"tool", "args", "artifact"}
    # per-turn lists have no reducer: a node returns the whole list, so a new turn starts empty
    data_collected: list
    # answer
    intent: str
    figures: dict
    answer: str
    insights: list
    needs_clarification: bool
    options: list
    clarify_question: str | None
    llm_calls: int
    warnings: list


def period_to_dict(p: Period | None) -> dict | None:
    if p is None:
        return None
    return {**p.as_dict(), "label": p.label, "unit": p.unit, "to_now": p.to_now}


def period_from_dict(d: dict | None) -> Period | None:
    if not d:
        return None
    return Period(parse_now(d["start"]), parse_now(d["end"]), d.get("label", ""),
                  unit=d.get("unit"), to_now=bool(d.get("to_now")))


def understanding_to_dict(u: Understanding) -> dict:
    out: dict[str, Any] = {}
    for f in fields(u):
        v = getattr(u, f.name)
        if isinstance(v, Period):
            v = period_to_dict(v)
        elif f.name == "issues":
            v = [asdict(i) for i in v]
        out[f.name] = v
    return out


def understanding_from_dict(d: dict) -> Understanding:
    kwargs = dict(d)
    kwargs["period"] = period_from_dict(d.get("period"))
    kwargs["baseline"] = period_from_dict(d.get("baseline"))
    kwargs["issues"] = [Issue(**i) for i in d.get("issues", [])]
    known = {f.name for f in fields(Understanding)}
    return Understanding(**{k: v for k, v in kwargs.items() if k in known})
