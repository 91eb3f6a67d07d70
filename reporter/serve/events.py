"""One agent run, as the chat API returns it: the JSON of ``/chat`` and the SSE events of
``/chat/stream`` (api.md). The one module that knows how the agent is called.

Today the agent is called through ``agent.ask.ask`` (one blocking call that returns an
``Answer``), so the stream can only report what is observable around that call:

    session -> status(understand) -> [the run] -> data (one per entry of
    ``Answer.data_collected``) -> status(clarify | respond) -> final -> done

or ``error`` then ``done``. SWITCHING TO ``agent.ask.stream`` (per-node status, per-tool data
with timings, as the graph runs) changes ``_run_events`` below and nothing else: it becomes an
iteration over the stream's updates in the worker thread, each turned into the same event
dicts (``status_event``, ``data_event``), with ``metrics.observe_tool`` fed the per-tool
timings. Clarification resumes (``Command(resume=...)``) arrive then as ``resume=`` here too.

Every failure becomes one line for the client (``failure``); nothing carries a traceback, and
only our own errors' messages (written without secrets) reach a client.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import anyio

from agent.answer import Answer
from agent.ask import ask
from agent.errors import (
    GpureportError,
    LLMError,
    SourceError,
    StateError,
    UsageError,
)
from agent.understand.rules import detect_language
from reporter import metrics
from reporter.serve.context import ServeContext, safe_message
from reporter.serve.models import ChatRequest
from reporter.serve.sse import Emit
from reporter.serve.work import Abandoned, Control, run_blocking, until_disconnected

log = logging.getLogger("gpureport.serve")

STAGES = ("understand", "clarify", "plan", "execute", "synthesize", "respond")
STATUS_TEXT = {
    "en": {"understand": "Understanding the question…", "clarify": "Need to ask back",
           "plan": "Planning the queries…", "execute": "Fetching data…",
           "synthesize": "Computing the figures…", "respond": "Writing the answer"},
    "zh": {"understand": "正在理解问题…", "clarify": "需要确认", "plan": "正在规划查询…",
           "execute": "正在获取数据…", "synthesize": "正在计算…", "respond": "正在生成回答"},
}


@dataclass
class Turn:
    """One question as the agent gets it."""

    query: str
    cluster: str | None
    session_id: str
    save_history: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    language: str = "en"
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def of(cls, body: ChatRequest) -> "Turn":
        return cls(query=body.query, cluster=body.cluster_name,
                   session_id=body.session_id or uuid.uuid4().hex, save_history=body.save_history,
                   history=list(body.conversation_history), language=detect_language(body.query))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


# -- running the agent (blocking; in a worker thread) --------------------------------------------
def answer_turn(ctx: ServeContext, turn: Turn, control: Control) -> Answer:
    """Ask the agent. With ``save_history`` the turn is kept in the checkpointer thread
    ``session_id`` — the same store and thread ids as ``gpureport ask --session``."""
    saver = ctx.saver if turn.save_history else None
    return ask(turn.query, ctx.deps(control), session=turn.session_id if saver else None,
               cluster=turn.cluster, checkpointer=saver)


def failure(exc: BaseException, timeout_s: float) -> tuple[int, str, str]:
    """(HTTP status, error_type, one-line message) of a failed run."""
    if isinstance(exc, TimeoutError):
        return 504, "Timeout", f"no answer within {timeout_s:g} s"
    if isinstance(exc, Abandoned):  # the server is shutting down
        return 503, "Unavailable", f"the question was not finished: {exc}"
    if isinstance(exc, (SourceError, StateError, LLMError)):
        return 503, type(exc).__name__, safe_message(exc)
    if isinstance(exc, UsageError):
        return 422, type(exc).__name__, safe_message(exc)
    if isinstance(exc, GpureportError):
        return 500, type(exc).__name__, safe_message(exc)
    return 500, "InternalError", f"internal error: {safe_message(exc)}"


def _log_failure(turn: Turn, exc: BaseException) -> None:
    if isinstance(exc, (GpureportError, TimeoutError, Abandoned)):
        log.warning("question in session %s failed: %s", turn.session_id, safe_message(exc))
    else:
        log.error("question in session %s failed", turn.session_id, exc_info=exc)


def _outcome(answer: Answer) -> str:
    return "clarification" if answer.needs_clarification else "answered"


# -- /chat ---------------------------------------------------------------------------------------
def chat_body(answer: Answer, turn: Turn, control: Control) -> dict[str, Any]:
    """The seed's response fields plus every field of ``ask --json``."""
    out = answer.to_json()
    at = now_iso()
    history = list(turn.history)
    if turn.save_history:
        history += [{"role": "user", "content": turn.query, "timestamp": at},
                    {"role": "assistant", "content": answer.headline, "timestamp": at}]
    out.update({
        "session_id": answer.session_id or turn.session_id,
        "conversation_history": history,
        "debug_info": {
            "session_id": turn.session_id, "intent": answer.intent, "language": answer.language,
            "llm_calls": answer.llm_calls, "source_calls": control.source_calls,
            "tools": [c.get("tool") for c in answer.data_collected],
            "duration_ms": round((time.perf_counter() - turn.started) * 1000, 1),
            "saved": turn.save_history,
        },
        "timestamp": at,
    })
    return out


