"""One agent run, as the chat API returns it: the JSON of ``/chat`` and the SSE events of
``/chat/stream`` (api.md). The one module that knows how the agent is called.

The run is ``agent.ask.stream`` read in a worker thread (``run_turn``): the graph yields
``Status`` as each node starts, ``Data`` per tool call as its step ends, then ``Final`` with the
``Answer``. ``/chat/stream`` sends them on as they come —

    session -> status(understand) -> status(plan) -> status(execute) -> data… ->
    status(synthesize) -> status(respond) -> final -> done

(a clarification: ``… status(clarify) -> status(clarify, waiting) -> final -> done``; a
resumed one starts at ``clarify``), or ``error`` then ``done``. ``/chat`` reads the same run
to its end. The thread hands events to the event loop without waiting for the client
(``work.Handoff``), checks the run's ``Control`` after each one (a client that left, the
deadline, shutdown: the run stops at its next step, or at its next source call through
``WatchedSource``), and feeds ``/metrics`` as it goes (``observe``).

Conversations: with ``save_history`` (the default) a turn runs in the checkpointer thread
``session_id`` of the state database — the thread ``gpureport ask --session`` uses, so a
conversation continues across the CLI and HTTP. Without it the turn runs in a one-shot thread
in this process's memory; if that turn asks back, its answer's ``session_id`` is that thread
(``oneshot-…``) and the choice can be sent to it like to any session.

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

from agent.answer import Answer, Data, Event, Final, Status
from agent.ask import ONESHOT, stream as agent_stream
from agent.errors import (
    GpureportError,
    LLMError,
    SourceError,
    StateError,
    UnknownName,
    UsageError,
)
from agent.understand.rules import detect_language
from reporter import metrics
from reporter.serve.context import ServeContext, safe_message
from reporter.serve.models import ChatRequest
from reporter.serve.observe import LLMUsage, ToolClock
from reporter.serve.sse import Emit
from reporter.serve.work import Abandoned, Control, Handoff, run_blocking, until_disconnected

log = logging.getLogger("gpureport.serve")

STAGES = ("understand", "clarify", "plan", "execute", "synthesize", "respond")
STATUS_TEXT = {
    "en": {"understand": "Understanding the question…", "clarify": "Checking what was meant…",
           "waiting": "Waiting for your choice", "plan": "Planning the queries…",
           "execute": "Fetching data…", "synthesize": "Computing the figures…",
           "respond": "Writing the answer"},
    "zh": {"understand": "正在理解问题…", "clarify": "正在确认所指…", "waiting": "等待您的选择",
           "plan": "正在规划查询…", "execute": "正在获取数据…", "synthesize": "正在计算…",
           "respond": "正在生成回答"},
}


@dataclass
class Turn:
    """One request as the agent gets it.

    ``session_id`` is what the client calls the conversation; ``thread`` is the graph thread
    the run uses: the session itself when the turn is saved, a one-shot thread otherwise (the
    client's, when it answers a one-shot clarification)."""

    query: str
    cluster: str | None
    session_id: str
    thread: str
    saved: bool
    resume: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    language: str = "en"
    started: float = field(default_factory=time.perf_counter)
    first_stage: str | None = None  # "clarify" when the run resumed a waiting question
    new_session: bool = False  # the id was made for this request: no earlier turn to read

    @classmethod
    def of(cls, body: ChatRequest) -> "Turn":
        session = body.session_id or uuid.uuid4().hex
        oneshot = session.startswith(ONESHOT)
        saved = body.save_history and not oneshot
        thread = session if saved or oneshot else f"{ONESHOT}{uuid.uuid4().hex}"
        return cls(query=body.query, cluster=body.cluster_name, session_id=session,
                   thread=thread, saved=saved, resume=body.resume,
                   history=list(body.conversation_history), language=detect_language(body.query),
                   new_session=body.session_id is None)

    def session_of(self, answer: Answer) -> str:
        """The ``session_id`` an answer names: where the conversation goes on."""
        if not self.saved and answer.needs_clarification:
            return self.thread  # the one-shot thread waits for the choice
        return self.session_id


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


# -- running the agent (blocking; in a worker thread) --------------------------------------------
def run_turn(ctx: ServeContext, turn: Turn, control: Control,
             push: Callable[[Event], None] | None = None) -> Answer:
    """Run the agent on ``turn``; each event goes to ``push`` as it happens. Stops (raising
    ``Abandoned``) at the first event after ``control`` was cancelled."""
    saver = ctx.saver if turn.saved else None
    callbacks = [LLMUsage()] if ctx.config.llm.enabled else None
    events = agent_stream(turn.query, ctx.deps(control), session=turn.thread,
                          cluster=turn.cluster, checkpointer=saver, resume=turn.resume,
                          callbacks=callbacks, new_session=turn.new_session)
    clock = ToolClock()
    answer: Answer | None = None
    try:
        for event in events:
            if turn.first_stage is None and isinstance(event, Status):
                turn.first_stage = event.stage
            clock.see(event)
            if isinstance(event, Final):
                answer = event.answer
            if push is not None:
                push(event)
            control.check()
    except BaseException as exc:
        events.close()
        clock.failed("cancelled" if isinstance(exc, Abandoned) else "error", saver, turn.thread)
        raise
    assert answer is not None, "the agent's run ended without an answer"
    return answer


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
    if isinstance(exc, UnknownName):  # a name that matches nothing (answers.md §1)
        return 404, type(exc).__name__, safe_message(exc)
    if isinstance(exc, GpureportError):
        return 500, type(exc).__name__, safe_message(exc)
    return 500, "InternalError", f"internal error: {safe_message(exc)}"


def _log_failure(turn: Turn, exc: BaseException) -> None:
    if isinstance(exc, (GpureportError, TimeoutError, Abandoned)):
        log.warning("question in session %s failed: %s", turn.session_id, safe_message(exc))
    else:
        log.error("question in session %s failed", turn.session_id, exc_info=exc)


def _observe(answer: dict) -> None:
    """One answered question on /metrics, from its ``ask --json`` fields."""
    metrics.observe_question(answer, "clarification" if answer["needs_clarification"]
                             else "answered")


# -- /chat ---------------------------------------------------------------------------------------
def chat_body(answer: Answer, turn: Turn, control: Control) -> dict[str, Any]:
    """The seed's response fields plus every field of ``ask --json``."""
    out = answer.to_json()
    at = now_iso()
    history = list(turn.history)
    if turn.saved:
        history += [{"role": "user", "content": turn.query, "timestamp": at},
                    {"role": "assistant", "content": answer.headline, "timestamp": at}]
    session = turn.session_of(answer)
    out.update({
        "session_id": session,
        "conversation_history": history,
        "debug_info": {
            "session_id": session, "intent": answer.intent, "language": answer.language,
            "llm_calls": answer.llm_calls, "source_calls": control.source_calls,
            "tools": [c.get("tool") for c in answer.data_collected],
            "duration_ms": round((time.perf_counter() - turn.started) * 1000, 1),
            "saved": turn.saved, "resumed": turn.first_stage == "clarify",
        },
        "timestamp": at,
    })
    return out


def answered(ctx: ServeContext, turn: Turn, control: Control) -> dict[str, Any]:
    """The run and its response body, both in the worker thread: the event loop, which every
    request needs, is left only the bytes to send."""
    body = chat_body(run_turn(ctx, turn, control), turn, control)
    _observe(body)
    return body


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
                    result["body"] = await run_blocking(
                        lambda: answered(ctx, turn, control), control, _limiter(ctx))
            except Exception as exc:  # noqa: BLE001 - every failure becomes one line
                result["error"] = exc
            tg.cancel_scope.cancel()
    finally:
        control.cancel("finished")
        ctx.runs.close(control)
    if "body" in result:
        return 200, result["body"]
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


def data_event(data: Data) -> dict[str, Any]:
    """api.md's ``{"type": "data", "stage": "execute", "message", "data": {tool: summary}}``,
    with the tool's ``args`` and ``rows``."""
    return data.to_json()


def final_event(answer: Answer, turn: Turn, control: Control) -> dict[str, Any]:
    body = chat_body(answer, turn, control)
    return {"type": "final", **body, "data": answer.data_collected}


def sse_events(event: Event, turn: Turn, control: Control) -> list[dict[str, Any]]:
    """The SSE events of one agent event: a node's start, a tool's result, the answer (after
    a ``clarify`` "waiting" status when it asks back). A node's end says nothing new."""
    if isinstance(event, Status):
        return [status_event(event.stage, turn.language)] if event.phase == "start" else []
    if isinstance(event, Data):
        return [data_event(event)]
    answer = event.answer
    waiting = [{**status_event("waiting", answer.language), "stage": "clarify"}] \
        if answer.needs_clarification else []
    return [*waiting, final_event(answer, turn, control)]


async def _run_events(ctx: ServeContext, turn: Turn, control: Control, emit: Emit) -> None:
    """The events of the run, sent as the worker thread produces them."""
    handoff = Handoff()
    outcome: dict[str, Any] = {}

    async def forward() -> None:
        async with handoff.receive:
            async for event in handoff.receive:
                ready = [event, *handoff.ready()]  # what the run produced meanwhile: one write
                await emit(*(out for e in ready for out in sse_events(e, turn, control)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(forward)
        try:
            outcome["answer"] = await run_blocking(
                lambda: run_turn(ctx, turn, control, handoff.push), control, _limiter(ctx))
        except Exception as exc:  # noqa: BLE001 - re-raised below, after the events sent
            outcome["error"] = exc
        finally:
            handoff.close()  # forward() ends once it has sent what the run produced
    if "error" in outcome:
        raise outcome["error"]
    _observe(outcome["answer"].to_json())


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


__all__ = ["STAGES", "Turn", "run_turn", "chat", "chat_body", "failure", "stream",
           "status_event", "data_event", "sse_events"]
