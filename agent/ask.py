"""The one entry point to the agent: a typed question in, an ``Answer`` out.

``gpureport ask``, report presets, alerts and the HTTP API all come through here, so a figure
reads the same wherever it is shown. ``AgentDeps`` carries what the graph needs from outside
(the data source, the fixed "now", the LLM settings, the default cluster, a catalogue cache);
the graph gets them in ``config["configurable"]`` and never reaches for globals.
"""

from __future__ import annotations

from typing import Any

from agent.answer import Answer
from agent.deps import AgentDeps
from agent.graph import Agent
from agent.understand.model import Understanding


def _answer(out: dict) -> Answer:
    return Answer(
        headline=out.get("answer") or "",
        intent=out.get("intent") or "help",
        language=out.get("language") or "en",
        insights=list(out.get("insights") or []),
        warnings=list(out.get("warnings") or []),
        entities=out.get("entities") or {},
        figures=out.get("figures") or {},
        needs_clarification=bool(out.get("needs_clarification")),
        options=list(out.get("options") or []),
        question=out.get("question"),
        data_collected=list(out.get("data_collected") or []),
        llm_calls=int(out.get("llm_calls") or 0),
        session_id=out.get("session_id"),
    )


def ask(question: str, deps: AgentDeps, *, session: str | None = None,
        language: str | None = None, cluster: str | None = None, use_llm: bool = True,
        checkpointer: Any = None, resume: str | None = None) -> Answer:
    """Answer a question typed by a person (rules first; the LLM only when unsure)."""
    agent = Agent(deps.source, deps.now, deps.llm if use_llm else None, checkpointer=checkpointer,
                  default_cluster=deps.default_cluster)
    overrides = None
    if resume is not None:
        overrides = {"cluster": resume}
    return _answer(agent.ask(question, session=session, language=language, cluster=cluster,
                             overrides=overrides, use_llm=use_llm))


def answer_preset(preset: Understanding, deps: AgentDeps) -> Answer:
    """Answer a question whose understanding is already known (report presets, alerts): the
    same plan → tools → figures → phrasing path as a typed question, without parsing or LLM."""
    return _answer(Agent(deps.source, deps.now).answer(preset))
