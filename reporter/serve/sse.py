"""Server-sent events as the seed's clients read them: one ``data: {json}`` line and a blank line
per event, from a producer that runs while the response listens for its client leaving.

Starlette's own ``StreamingResponse`` only notices a disconnect when a write fails (ASGI spec
2.4), which while the agent is thinking may be a minute away. ``EventStream`` runs its producer
and a listener for ``http.disconnect`` side by side and cancels the producer as soon as the
client has gone; the producer's ``finally`` then abandons its run (``reporter.serve.work``).
The producer is an ``async`` function given ``emit(event, ...)`` (several events ready at
once go out in one write): no event is yielded across a cancel scope, and a worker thread can
emit through ``anyio.from_thread.run(emit, event)``.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from reporter.serve.work import until_disconnected

Emit = Callable[..., Awaitable[None]]  # emit(event, ...): events sent in one write, in order
Producer = Callable[[Emit], Awaitable[None]]


def encode(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event, ensure_ascii=False, default=str)}\n\n".encode("utf-8")


class EventStream(Response):
    """``text/event-stream`` of the events a producer emits."""

    def __init__(self, produce: Producer) -> None:  # no Content-Length: the body is open-ended
        self.status_code = 200
        self.background = None
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                            (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
        self._produce = produce

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        disconnected = False

        async def emit(*events: dict[str, Any]) -> None:
            await send({"type": "http.response.body", "more_body": True,
                        "body": b"".join(encode(event) for event in events)})

        async with anyio.create_task_group() as tg:
            async def produce() -> None:
                await self._produce(emit)
                tg.cancel_scope.cancel()

            async def listen() -> None:
                nonlocal disconnected
                await until_disconnected(receive)
                disconnected = True
                tg.cancel_scope.cancel()

            tg.start_soon(produce)
            tg.start_soon(listen)
        if disconnected:
            scope.setdefault("state", {})["client_disconnected"] = True
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


__all__ = ["EventStream", "Emit", "encode"]
