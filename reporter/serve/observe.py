"""What one agent run tells ``/metrics`` while it runs: each tool call with its own time, and
each language-model call with its purpose and the tokens the model reported.

* Tools. ``agent.ask.stream`` yields ``Status(execute, start)`` when a plan step starts and one
  ``Data`` per tool call as it finishes; the calls of a step start together (the ``execute``
  node submits them all to its pool at once), so a call took from its step's start to its
  ``Data``. LangGraph delivers custom stream events while the node still runs, and the worker
  reading the stream never waits on a client (``work.Handoff``), so the time is the tool's own.
  A run that fails or is abandoned in ``execute`` counts the calls of that step that never
  finished as ``error`` / ``cancelled``: which they were is read back from the run's graph
  thread (the plan is checkpointed before ``execute`` starts).
* LLM calls. ``LLMUsage`` is a LangChain callback handler given to the run
  (``stream(callbacks=...)``): the chat-model calls made inside the graph's nodes inherit it,
  so every call is seen — the purpose from the node that made it (``understand`` extracts,
  ``synthesize`` phrases), the tokens from the provider's usage report. Only runs that may
  call a model carry it (no handler on the rule path).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from agent.answer import Data, Event, Status
from agent.graph.build import compiled, memory_saver
from reporter import metrics

log = logging.getLogger("gpureport.serve")

PURPOSES = {"understand": "extract", "synthesize": "phrase"}


class ToolClock:
    """Times the tool calls of one run from its stream events."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self._step_started = time.perf_counter()
        self.finished: list[str] = []  # tools of the current step that reported

    def see(self, event: Event) -> None:
        if isinstance(event, Status) and event.phase == "start":
            self.stage = event.stage
            if event.stage == "execute":
                self._step_started = time.perf_counter()
                self.finished = []
        elif isinstance(event, Data):
            self.finished.append(event.tool)
            metrics.observe_tool(event.tool, "ok", time.perf_counter() - self._step_started)

    def failed(self, outcome: str, saver: Any, thread: str) -> None:
        """The run stopped with ``outcome`` (error | cancelled): count the current step's calls
        that never reported."""
        if self.stage != "execute":
            return
        for tool in unfinished_tools(saver, thread, self.finished):
            metrics.observe_tool(tool, outcome)


def unfinished_tools(saver: Any, thread: str, finished: list[str]) -> list[str]:
    """The tools of the step that was running in ``thread`` less those that reported."""
    try:
        graph = compiled(saver if saver is not None else memory_saver())
        values = graph.get_state({"configurable": {"thread_id": thread}}).values
        plan, step = values.get("plan") or [], values.get("step") or 0
        planned = [c["tool"] for c in plan[step]] if step < len(plan) else []
    except Exception as exc:  # noqa: BLE001 - metrics never fail a request
        log.debug("could not read the plan of %s: %s", thread, exc)
        return ["unknown"]
    for tool in finished:
        if tool in planned:
            planned.remove(tool)
    return planned


class LLMUsage(BaseCallbackHandler):
    """Counts the language-model calls of a run by purpose, and the tokens they used."""

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any,
                            metadata: dict | None = None, **kwargs: Any) -> None:
        node = (metadata or {}).get("langgraph_node")
        metrics.observe_llm_call(PURPOSES.get(node, "other"))

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        prompt, completion = tokens_of(response)
        metrics.observe_llm_tokens("prompt", prompt)
        metrics.observe_llm_tokens("completion", completion)


def tokens_of(response: Any) -> tuple[int, int]:
    """(prompt, completion) tokens of a LangChain ``LLMResult``: the messages' standard
    ``usage_metadata``, else the provider's ``token_usage`` (OpenAI's names)."""
    prompt = completion = 0
    found = False
    for generations in response.generations or []:
        for g in generations:
            usage = getattr(getattr(g, "message", None), "usage_metadata", None)
            if usage:
                found = True
                prompt += int(usage.get("input_tokens") or 0)
                completion += int(usage.get("output_tokens") or 0)
    if not found:
        usage = (response.llm_output or {}).get("token_usage") or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
    return prompt, completion


__all__ = ["LLMUsage", "ToolClock", "tokens_of", "unfinished_tools", "PURPOSES"]
