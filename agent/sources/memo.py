"""A source that remembers its answers for the length of one job (a report build).

A report asks the agent a dozen preset questions about the same periods: the KPI comparison,
the trend, the drill-down and its follow-up all need the same period sums, and "now" is fixed
for the build, so asking the database twice would only cost time. ``MemoSource`` wraps any
``Source`` and is handed to the agent as ``AgentDeps.source``; the agent never knows.

Decisions:

* Generic, not a copy of the protocol: every public method of the wrapped source is memoized
  except ``ping`` and ``close`` (they are about the connection, not the data). A method added
  to ``agent.sources.base.Source`` is covered without touching this module.
* The key is the method and its arguments bound to the signature with defaults filled in, so
  ``f(s, c, a, b)`` and ``f(s, c, a, b, label_key=None)`` are one query. Arguments that cannot
  be hashed make the call go straight to the source.
* Thread-safe: the agent runs independent calls in threads; concurrent identical calls wait
  for the first one instead of querying twice. Lists come back as shallow copies (callers may
  sort them); the values in them are not mutated by anyone.
* A failed call is not remembered: the next identical call asks again.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Callable

from agent.sources.base import Source

UNCACHED = frozenset({"ping", "close"})


class MemoSource:
    """``Source`` in, ``Source`` out: the same methods, each answer computed once."""

    def __init__(self, source: Source):
        self._source = source
        self._memo: dict[tuple, Any] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()
        self._methods: dict[str, Callable[..., Any]] = {}

    @property
    def wrapped(self) -> Source:
        return self._source

    def __getattr__(self, name: str) -> Any:
        # only called for names not found on MemoSource itself: the Source methods
        value = getattr(self._source, name)
        if name.startswith("_") or name in UNCACHED or not callable(value):
            return value
        with self._guard:
            method = self._methods.get(name)
            if method is None:
                method = self._methods[name] = self._memoized(name, value)
        return method

    def _memoized(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(call)

        def memoized(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            key = (name, *((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                           for k, v in bound.arguments.items()))
            try:
                hash(key)
            except TypeError:
                return call(*args, **kwargs)
            return self._cached(key, lambda: call(*args, **kwargs))

        memoized.__name__ = name
        memoized.__doc__ = call.__doc__
        return memoized

    def _cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._guard:
            if key in self._memo:
                return _copy(self._memo[key])
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._memo:
                    return _copy(self._memo[key])
            value = compute()
            with self._guard:
                self._memo[key] = value
        return _copy(value)


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


__all__ = ["MemoSource"]
