"""The FastAPI application of ``gpureport serve``: routes outside ``/api``, middleware, errors.

``create_app(config, now_arg=..., source=...)`` builds it; its lifespan opens the
``ServeContext`` (source, state database, checkpointer) and closes it after the in-flight
requests have drained. Outside ``/api`` everything is open: ``/health`` (the seed's shape),
``/healthz`` (liveness), ``/readyz`` (the source and the state database answer), ``/metrics``,
``/docs``, the web page (``/ui``, and ``/`` for a browser) and its files.

Errors: FastAPI's own 422 for bodies that do not validate; any other failure is one JSON line
``{"detail": ...}`` with no traceback and no secret (the log has the traceback).
"""

from __future__ import annotations

import contextlib
import logging
from importlib.resources import files
from typing import AsyncIterator

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from agent.sources.base import Source
from agent.text import mask_url
from reporter import metrics
from reporter.config import Config
from reporter.serve import api
from reporter.serve.context import READY_TIMEOUT_S, ServeContext, clock, safe_message, version
from reporter.serve.middleware import AccessLog, BodyLimit, Rebalance

log = logging.getLogger("gpureport.serve")
STATIC = files("reporter.serve") / "static"
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'")


def page() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"),
                        headers={"Content-Security-Policy": PAGE_CSP,
                                 "X-Content-Type-Options": "nosniff"})


def create_app(config: Config, *, now_arg: str | None = None, source: Source | None = None,
               context: ServeContext | None = None, workers: int = 1) -> FastAPI:
    """The service over ``config``. ``now_arg`` fixes "now" (``--now``); ``source`` replaces
    the configured data source (tests); ``workers``: how many processes share the port (with
    more than one, a saturated worker hands keep-alive connections back, ``Rebalance``)."""
    ctx = context or ServeContext(config=config, now=clock(now_arg), source=source)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(ctx.open)
        ctx.start()
        log.info("ready: %s source, state database %s, %d agent threads",
                 config.source.kind, mask_url(config.state.database_url), config.server.threads)
        try:
            yield
        finally:
            left = len(ctx.runs)
            if left:
                log.warning("shutting down with %d question(s) unfinished; abandoning them", left)
            await anyio.to_thread.run_sync(ctx.close)

    app = FastAPI(title="gpureport", version=version(), lifespan=lifespan,
                  description="Questions about Kubernetes GPU usage (the seed's chat API), "
                              "past reports, metrics.")
    app.state.ctx = ctx
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    async def root(request: Request):
        if "text/html" in request.headers.get("accept", ""):
            return page()
        return ctx.health()

    @app.get("/health", tags=["health"])
    async def health():
        """The seed's health check."""
        return ctx.health()

    @app.get("/healthz", tags=["health"])
    async def healthz():
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz():
        """Readiness: the data source and the state database answer (503 with the reason)."""
        try:
            with anyio.fail_after(READY_TIMEOUT_S):
                ok, body = await anyio.to_thread.run_sync(ctx.readiness, abandon_on_cancel=True)
        except TimeoutError:
            ok, body = False, {"status": "unavailable",
                               "reason": f"no answer within {READY_TIMEOUT_S:g} s"}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["health"])
    async def get_metrics():
        """Prometheus text format."""
        data, content_type = metrics.exposition()
        return Response(data, media_type=content_type)

    @app.get("/ui", include_in_schema=False)
    async def ui():
        return page()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # FastAPI's field errors, without echoing what was sent (it may be a whole document)
        errors = [{k: v for k, v in e.items() if k not in ("input", "ctx", "url")}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception):
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": safe_message(exc)}, status_code=500)

    if config.server.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.server.cors_origins),
                           allow_credentials=False, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                           max_age=600)
    app.add_middleware(BodyLimit, max_bytes=config.server.max_body_bytes)
    if workers > 1:
        app.add_middleware(Rebalance, saturated=ctx.saturated)
    app.add_middleware(AccessLog)
    return app


__all__ = ["create_app", "page"]
