"""ASGI middleware of the service: the body limit, the access log with request metrics, and
keep-alive connections handed back when a worker is saturated.

Plain ASGI (not Starlette's ``BaseHTTPMiddleware``), so a streamed response passes through
untouched and its time is measured to its last byte.

* ``BodyLimit`` — a body larger than ``server.max_body_bytes`` gets 413 before the
  application reads it: at once when ``Content-Length`` says so, else as soon as the chunks
  received pass the limit.
* ``AccessLog`` — one JSON line per request on the ``gpureport.access`` logger at INFO:
  method, path (never the query string or the body: questions stay out of logs), the route,
  status, duration, client, request id; and ``gpureport_requests_total`` /
  ``gpureport_request_seconds`` by route template (``/api/gpu-analysis/reports/{run_id}.{fmt}``,
  not each id), so the metric's cardinality stays fixed. ``X-Request-ID`` is echoed, or made.
* ``Rebalance`` — with ``--workers N > 1`` only: a worker whose runs are waiting for a thread
  answers with ``Connection: close``, so that client's next request opens a new connection,
  which goes to a less busy worker.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from typing import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reporter import metrics

access_log = logging.getLogger("gpureport.access")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        started = rejected = False

        async def counting_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request" and not rejected:
                received += len(message.get("body", b""))
                if received > self.max_bytes and not started:
                    # answer 413 now; the application sees a client that left
                    rejected = True
                    await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 is the answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def route_of(scope: Scope) -> str:
    """The route template a request matched (``other`` when none did)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path:
        return str(path)
    if scope.get("path", "").startswith("/static/"):
        return "/static"
    return "other"


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        status = 500  # what the client gets if the application fails before answering

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            if (scope.get("state") or {}).get("client_disconnected"):
                status = 499  # nginx's "client closed request": the answer was not delivered
            endpoint = route_of(scope)
            metrics.observe_request(endpoint, status, seconds)
            client = scope.get("client")
            access_log.info(json.dumps({
                "event": "request", "method": scope.get("method"), "path": scope.get("path"),
                "route": endpoint, "status": status, "duration_ms": round(seconds * 1000, 1),
                "client": client[0] if client else None, "request_id": request_id,
            }))


class Rebalance:
    """Keep-alive connections spread over the worker processes by load, not by chance.

    uvicorn's workers share one listening socket, and a keep-alive connection stays with the
    worker that accepted it however busy that worker becomes: a client (or an ingress) holding
    16 connections may have 12 on one worker, queueing behind its threads, and 4 on another,
    idle. While ``saturated()`` (this worker has runs waiting for a thread), each response
    carries ``Connection: close``; the client reconnects, and the new connection goes to the
    worker that accepts it first — the one whose event loop is least busy. It is nginx's
    ``keepalive_requests`` applied only under load: an unloaded worker keeps its connections,
    and reconnecting costs a local TCP handshake, far below a queued run.
    """

    def __init__(self, app: ASGIApp, saturated: Callable[[], bool]) -> None:
        self.app = app
        self.saturated = saturated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def handing_back(message: Message) -> None:
            if message["type"] == "http.response.start" and self.saturated():
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"connection", b"close")]}
                metrics.observe_handed_back()
            await send(message)

        await self.app(scope, receive, handing_back)


__all__ = ["AccessLog", "BodyLimit", "Rebalance", "route_of"]
