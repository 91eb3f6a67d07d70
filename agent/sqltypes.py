"""Column types that read the same on SQLite and PostgreSQL, for the Lens tables
(``agent.sources.schema``) and gpureport's state database (``reporter.statedb.models``).

The PostgreSQL types are looked up when a PostgreSQL dialect asks for them: importing
``sqlalchemy.dialects.postgresql`` up front costs every SQLite process (the embedded store,
``gpureport ask`` on the demo) ~40 ms of start-up for types it never uses.
"""

from __future__ import annotations

from sqlalchemy import JSON, Float
from sqlalchemy.types import TypeDecorator


class DoublePrecision(TypeDecorator):
    """double precision on PostgreSQL, REAL (8-byte) on SQLite."""

    impl = Float(53)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

            return DOUBLE_PRECISION()
        return Float(53)


class JsonDocument(TypeDecorator):
    """jsonb on PostgreSQL, JSON text on SQLite; the JSON comparator (``col[key].as_string()``)
    works on both."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return JSONB()
        return JSON()
