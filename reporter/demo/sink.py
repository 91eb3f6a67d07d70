"""Bulk inserts for the demo writer: ``executemany`` on SQLite, ``COPY`` on PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Sequence


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class Sink:
    """Bulk inserts, one transaction per call: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    Values arrive already in the driver's form (see ``ts``/``tstz``), because bypassing
    SQLAlchemy's per-row type processing is what makes a million rows take seconds.
    """

    def __init__(self, engine):
        from sqlalchemy import DateTime

        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.rows: dict[str, int] = {}
        self._sql: dict[tuple, str] = {}
        if not self.pg:
            self._dt = DateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect)

    def ts(self, dt: datetime) -> Any:
        """A naive-UTC timestamp parameter (SQLite stores SQLAlchemy's text form)."""
        return dt if self.pg else self._dt(dt)

    def tstz(self, dt: datetime | None) -> Any:
        if dt is None:
            return None
        return dt if self.pg else self._dt(dt.replace(tzinfo=None))

    def write(self, batches: Sequence[tuple[Any, Sequence[str], list[tuple]]]) -> None:
        batches = [b for b in batches if b[2]]
        if not batches:
            return
        with self.engine.begin() as conn:
            for table, cols, rows in batches:
                if self.pg:
                    self._copy(conn, table, cols, rows)
                else:
                    key = (table.name, tuple(cols))
                    if key not in self._sql:
                        self._sql[key] = str(table.insert().compile(
                            dialect=self.engine.dialect, column_keys=list(cols)))
                    conn.exec_driver_sql(self._sql[key], rows)
                self.rows[table.name] = self.rows.get(table.name, 0) + len(rows)

    @staticmethod
    def _copy(conn, table, cols, rows) -> None:
        from psycopg import sql

        raw = conn.connection.driver_connection
        stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in cols))
        with raw.cursor() as cur, cur.copy(stmt) as cp:
            for r in rows:
                cp.write_row(r)

__all__ = ["Sink", "dumps"]