async def chat(ctx: ServeContext, body: ChatRequest,
               receive: Callable[[], Any]) -> tuple[int, dict[str, Any] | None]:
    """Answer ``body``: (200, response) or (status, error body); (499, None) when the client
    went away first (its run is abandoned)."""
    turn = Turn.of(body)
    control = ctx.runs.open()
    result: dict[str, Any] = {}
    timeout = ctx.config.server.request_timeout_s
    try:
        async with anyio.create_task_group() as tg:
            async def watch() -> None:
                await until_disconnected(receive)
                control.cancel("client disconnected")
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            try:
                with anyio.fail_after(timeout):
                    result["answer"] = await run_blocking(
                        lambda: answer_turn(ctx, turn, control), control, _limiter(ctx))
            except Exception as exc:  # noqa: BLE001 - every failure becomes one line
                result["error"] = exc
            tg.cancel_scope.cancel()
    finally:
        control.cancel("finished")
        ctx.runs.close(control)
    if "answer" in result:
        answer = result["answer"]
        metrics.observe_question(answer.to_json(), _outcome(answer))
        return 200, chat_body(answer, turn, control)
    if "error" in result:
        exc = result["error"]
        _log_failure(turn, exc)
        metrics.observe_question(None, "error", language=turn.language)
        status, etype, message = failure(exc, timeout)
        return status, {"detail": message, "error_type": etype}
    return 499, None


# -- /chat/stream --------------------------------------------------------------------------------
def status_event(stage: str, language: str) -> dict[str, Any]:
    texts = STATUS_TEXT.get(language, STATUS_TEXT["en"])
    return {"type": "status", "stage": stage, "message": texts.get(stage, stage)}


def data_event(call: dict[str, Any]) -> dict[str, Any]:
    tool = str(call.get("tool") or "tool")
    rows = call.get("rows")
    summary = {"args": call.get("args") or {}, "rows": rows}
    message = f"{tool}: {rows} row{'s' if rows != 1 else ''}" if rows is not None else tool
    return {"type": "data", "stage": "execute", "message": message, "data": {tool: summary}}


def final_event(answer: Answer, turn: Turn, control: Control) -> dict[str, Any]:
    body = chat_body(answer, turn, control)
    return {"type": "final", **body, "data": answer.data_collected}


async def _run_events(ctx: ServeContext, turn: Turn, control: Control, emit: Emit) -> None:
    """The events of the run itself (see the module docstring: the part to switch)."""
    await emit(status_event("understand", turn.language))
    answer = await run_blocking(lambda: answer_turn(ctx, turn, control), control, _limiter(ctx))
    for call in answer.data_collected:
        await emit(data_event(call))
    metrics.observe_question(answer.to_json(), _outcome(answer))
    await emit(status_event("clarify" if answer.needs_clarification else "respond",
                            answer.language))
    await emit(final_event(answer, turn, control))


async def stream(ctx: ServeContext, body: ChatRequest, emit: Emit) -> None:
    """``session`` first, then the run's events, then ``done``; a failure is one ``error``
    event (no traceback) before ``done``. Cancelled (the client left), the run is abandoned."""
    turn = Turn.of(body)
    control = ctx.runs.open()
    timeout = ctx.config.server.request_timeout_s
    try:
        await emit({"type": "session", "session_id": turn.session_id})
        try:
            with anyio.fail_after(timeout):
                await _run_events(ctx, turn, control, emit)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one event
            _log_failure(turn, exc)
            metrics.observe_question(None, "error", language=turn.language)
            _, etype, message = failure(exc, timeout)
            await emit({"type": "error", "error_type": etype, "error_message": message})
        await emit({"type": "done"})
    finally:
        control.cancel("client disconnected")
        ctx.runs.close(control)


def _limiter(ctx: ServeContext) -> anyio.CapacityLimiter:
    assert ctx.limiter is not None, "ServeContext.open() first"
    return ctx.limiter


__all__ = ["STAGES", "Turn", "answer_turn", "chat", "chat_body", "failure", "stream",
           "status_event", "data_event"]
