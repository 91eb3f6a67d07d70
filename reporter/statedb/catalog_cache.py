"""The agent's name cache (``agent.cache.CatalogCache``) in the state database.

``gpureport ask`` is one process per question; caching the catalogues of real names
(clusters, namespaces, users, label keys, workload lookups) in its memory would help nobody.
In the state database the next process — or another replica of the scheduler or the HTTP
API — finds them for ``ttl_s`` seconds (config ``source.catalog_ttl_s``).

Decisions:

* Start-up stays light: the engine is created on first use, and the schema is never migrated
  here (Alembic has no place on the rule path of ``ask``). A state database without the table
  — new, or from before revision ``0002_catalog`` — is a cache that always misses (the names
  are fetched, as without a cache) until a command that opens the state database
  (``run``, ``scheduler run``, ``history``, ``doctor``, ``serve``, ``ask --session``) has
  brought it to head.
* A write replaces the key's row (delete + insert in one transaction; on SQLite under
  ``BEGIN IMMEDIATE``). Two processes storing one key at once: the second insert fails on the
  primary key and is dropped — the other value is as fresh. Each write also removes rows older
  than a day, so keys of past hours do not pile up.
* Keys longer than the column are shortened to a prefix plus their SHA-256.
* Any database failure is a ``StateError`` (the agent then fetches the names itself).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from agent.cache import DEFAULT_TTL_S, KEEP
from agent.errors import StateError
from agent.text import mask_url, one_line
from reporter.statedb import _make_engine, normalize_url
from reporter.statedb.models import catalog_cache

log = logging.getLogger(__name__)

KEY_CHARS = 512


def db_key(key: str) -> str:
    if len(key) <= KEY_CHARS:
        return key
    return key[:KEY_CHARS - 65] + "#" + hashlib.sha256(key.encode("utf-8")).hexdigest()


class StateCatalogCache:
    """``CatalogCache`` over the ``catalog_cache`` table of the state database at ``url``."""

    def __init__(self, url: str, ttl_s: float = DEFAULT_TTL_S):
        self.url = normalize_url(url)
        self.ttl_s = float(ttl_s)
        self._engine: Engine | None = None
        self._missing = False  # the table is not there (not migrated yet): always a miss

    def _run(self, work, missing):
        """``work(engine)``, or ``missing`` when the table is not there; errors as StateError."""
        if self._missing:
            return missing
        try:
            if self._engine is None:
                self._engine = _make_engine(self.url)
            try:
                return work(self._engine)
            except DBAPIError:
                if inspect(self._engine).has_table(catalog_cache.name):
                    raise
                log.debug("state database %s has no catalog_cache table yet: not caching",
                          mask_url(self.url))
                self._missing = True
                return missing
        except (SQLAlchemyError, OSError) as exc:
            raise StateError(f"state database {mask_url(self.url)}: {one_line(exc)}") from None

    def get(self, key: str) -> tuple[Any, datetime] | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: list[str]) -> dict[str, tuple[Any, datetime]]:
        by_db = {db_key(k): k for k in keys}

        def read(engine: Engine) -> dict[str, tuple[Any, datetime]]:
            c = catalog_cache.c
            with engine.begin() as conn:
                rows = conn.execute(select(c.key, c.value, c.stored_at)
                                    .where(c.key.in_(list(by_db)))).all()
            return {by_db[r.key]: (r.value, r.stored_at) for r in rows if r.key in by_db}

        return self._run(read, {}) if by_db else {}

    def put(self, key: str, value: Any, stored_at: datetime) -> None:
        self.put_many({key: value}, stored_at)

    def put_many(self, values: dict[str, Any], stored_at: datetime) -> None:
        rows = [{"key": db_key(k), "value": v, "stored_at": stored_at} for k, v in values.items()]
        c = catalog_cache.c

        def write(engine: Engine) -> None:
            try:
                with engine.begin() as conn:
                    conn.execute(delete(catalog_cache).where(
                        c.key.in_([r["key"] for r in rows]) | (c.stored_at < stored_at - KEEP)))
                    conn.execute(insert(catalog_cache), rows)
            except IntegrityError:
                pass  # another process stored these keys just now: its values are as fresh

        if rows:
            self._run(write, None)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
