"""What the service holds for its lifetime: the configuration, one data source, the state
database, the conversation checkpointer, the name cache, the clock, and the bound on
concurrent agent runs.

Opened once when the service starts (FastAPI's lifespan) and closed when it stops, after the
in-flight requests have drained. Tests build one around a source of their choosing
(``source=``); the command line builds it from the configuration.

The name cache (``agent.catalog``'s clusters, namespaces, users, label keys, workload lookups)
is two levels deep: this worker's memory in front of the state database's table
(``source.catalog_ttl_s`` for both). A question answered by a warm worker reads no name from
anywhere; a cold worker — a new replica, another ``--workers`` process — starts from what the
others (or ``gpureport ask`` in a terminal) already fetched.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import anyio
from sqlalchemy import text

from agent.cache import MemoryCache
from agent.deps import AgentDeps
from agent.errors import GpureportError
from agent.coverage import freshness
from agent.periods import parse_now
from agent.sessions import checkpointer as open_checkpointer
from agent.sources import make_source
from agent.sources.base import Source
from agent.text import mask_url, one_line
from reporter.config import Config
from reporter.serve.work import Control, Runs, WatchedSource
from reporter.statedb import StateDB, open_state
from reporter.statedb.catalog_cache import StateCatalogCache

READY_TIMEOUT_S = 5.0


def version() -> str:
    try:
        return importlib.metadata.version("gpureport")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0+unknown"


def clock(now_arg: str | None) -> Callable[[], datetime]:
    """A fixed "now" (``--now``, else ``GPUREPORT_NOW``: reproducible answers) or the real
    clock, read per request (a service runs for weeks)."""
    fixed_text = now_arg or os.environ.get("GPUREPORT_NOW")
    if fixed_text:
        fixed = parse_now(fixed_text, "--now" if now_arg else "GPUREPORT_NOW")
        return lambda: fixed
    return lambda: datetime.now(timezone.utc)


class LayeredCache:
    """A ``CatalogCache``: ``front`` (memory) first, then ``back`` (the state database) for
    what the front lacks or holds past the TTL; what the back has is copied to the front with
    the time it was stored, so its age reads the same. Writes go to both. A back that fails
    raises ``StateError`` (``agent.cache`` then fetches the names, as without a cache)."""

    def __init__(self, front: MemoryCache, back: Any) -> None:
        self.front, self.back = front, back
        self.ttl_s = back.ttl_s

    def get(self, key: str) -> tuple[Any, datetime] | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: list[str]) -> dict[str, tuple[Any, datetime]]:
        hits = self.front.get_many(keys)
        now = datetime.now(timezone.utc)
        missing = [k for k in keys
                   if k not in hits or (now - hits[k][1]).total_seconds() >= self.ttl_s]
        if missing:
            found = self.back.get_many(missing)
            for key, (value, stored_at) in found.items():
                self.front.put_many({key: value}, stored_at)
            hits.update(found)
        return hits

    def put(self, key: str, value: Any, stored_at: datetime) -> None:
        self.put_many({key: value}, stored_at)

    def put_many(self, values: dict[str, Any], stored_at: datetime) -> None:
        self.front.put_many(values, stored_at)
        self.back.put_many(values, stored_at)

    def close(self) -> None:
        self.back.close()


@dataclass
class ServeContext:
    config: Config
    now: Callable[[], datetime]
    source: Source | None = None  # opened from the configuration unless given
    runs: Runs = field(default_factory=Runs)
    state: StateDB | None = None
    saver: Any = None  # the LangGraph checkpointer of ``ask --session`` (same store)
    catalog: LayeredCache | None = None  # the name cache: memory, then the state database
    limiter: anyio.CapacityLimiter | None = None
    draining: bool = False
    opened: bool = False
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _own_source: bool = False

    # -- lifetime ---------------------------------------------------------------------------
    def open(self) -> None:
        """Source, state database (migrated), checkpointer. Raises ``GpureportError``.
        Idempotent: the command line opens it before the server starts, to fail fast."""
        if self.opened:
            return
        self.state = open_state(self.config.state.database_url)  # migrated: the cache's table
        self._stack.callback(self.state.close)
        ttl = self.config.source.catalog_ttl_s
        self.catalog = LayeredCache(MemoryCache(ttl), StateCatalogCache(self.state.url, ttl))
        self._stack.callback(self.catalog.close)
        if self.source is None:
            self.source = make_source(self.config.source, cache=self.catalog)
            self._own_source = True
        self.saver = self._stack.enter_context(open_checkpointer(self.state.url))
        self.opened = True

    def start(self) -> None:
        """In the event loop, before the first request: the bound on concurrent runs."""
        self.limiter = anyio.CapacityLimiter(self.config.server.threads)

    def saturated(self) -> bool:
        """Runs are waiting for a thread of this worker (``server.threads`` are all busy)."""
        return self.limiter is not None and self.limiter.statistics().tasks_waiting > 0

    def close(self) -> None:
        self.draining = True
        self.runs.cancel_all("the server is shutting down")
        self._stack.close()
        if self._own_source and self.source is not None:
            self.source.close()

    # -- per run ----------------------------------------------------------------------------
    def deps(self, control: Control, *, use_llm: bool = True) -> AgentDeps:
        """The agent's dependencies for one run: the shared source seen through the run's
        ``Control`` (so an abandoned run stops), "now", the LLM settings."""
        assert self.source is not None, "ServeContext.open() first"
        llm = self.config.llm if use_llm and self.config.llm.enabled else None
        return AgentDeps(source=WatchedSource(self.source, control), now=self.now(), llm=llm,
                         catalog=self.catalog, prices=self.config.prices)

    # -- what /health and /readyz say ---------------------------------------------------------
    def health(self) -> dict:
        """The seed's ``/health`` shape."""
        llm = self.config.llm
        return {"status": "healthy", "version": version(),
                "llm_provider": llm.provider if llm.enabled else None,
                "lens_api_url": mask_url(self.config.source.lens_url)}

    def readiness(self) -> tuple[bool, dict]:
        """Blocking: can the source and the state database answer right now?

        The source is checked with a *fresh* connection (``make_source`` + ``ping``), not the
        shared one, whose catalogue caches could answer without reaching the database."""
        if self.draining:
            return False, {"status": "unavailable", "reason": "shutting down"}
        checks: dict[str, str] = {}
        try:
            probe = make_source(self.config.source) if self._own_source else self.source
            try:
                checks["source"] = probe.ping()
            finally:
                if probe is not self.source:
                    probe.close()
        except Exception as exc:  # noqa: BLE001 - reported as the reason, in one line
            return False, {"status": "unavailable", "reason": f"source: {safe_message(exc)}"}
        try:
            assert self.state is not None
            with self.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["state"] = mask_url(self.state.url) or ""
        except Exception as exc:  # noqa: BLE001
            return False, {"status": "unavailable", "reason": f"state database: {safe_message(exc)}"}
        return True, {"status": "ready", **checks}

    def data_age(self, now: datetime | None = None) -> dict:
        assert self.source is not None
        return freshness(self.source, None, now or self.now())


def safe_message(exc: BaseException) -> str:
    """One line for a client: our own errors' messages (written without secrets), else only
    the type of the failure (a driver's message may quote a connection string)."""
    if isinstance(exc, GpureportError):
        return one_line(exc)
    return f"{type(exc).__name__} (details in the server log)"


__all__ = ["ServeContext", "clock", "safe_message", "version", "READY_TIMEOUT_S"]
