"""Conversation sessions: a LangGraph checkpointer in the state database.

``--session ID`` keeps the graph state (the previous turn's understanding) under thread ``ID`` so
that a follow-up in a *separate process* ("and last week?") resolves against the last turn.
SQLite and PostgreSQL are both supported, using LangGraph's own savers and their tables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url


@contextlib.contextmanager
def checkpointer(state_url: str) -> Iterator[object]:
    url = make_url(state_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        path = url.database or ":memory:"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        try:
            saver = SqliteSaver(conn)
            saver.setup()
            yield saver
        finally:
            conn.close()
    elif backend == "postgresql":
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=0, row_factory=dict_row,
                             connect_timeout=10) as conn:
            saver = PostgresSaver(conn)
            saver.setup()
            yield saver
    else:
        raise ValueError(f"sessions need a SQLite or PostgreSQL state database, not {backend}")
