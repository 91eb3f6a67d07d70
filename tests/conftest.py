"""Shared fixtures: fixed time, isolated data directories, and real PostgreSQL databases.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth, user ``postgres``) that .ci/run starts;
each fixture creates a uniquely named database and drops it afterwards.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest

PG_ADMIN_URL = os.environ.get("GPUREPORT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# A Thursday: "this week" is Mon 2026-11-16 00:00 .. now, the demo's scripted drop starts that Monday.
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=timezone.utc)
NOW_ISO = "2026-11-19T12:00:00Z"


def _admin_engine():
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def create_pg_database(prefix: str = "gr_test") -> str:
    """Create an empty PostgreSQL database and return its SQLAlchemy URL."""
    from sqlalchemy import text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    eng = _admin_engine()
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    from sqlalchemy import text

    name = url.rsplit("/", 1)[1]
    eng = _admin_engine()
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


@pytest.fixture
def pg_url():
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An isolated GPUREPORT_HOME with no stray configuration from the environment."""
    for var in ("GPUREPORT_SOURCE", "GPUREPORT_DATABASE_URL", "GPUREPORT_STATE_DATABASE_URL",
                "LENS_API_URL", "LLM_API_KEY", "LLM_BASE_URL", "LLM_MODEL", "STORAGE_BACKEND",
                "SMTP_HOST", "PROMETHEUS_URL", "GPUREPORT_NOW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GPUREPORT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> str:
    """The small demo profile (seed 42, now = NOW) in a SQLite file, built once per test run."""
    from reporter.demo import generate

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    url = f"sqlite:///{path}"
    generate(url, seed=42, profile="small", now=NOW)
    return url


def copy_lens_tables(src_url: str, dst_url: str) -> None:
    """Copy the Lens tables row for row (the demo data as a 'real' PostgreSQL Lens database)."""
    from sqlalchemy import create_engine

    from agent.sources import schema

    src, dst = create_engine(src_url), create_engine(dst_url)
    schema.metadata.create_all(dst)
    with src.connect() as r, dst.begin() as w:
        for table in schema.metadata.sorted_tables:
            rows = [dict(m) for m in r.execute(table.select()).mappings()]
            for i in range(0, len(rows), 20000):
                w.execute(table.insert(), rows[i:i + 20000])
    src.dispose()
    dst.dispose()


@pytest.fixture(scope="session")
def demo_pg(demo_db) -> str:
    """The same demo data in a PostgreSQL database (created once, dropped at the end)."""
    url = create_pg_database("gr_demo")
    copy_lens_tables(demo_db, url)
    yield url
    drop_pg_database(url)
