"""The ``/api/gpu-analysis`` routes (api.md): chat, its stream, capabilities, conversations,
past reports.

Paths and field names are the seed's. Every route here needs ``Authorization: Bearer
<server.token>`` when a token is configured (401 otherwise); the token is compared in
constant time and never logged.

Conversations (``/storage/conversations``, ``/storage/search``) are the agent's checkpointer
threads in the state database, read through ``agent.sessions`` — the same store and ids as
``gpureport ask --session``, so a conversation started in a terminal is listed, opened,
continued and deleted here, and the other way round.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Callable, TypeVar

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.sessions import delete_thread, get_thread, list_threads, search_threads
from reporter.serve import events
from reporter.serve.capabilities import capabilities
from reporter.serve.context import ServeContext, safe_message
from reporter.serve.models import SESSION_MAX, SESSION_PATTERN, ChatRequest, ChatResponse, ErrorBody
from reporter.serve.report_files import FORMATS, REPORT_CSP, list_reports, report_file
from reporter.serve.sse import EventStream

PREFIX = "/api/gpu-analysis"
log = logging.getLogger("gpureport.serve")
T = TypeVar("T")
_bearer = HTTPBearer(auto_error=False, description="server.token (GPUREPORT_SERVER_TOKEN)")

_ERRORS = {401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
           413: {"model": ErrorBody, "description": "body over server.max_body_bytes"},
           503: {"model": ErrorBody, "description": "the data source (or LLM) is unavailable"},
           504: {"model": ErrorBody, "description": "no answer within request_timeout_s"}}


def context(request: Request) -> ServeContext:
    return request.app.state.ctx


async def authorized(request: Request,
                     credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, on every request
    token = context(request).config.server.token
    if token is None or not token.get_secret_value():
        return
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode("utf-8"), token.get_secret_value().encode("utf-8")):
        raise HTTPException(401, "missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix=PREFIX, dependencies=[Depends(authorized)], tags=["gpu-analysis"])


@router.post("/chat", response_model=ChatResponse, responses=_ERRORS)
async def chat(body: ChatRequest, request: Request):
    """Ask a question; the answer with the seed's fields plus every ``ask --json`` field. A
    question that needs clarification is answered 200 with ``needs_clarification`` and
    ``options``."""
    status, payload = await events.chat(context(request), body, request.receive)
    if payload is None:  # the client left; nobody reads this
        return Response(status_code=status)
    if status != 200:
        return JSONResponse(payload, status_code=status)
    return JSONResponse(payload)


@router.post("/chat/stream", responses={200: {"content": {"text/event-stream": {}},
                                              "description": "data: {json} events"}, **_ERRORS})
async def chat_stream(body: ChatRequest, request: Request):
    """The same question as server-sent events: ``session``, ``status``…, ``data``…, ``final``,
    ``done`` (or ``error`` then ``done``)."""
    ctx = context(request)
    return EventStream(lambda emit: events.stream(ctx, body, emit))


@router.get("/capabilities")
async def get_capabilities():
    """What the agent answers: intents with examples, dimensions, metrics."""
    return capabilities()


# -- conversations -----------------------------------------------------------------------------
_SESSION = Path(min_length=1, max_length=SESSION_MAX, pattern=SESSION_PATTERN,
                description="The conversation id (`ask --session`).")
_STORAGE_ERRORS = {503: {"model": ErrorBody, "description": "the state database is unavailable"}}


async def _storage(ctx: ServeContext, work: Callable[[], T]) -> T:
    """``work()`` on the checkpointer, in a worker thread; a state database that cannot
    answer is 503 with one line."""
    try:
        return await anyio.to_thread.run_sync(work, limiter=ctx.limiter)
    except Exception as exc:  # noqa: BLE001 - the reason in one line, the traceback in the log
        log.warning("conversation storage failed: %s", safe_message(exc), exc_info=exc)
        raise HTTPException(503, f"state database: {safe_message(exc)}") from None


@router.get("/storage/conversations", responses=_STORAGE_ERRORS)
async def conversations(request: Request, limit: int = Query(20, ge=1, le=200),
                        offset: int = Query(0, ge=0, le=100_000)) -> dict[str, Any]:
    """Conversations, newest first: id, name (the first question), when they started and
    last changed, how many messages, whether a clarification waits for an answer."""
    ctx = context(request)
    threads = await _storage(ctx, lambda: list_threads(ctx.saver, limit, offset))
    return {"conversations": [t.as_dict() for t in threads], "limit": limit, "offset": offset,
            "count": len(threads)}


@router.get("/storage/conversations/{session_id}",
            responses={404: {"model": ErrorBody}, **_STORAGE_ERRORS})
async def conversation(request: Request, session_id: str = _SESSION) -> dict[str, Any]:
    """One conversation with its messages (``role``, ``content``, ``timestamp``)."""
    ctx = context(request)
    thread = await _storage(ctx, lambda: get_thread(ctx.saver, session_id))
    if thread is None:
        raise HTTPException(404, f"no conversation {session_id!r}")
    return thread.as_dict(with_messages=True)


@router.delete("/storage/conversations/{session_id}",
               responses={404: {"model": ErrorBody}, **_STORAGE_ERRORS})
async def forget(request: Request, session_id: str = _SESSION) -> dict[str, Any]:
    """Delete a conversation (every checkpoint of its thread)."""
    ctx = context(request)
    if not await _storage(ctx, lambda: delete_thread(ctx.saver, session_id)):
        raise HTTPException(404, f"no conversation {session_id!r}")
    return {"session_id": session_id, "deleted": True}


@router.get("/storage/search", responses=_STORAGE_ERRORS)
async def search(request: Request, query: str = Query(min_length=1, max_length=500),
                 limit: int = Query(20, ge=1, le=200)) -> dict[str, Any]:
    """Conversations with a message containing ``query`` (any case), newest first."""
    ctx = context(request)
    threads = await _storage(ctx, lambda: search_threads(ctx.saver, query, limit))
    return {"conversations": [t.as_dict() for t in threads], "query": query, "limit": limit,
            "count": len(threads)}


# -- past reports ------------------------------------------------------------------------------
@router.get("/reports")
async def reports(request: Request, limit: int = Query(50, ge=1, le=200),
                  offset: int = Query(0, ge=0, le=100_000)):
    """Past report runs (newest first) with links to their kept HTML/PDF files."""
    ctx = context(request)
    assert ctx.state is not None
    return await anyio.to_thread.run_sync(
        lambda: list_reports(ctx.state, ctx.config, limit=limit, offset=offset),
        limiter=ctx.limiter)


@router.get("/reports/{run_id}.{fmt}", responses={404: {"model": ErrorBody}})
async def report(request: Request, run_id: int, fmt: str):
    """The HTML or PDF file of one run, where it was kept."""
    ctx = context(request)
    if fmt not in FORMATS:
        raise HTTPException(404, f"no such format {fmt!r}: use html or pdf")
    path = await anyio.to_thread.run_sync(
        lambda: report_file(ctx.state, ctx.config, run_id, fmt), limiter=ctx.limiter)
    if path is None:
        raise HTTPException(404, f"run {run_id} has no kept {fmt} file")
    headers = {"Content-Security-Policy": REPORT_CSP} if fmt == "html" else {}
    return FileResponse(path, media_type=FORMATS[fmt], headers=headers,
                        content_disposition_type="inline", filename=path.name)


__all__ = ["router", "PREFIX", "authorized"]
