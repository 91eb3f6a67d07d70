"""Blocking agent work off the event loop, bounded, with a deadline, and abandoned on request.

Answering a question is blocking work (SQL, HTTP to Lens, the LLM, the LangGraph run), so it
runs in a worker thread (``anyio.to_thread`` with a ``CapacityLimiter``: at most
``server.threads`` runs at once per worker; the rest wait their turn inside their own
deadline). A thread cannot be killed, so a run that is no longer wanted — its client
disconnected, its deadline passed, the server is shutting down — is stopped *cooperatively*:
the run sees the data source through ``WatchedSource``, which checks the run's ``Control``
before every call and raises ``Abandoned`` once the run is cancelled. Every step of an answer
reads the source, so an abandoned run stops at its next read and does no further work; the
event loop has already moved on (the thread is abandoned, not awaited).

``WatchedSource`` also times every source call (``gpureport_source_seconds{method}``), which
is how the service shows where a request's time goes.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any, Callable, TypeVar

import anyio
import anyio.to_thread

from agent.sources.base import Source
from reporter import metrics

T = TypeVar("T")


class Abandoned(Exception):
    """Raised inside a run that nobody waits for any more (never shown to a client)."""


class Control:
    """The cancel switch of one run; ``reason`` says why it was pulled."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self.reason = ""
        self.source_calls = 0

    def cancel(self, reason: str = "finished") -> None:
        if not self._cancelled.is_set():
            self.reason = reason
            self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        if self._cancelled.is_set():
            raise Abandoned(self.reason)


class Runs:
    """Every run in flight in this worker, so that shutdown can abandon what is left."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[Control] = set()
        self.closed = False

    def open(self) -> Control:
        control = Control()
        with self._lock:
            if self.closed:
                control.cancel("the server is shutting down")
            self._live.add(control)
        return control

    def close(self, control: Control) -> None:
        with self._lock:
            self._live.discard(control)

    def cancel_all(self, reason: str) -> int:
        with self._lock:
            self.closed = True
            live = list(self._live)
        for control in live:
            control.cancel(reason)
        return len(live)

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)


class WatchedSource:
    """A ``Source`` seen by one run: each call first checks the run's ``Control`` and is timed.

    Delegates every attribute of the wrapped source; its callables are wrapped, its plain
    attributes passed through, so it is the same source to the agent whatever methods the
    protocol grows.
    """

    def __init__(self, source: Source, control: Control) -> None:
        self._source = source
        self._control = control

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._source, name)
        if not callable(attr) or name.startswith("_") or name == "close":
            return attr
        control = self._control

        def call(*args: Any, **kwargs: Any) -> Any:
            control.check()
            control.source_calls += 1
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                metrics.observe_source_call(name, time.perf_counter() - started)
                control.check()

        return call

    def close(self) -> None:
        """The shared source outlives the run: closing a run's view does nothing."""


async def run_blocking(fn: Callable[[], T], control: Control,
                       limiter: anyio.CapacityLimiter) -> T:
    """``fn()`` in a worker thread. If the awaiting task is cancelled (disconnect, deadline,
    shutdown) the thread is abandoned and ``control`` cancelled, so it stops at its next
    source call."""
    try:
        return await anyio.to_thread.run_sync(fn, limiter=limiter, abandon_on_cancel=True)
    except BaseException:
        control.cancel("abandoned")
        raise


class Handoff:
    """Items from a worker thread to the event loop, in order, without blocking the worker.

    Made in the event loop; ``push(item)`` may be called from any thread: it schedules the
    item onto an unbounded in-memory stream (a run yields a few dozen events at most), so the
    agent never waits for a slow client, and the time at which each event was seen is the
    time it happened. Items pushed while a hand-over is pending go with it (one wake-up of
    the loop for a burst); ``ready()`` reads what has arrived without waiting. ``receive`` is
    iterated in the loop; ``close()`` (in the loop) ends the iteration once what was pushed
    before it has been read (items are delivered through the loop in the order they were
    pushed, and a worker thread's result after them)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._send, self.receive = anyio.create_memory_object_stream(math.inf)
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._scheduled = False

    def push(self, item: Any) -> None:
        # items pushed while a hand-over is already scheduled ride along with it: a run's
        # burst of events wakes the event loop once, not once per event
        with self._lock:
            self._pending.append(item)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._put_pending)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            pass

    def _put_pending(self) -> None:
        with self._lock:
            items, self._pending, self._scheduled = self._pending, [], False
        for item in items:
            try:
                self._send.send_nowait(item)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return  # the reader has gone (client left): the items are not wanted

    def ready(self) -> list[Any]:
        """The items already handed over and not yet read (in the loop, without waiting)."""
        out: list[Any] = []
        while True:
            try:
                out.append(self.receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                return out

    def close(self) -> None:
        self._send.close()


async def until_disconnected(receive: Callable[[], Any]) -> None:
    """Return when the client has gone (an ASGI ``http.disconnect``); the request body must
    have been read already."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


__all__ = ["Abandoned", "Control", "Handoff", "Runs", "WatchedSource", "run_blocking",
           "until_disconnected"]
