"""The one entry point to the agent: a question in, an ``Answer`` out (or a stream of events).

``gpureport ask``, report presets, alerts and the HTTP API all come through here, so a figure
reads the same wherever it is shown. ``AgentDeps`` carries what the graph needs from outside
(the data source, the fixed "now", the LLM settings, the default cluster, a catalogue cache);
the graph gets it in ``config["configurable"]["deps"]`` and never reaches for globals.

* ``ask(question, deps, ...)`` — answer a typed question; ``answer_preset(u, deps)`` — answer a
  question whose understanding is given (no parsing, no LLM); ``stream(...)`` — the same run as
  ``ask``, yielding ``Status`` per node as it starts and ends, ``Data`` per tool result, then
  ``Final`` with the answer. ``ask`` is ``stream`` run to its end: one code path.
* Threads. A question runs in a graph thread of a checkpointer: ``session`` names it (with the
  state database's checkpointer, ``agent.sessions``, it outlives the process); without a
  session it is a one-shot thread of the process's in-memory checkpointer, removed once its
  answer is given.
* Clarification. When the graph asks back, the answer has ``needs_clarification``, the
  ``question``, its ``options`` and ``thread_id``; the thread waits. ``ask(question, deps,
  session=thread_id, resume=choice)`` continues it (a number, an option, or free text naming a
  real one). In a session, a next question that is an option's number or name resumes the
  waiting thread; any other question starts a new turn.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import replace
from typing import Any, Iterator

from agent.answer import Answer, Data, Event, Final, Status
from agent.deps import AgentDeps
from agent.errors import UsageError
from agent.graph.build import RECURSION_LIMIT, compiled, memory_saver
from agent.graph.clarify import pick
from agent.graph.state import DATA_SINK, AgentState, new_turn
from agent.sessions import CONVERSATION_KEY, CONVERSATION_STARTED
from agent.understand.model import Understanding

ONESHOT = "oneshot-"  # thread ids of questions asked outside a session
MAX_WAITING_ONESHOTS = 64  # one-shot threads kept waiting for a choice (the oldest go first)
_waiting: deque[str] = deque()
_waiting_lock = threading.Lock()

STAGES = {
    "understand": "Understanding the question",
    "clarify": "Asking which one is meant",
    "plan": "Planning the queries",
    "execute": "Querying the data",
    "synthesize": "Writing the answer",
    "respond": "Answer ready",
}


def ask(question: str, deps: AgentDeps, *, session: str | None = None,
        language: str | None = None, cluster: str | None = None, use_llm: bool = True,
        checkpointer: Any = None, resume: str | None = None,
        callbacks: list | None = None) -> Answer:
    """Answer a question typed by a person (rules first; the LLM only when unsure)."""
    return _final(stream(question, deps, session=session, language=language, cluster=cluster,
                         use_llm=use_llm, checkpointer=checkpointer, resume=resume,
                         callbacks=callbacks))


def answer_preset(preset: Understanding, deps: AgentDeps) -> Answer:
    """Answer a question whose understanding is already known (report presets, alerts): the
    same plan → tools → figures → phrasing path as a typed question, without parsing or LLM."""
    turn = new_turn(preset.question, language=preset.language, use_llm=False, preset=preset)
    return _final(_run(turn, deps, None, None))


def stream(question: str, deps: AgentDeps, *, session: str | None = None,
           language: str | None = None, cluster: str | None = None, use_llm: bool = True,
           checkpointer: Any = None, resume: str | None = None,
           callbacks: list | None = None, new_session: bool = False) -> Iterator[Event]:
    """The run of ``ask``, as events: ``Status`` (a node starts/ends), ``Data`` (a tool call
    finished), then one ``Final`` with the ``Answer``. ``callbacks``: LangChain callback
    handlers for the run (the HTTP service counts LLM calls and tokens with one); the
    model calls made inside the nodes inherit them. ``new_session``: the caller made the
    session id just now (the service, for a request without one), so there is no earlier turn
    to look up."""
    graph, config = _bound(deps, session, checkpointer)
    value: Any
    if resume is not None:
        if session is None:
            raise UsageError("resume needs the conversation that asked back (session=answer.thread_id)")
        if _asked(graph.get_state(config)) is None:
            raise UsageError(f"nothing to resume: conversation '{session}' is not waiting for "
                             "an answer")
        value = _resume(resume)
    else:
        snapshot = graph.get_state(config) if session is not None and not new_session else None
        waiting = _asked(snapshot)
        if waiting is not None and pick(question, waiting.get("options") or []) is not None:
            value = _resume(question.strip())
        else:
            value = new_turn(question, language=language, cluster=cluster, use_llm=use_llm)
            first = snapshot is None or snapshot.created_at is None
            return _run(value, deps, session, checkpointer, callbacks, first_turn=first)
    return _run(value, deps, session, checkpointer, callbacks)


def _final(events: Iterator[Event]) -> Answer:
    answer = None
    for event in events:
        if isinstance(event, Final):
            answer = event.answer
    assert answer is not None, "the graph run ended without an answer"
    return answer


def _bound(deps: AgentDeps, thread: str | None, checkpointer: Any,
           callbacks: list | None = None):
    graph = compiled(checkpointer if checkpointer is not None else memory_saver())
    config = {"configurable": {"thread_id": thread or f"{ONESHOT}{uuid.uuid4().hex}", "deps": deps},
              "recursion_limit": RECURSION_LIMIT}
    if callbacks:
        config["callbacks"] = list(callbacks)
    return graph, config


def _resume(choice: str):
    from langgraph.types import Command

    return Command(resume=choice)


def _asked(snapshot) -> dict | None:
    """The clarification a thread's state snapshot waits on (the interrupt's value), or None."""
    return snapshot.interrupts[0].value if snapshot is not None and snapshot.interrupts else None


def _run(value: AgentState | Any, deps: AgentDeps, session: str | None,
         checkpointer: Any, callbacks: list | None = None,
         first_turn: bool = False) -> Iterator[Event]:
    graph, config = _bound(deps, session, checkpointer, callbacks)
    thread = config["configurable"]["thread_id"]
    oneshot = thread.startswith(ONESHOT)
    results: deque[dict] = deque()
    config["configurable"][DATA_SINK] = results.append
    if first_turn:  # copied into the checkpoint's metadata: how agent.sessions finds threads
        config["configurable"][CONVERSATION_KEY] = CONVERSATION_STARTED
    finished = False
    try:
        for payload in graph.stream(value, config, stream_mode="tasks", durability="exit"):
            while results:  # a step's tool results, before the step's end
                item = results.popleft()
                yield Data(tool=item["tool"], args=item["args"], rows=item["rows"],
                           summary=item["summary"])
            if payload["name"] in STAGES:
                end = "result" in payload or "error" in payload
                message = ("Waiting for an answer" if end and payload.get("interrupts")
                           else STAGES[payload["name"]])
                yield Status(stage=payload["name"], phase="end" if end else "start", message=message)
        snapshot = graph.get_state(config)
        asked = _asked(snapshot)
        if asked is not None:
            answer = _clarification(snapshot.values, asked)
        else:
            answer = snapshot.values["answer"]
            finished = True
        yield Final(replace(answer, session_id=None if oneshot else thread, thread_id=thread))
    finally:
        if oneshot:
            _forget(graph.checkpointer, thread, keep=not finished)


def _clarification(values: dict, asked: dict) -> Answer:
    u = values["understanding"]
    return Answer(headline=asked["question"], intent=u.intent, language=u.language,
                  entities=u.entities_json(),
                  figures={"issue": {k: asked[k] for k in ("kind", "entity", "text")}},
                  needs_clarification=True, options=list(asked["options"]),
                  question=asked["question"], clarify_entity=asked["entity"],
                  warnings=list(values.get("warnings") or []),
                  data_collected=list(values.get("data_collected") or []),
                  llm_calls=values.get("llm_calls") or 0)


def _forget(saver, thread: str, keep: bool) -> None:
    """Remove a one-shot thread once answered; keep a few waiting for a choice."""
    with _waiting_lock:
        if thread in _waiting:
            _waiting.remove(thread)
        drop = [thread] if not keep else []
        if keep:
            _waiting.append(thread)
            while len(_waiting) > MAX_WAITING_ONESHOTS:
                drop.append(_waiting.popleft())
    for t in drop:
        saver.delete_thread(t)


__all__ = ["AgentDeps", "Answer", "ask", "answer_preset", "stream"]
