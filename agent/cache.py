"""A small cache of JSON values with a time to live, for names that change slowly.

The catalogue of real names (``agent.catalog``) and the Lens source's cluster list are read
far more often than they change; fetching them for every question is what made a question
over the Lens API cost dozens of requests. ``CatalogCache`` is the protocol: JSON values by
key with the time each was stored, and ``ttl_s``, how long a value may be served (0: never).
``MemoryCache`` keeps them in this process; ``reporter.statedb.catalog_cache`` keeps them in
the state database, so that consecutive ``gpureport`` processes share them.

``fresh``/``keep`` are the one reading of the TTL: an entry older than ``ttl_s`` (or stored
"in the future" by a host whose clock is ahead) is not served but fetched again. A cache that
fails (``StateError``: the state database is down) is a miss with a warning in the log — the
value is then fetched, and the question still answered.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol

from agent.errors import StateError

log = logging.getLogger("gpureport.cache")

DEFAULT_TTL_S = 300.0
KEEP = timedelta(days=1)  # entries older than this are dropped, whatever the TTL


class CatalogCache(Protocol):
    ttl_s: float

    def get(self, key: str) -> tuple[Any, datetime] | None:
        """The value stored under ``key`` and when it was stored (aware UTC), or None."""
        ...

    def get_many(self, keys: list[str]) -> dict[str, tuple[Any, datetime]]:
        """The entries of those ``keys`` that are there (one round trip for a question's
        words)."""
        ...

    def put(self, key: str, value: Any, stored_at: datetime) -> None: ...

    def put_many(self, values: dict[str, Any], stored_at: datetime) -> None: ...


class MemoryCache:
    """A ``CatalogCache`` in this process's memory (thread-safe). Keys carry the hour their
    names were asked for, so a long-lived process (``serve``) drops entries a day old."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S):
        self.ttl_s = float(ttl_s)
        self._items: dict[str, tuple[Any, datetime]] = {}
        self._lock = threading.Lock()
        self._puts = 0

    def get(self, key: str) -> tuple[Any, datetime] | None:
        with self._lock:
            return self._items.get(key)

    def get_many(self, keys: list[str]) -> dict[str, tuple[Any, datetime]]:
        with self._lock:
            return {k: self._items[k] for k in keys if k in self._items}

    def put(self, key: str, value: Any, stored_at: datetime) -> None:
        self.put_many({key: value}, stored_at)

    def put_many(self, values: dict[str, Any], stored_at: datetime) -> None:
        with self._lock:
            for key, value in values.items():
                self._items[key] = (value, stored_at)
                self._puts += 1
                if self._puts % 256 == 0:
                    old = stored_at - KEEP
                    self._items = {k: v for k, v in self._items.items() if v[1] >= old}

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# What is used when no cache is configured (tests, library use): one per process.
PROCESS_CACHE = MemoryCache()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def fresh(cache: CatalogCache, key: str, clock: Callable[[], datetime] = utcnow) -> Any | None:
    """The value under ``key`` if it is younger than the cache's TTL, else None."""
    return fresh_many(cache, [key], clock).get(key)


def fresh_many(cache: CatalogCache, keys: list[str],
               clock: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """The values of those ``keys`` that are younger than the cache's TTL."""
    ttl = cache.ttl_s
    if ttl <= 0 or not keys:
        return {}
    try:
        hits = cache.get_many(keys)
    except StateError as exc:
        log.warning("name cache unavailable, fetching instead: %s", exc)
        return {}
    now = clock()
    return {k: value for k, (value, stored_at) in hits.items()
            if 0 <= (now - stored_at).total_seconds() < ttl}


def keep(cache: CatalogCache, key: str, value: Any,
         clock: Callable[[], datetime] = utcnow) -> None:
    """Store ``value`` under ``key`` now (nothing when caching is off or the cache fails)."""
    keep_many(cache, {key: value}, clock)


def keep_many(cache: CatalogCache, values: dict[str, Any],
              clock: Callable[[], datetime] = utcnow) -> None:
    """Store several values now, in one write."""
    if cache.ttl_s <= 0 or not values:
        return
    try:
        cache.put_many(values, clock())
    except StateError as exc:
        log.warning("name cache unavailable, values not kept: %s", exc)
