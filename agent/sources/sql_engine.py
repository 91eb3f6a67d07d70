"""Connecting to the Lens databases read-only, and saying what went wrong in one line.

Split from ``sql.py`` so that the source itself is only which statements run where: here is how
an engine is made (SQLite's pool and text decoding, a server's pre-ping), which table a driver
error says is missing, and the decorator that turns driver errors into ``SourceError``s naming
the database.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from agent.errors import SourceError
from agent.sources import schema as s
from agent.text import one_line

SQLITE_POOL = 32  # pooled connections to one SQLite file (a connection is a file handle)


def _decode_replacing(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def read_only_engine(url: str) -> Engine:
    """An engine that only reads. A database server may restart under a long-lived process
    (the scheduler, the HTTP API), so pooled server connections are pinged before use; a
    SQLite file has no server to lose, and no ping is paid per query."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        path = u.database
        if path and path != ":memory:" and not Path(path).exists():
            raise SourceError(f"database {path} does not exist — run `gpureport demo` to create "
                              "the embedded store, or set source.database_url")
        # Enough pooled connections for every call in flight (the service's runs, each with a
        # few calls at once): an overflow connection is closed on return, and the next one
        # opened pays SQLite's schema parse again (about a millisecond of CPU per query).
        engine = create_engine(url, pool_size=SQLITE_POOL, max_overflow=SQLITE_POOL)

        @event.listens_for(engine, "connect")
        def _text_factory(dbapi_conn, _record) -> None:  # pragma: no branch - event hook
            dbapi_conn.text_factory = _decode_replacing

        return engine
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if u.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 10}
    return create_engine(url, **kwargs)


_MISSING_TABLE = (re.compile(r"no such table: (\w+)"),  # SQLite
                  re.compile(r'relation "(?:\w+\.)?(\w+)" does not exist'))  # PostgreSQL


def missing_table(exc: BaseException) -> str | None:
    """The table a driver error says does not exist (SQLite, PostgreSQL), else None."""
    text = str(getattr(exc, "orig", None) or exc)
    for pattern in _MISSING_TABLE:
        m = pattern.search(text)
        if m:
            return m.group(1)
    return None


def guard(fn):
    """Turn driver errors into one-line ``SourceError``s naming the database.

    A missing Lens table is the common first-run mistake (an empty SQLite file, a fresh
    PostgreSQL database, the wrong database): it gets its own line that says what to do,
    instead of the driver's "no such table"."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except SourceError:
            raise
        except SQLAlchemyError as exc:
            table = missing_table(exc)
            if table is not None and table in s.metadata.tables:
                what = ("has no Lens tables (is it empty?)" if not self._has_lens_tables()
                        else f"has no Lens table {table}")
                raise SourceError(
                    f"database {self.describe()} {what}: run `gpureport demo` to fill it with "
                    "demo data, or set source.database_url to a Lens database") from None
            raise SourceError(f"database {self.describe()}: {one_line(exc)}") from None

    return wrapper


@dataclass
class Target:
    engine: Engine
    cluster_filter: str | None  # value of cluster_name to filter on, None = no filter
    cluster: str | None = None  # the configured cluster a database of its own belongs to
