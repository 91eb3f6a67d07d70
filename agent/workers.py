"""The process's worker threads: one pool for every agent run, instead of one pool per run.

A question fans out on threads three times — LangGraph runs each node (and its stream waiter
and checkpoint writes) on an executor, ``execute`` runs a step's tool calls at once, and
``figures`` runs independent source calls at once. Each used to make its own
``ThreadPoolExecutor``, so every question started ~8 fresh OS threads and tore them down
again. Here one pool serves them all and its threads are reused.

The pool has no practical bound (``MAX_THREADS``): callers block on work they submitted to the
same pool (a node waits on its tool calls, a tool call on its source calls), and a bounded
shared pool could deadlock with every thread waiting on queued work. How many threads exist
is bounded instead by how much runs at once (``server.threads`` runs in the service, one in a
command), and idle threads are reused before a new one is started. ``run_all`` keeps the
per-call bound callers had (``limit`` calls of one batch at a time).

Calls in parallel only where that buys time. A source whose calls wait on a network (a
PostgreSQL server, the Lens API) gains from overlapping them; a SQLite file does not: its
queries are CPU in this process, and under load handing them to other threads only adds thread
switches (measured: a quarter of the service's CPU on the drill-down). A run says which it is
with ``parallel_calls(source)`` (the graph's nodes do, from the source's ``parallel_calls``);
``run_all`` then runs a batch one call after another, in the caller's thread.

``install()`` points LangGraph's runs at this pool (LangGraph builds its executor per run
through ``langchain_core``'s ``get_executor_for_config``, which it imports by name); without
that hook in a future LangGraph release it does nothing and runs keep their own pools.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")

MAX_THREADS = 512  # never reached: a bound only against a runaway, not a working limit

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """The process's pool (started on first use; threads start as work needs them)."""
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=MAX_THREADS,
                                           thread_name_prefix="gpureport-worker")
    return _pool


_parallel: contextvars.ContextVar[bool] = contextvars.ContextVar("gpureport_parallel_calls",
                                                                 default=True)


@contextlib.contextmanager
def parallel_calls(source: Any) -> Iterator[None]:
    """Within the block, ``run_all`` overlaps calls only if ``source`` says its calls wait
    on a network (``source.parallel_calls``, True when a source does not say)."""
    token = _parallel.set(bool(getattr(source, "parallel_calls", True)))
    try:
        yield
    finally:
        _parallel.reset(token)


def submit(fn: Callable[..., T], *args: Any) -> Future[T]:
    return pool().submit(fn, *args)


def run_all(calls: list[Callable[[], T]], limit: int) -> Iterator[tuple[int, T]]:
    """Run ``calls`` on the pool, at most ``limit`` at a time; yield ``(index, result)`` as
    each finishes. The first call that raises ends the batch as a pool of its own would: the
    calls not yet started are not started, the running ones are waited for, and the exception
    propagates."""
    if len(calls) == 1 or not _parallel.get():  # nothing to overlap, or nothing gained
        for i, call in enumerate(calls):
            yield i, call()
        return
    pending = iter(enumerate(calls))
    running: dict[Future, int] = {}

    def start() -> None:
        for i, call in pending:
            running[pool().submit(call)] = i
            return

    for _ in range(max(1, limit)):
        start()
    try:
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                i = running.pop(future)
                result = future.result()  # raises the call's exception
                start()
                yield i, result
    finally:
        wait(running)


class _Shared(Executor):
    """The pool as a per-run executor: ``submit`` goes to the pool, ``shutdown`` (the run
    ending) leaves the pool's threads for the next run."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        return pool().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


@contextlib.contextmanager
def _executor_for_config(config: Any) -> Iterator[Executor]:
    if (config or {}).get("max_concurrency"):  # a run that asked for its own bound keeps it
        with ThreadPoolExecutor(max_workers=config["max_concurrency"]) as own:
            yield own
        return
    yield _Shared()


def install() -> bool:
    """Let LangGraph's runs use this pool; False when this LangGraph has no such hook."""
    try:
        from langgraph.pregel import _executor
    except ImportError:  # pragma: no cover - a LangGraph without the module
        return False
    if not hasattr(_executor, "get_executor_for_config"):  # pragma: no cover
        return False
    _executor.get_executor_for_config = _executor_for_config
    return True


__all__ = ["pool", "submit", "run_all", "parallel_calls", "install", "MAX_THREADS"]
