"""The ``/api/gpu-analysis`` routes (api.md): chat, its stream, capabilities, past reports.

Paths and field names are the seed's. Every route here needs ``Authorization: Bearer
<server.token>`` when a token is configured (401 otherwise); the token is compared in
constant time and never logged. The conversation storage routes of api.md
(``/storage/conversations``, ``/storage/search``) read the agent's checkpointer threads and
arrive with the agent's thread functions (``agent.sessions``); until then they are absent
(404), and the web page keeps its own list of the sessions it started.
"""

from __future__ import annotations

import hmac

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reporter.serve import events
from reporter.serve.capabilities import capabilities
from reporter.serve.context import ServeContext
from reporter.serve.models import ChatRequest, ChatResponse, ErrorBody
from reporter.serve.report_files import FORMATS, REPORT_CSP, list_reports, report_file
from reporter.serve.sse import EventStream

PREFIX = "/api/gpu-analysis"
_bearer = HTTPBearer(auto_error=False, description="server.token (GPUREPORT_SERVER_TOKEN)")

_ERRORS = {401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
           413: {"model": ErrorBody, "description": "body over server.max_body_bytes"},
           503: {"model": ErrorBody, "description": "the data source (or LLM) is unavailable"},
           504: {"model": ErrorBody, "description": "no answer within request_timeout_s"}}


def context(request: Request) -> ServeContext:
    return request.app.state.ctx


def authorized(request: Request,
               credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
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
