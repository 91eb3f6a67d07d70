"""Shared fixtures: a fixed clock, no stray configuration, isolated homes, demo stores built once
per session, configuration files, and real PostgreSQL databases.

* The clock: ``NOW`` (a Thursday) for everything, ``MONDAY`` for the reports' "last week".
  ``tests.cli.run`` sets ``GPUREPORT_NOW=NOW`` unless a test says otherwise.
* No test sees the developer's configuration: ``GPUREPORT_*``, ``LLM_*``, ``LENS_*``, ``SMTP_*``,
  ``STORAGE_*``, ``PG_*``, ``PROMETHEUS_*``, ``SLACK_*`` and ``TEAMS_*`` variables are removed for
  the whole session.
* ``home``: an empty ``GPUREPORT_HOME`` under the test's tmp_path, which is also the working
  directory.
* ``demo_store`` / ``demo_db``: the small demo profile (seed 42, now = NOW) generated once per
  session into a SQLite file; ``monday_demo_store`` the same at MONDAY. They are shared: a test
  that writes to a demo store takes ``demo_copy`` (a file copy) instead, and a test that writes
  to the shared file fails. ``demo_pg``: the same rows in PostgreSQL, once per session
  (``clone_pg_database`` copies it for a test that writes).
* ``gaps_store``: the demo store with holes a real collector leaves (``GAPS`` below: gpu-west
  has no rows in ISO week 2026-W45, gpu-lab's data starts on 2026-11-02), built once per
  session, shared and read only like ``demo_store``.
* ``config_file``: writes a YAML config for ``--config``.
* Process-wide state starts fresh for every test, as in a new process: the metric families of
  ``reporter.metrics`` are emptied and the log redaction's secrets given back
  (``process_state_starts_fresh``). Without it, a test that ran ``alerts check`` in-process
  showed its notifications in a later test's ``/metrics`` (the in-process ``serve`` of
  test_serve_process's Prometheus scrape read test_logs' alerts).
* PostgreSQL is the server on 127.0.0.1:5432 (trust auth, user ``postgres``) that .ci/run starts;
  ``pg_url`` and ``create_pg_database`` make uniquely named databases, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

PG_ADMIN_URL = os.environ.get("GPUREPORT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# A Thursday: "this week" is Mon 2026-11-16 00:00 .. now, the demo's scripted drop starts that Monday.
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=timezone.utc)
NOW_ISO = "2026-11-19T12:00:00Z"
# The Monday after: "last week" is 2026-W47, the week of the scripted drop (reports, schedules).
MONDAY = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)
MONDAY_ISO = "2026-11-23T06:00:00Z"

# Environment variables that configure gpureport (reporter/config.py's ENV_MAP, GPUREPORT_HOME,
# GPUREPORT_NOW ...), and the ones that configure the tests themselves.
CONFIG_ENV_PREFIXES = ("GPUREPORT_", "LLM_", "LENS_", "SMTP_", "STORAGE_", "PG_", "PROMETHEUS_",
                       "SLACK_", "TEAMS_")
TEST_ENV = ("GPUREPORT_TEST_PG", "GPUREPORT_ALERTMANAGER")


@pytest.fixture(scope="session", autouse=True)
def no_stray_configuration():
    """Whatever the developer's shell configures for gpureport, no test sees it."""
    mp = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.startswith(CONFIG_ENV_PREFIXES) and name not in TEST_ENV:
            mp.delenv(name)
    yield
    mp.undo()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An isolated, empty GPUREPORT_HOME; the test runs with tmp_path as working directory."""
    monkeypatch.setenv("GPUREPORT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


@pytest.fixture
def config_file(tmp_path):
    """``config_file(text_or_dict, name="config.yaml") -> Path``: a YAML config for ``--config``.

    Not named ``gpureport.yaml``, which would be picked up from the working directory.
    """
    import yaml

    def write(content: str | dict, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
        return path

    return write


# -- demo stores ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoStore:
    """A generated demo store: its SQLite file, the generator's summary and progress messages."""

    path: Path
    summary: Any  # reporter.demo.DemoSummary
    progress: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


_SHARED_STORES: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime_ns) when generated


def _generate_demo(tmp_path_factory, now: datetime, name: str) -> DemoStore:
    from reporter.demo import generate

    path = tmp_path_factory.mktemp(name) / "demo.db"
    messages: list[str] = []
    summary = generate(f"sqlite:///{path}", seed=42, profile="small", now=now,
                       progress=messages.append)
    stat = path.stat()
    _SHARED_STORES[path] = (stat.st_size, stat.st_mtime_ns)
    return DemoStore(path, summary, tuple(messages))


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> DemoStore:
    """The small demo profile (seed 42, now = NOW) in a SQLite file, built once per session."""
    return _generate_demo(tmp_path_factory, NOW, "demo")


@pytest.fixture(scope="session")
def demo_db(demo_store) -> str:
    """The URL of the shared demo store (read only: tests that write take ``demo_copy``)."""
    return demo_store.url


@pytest.fixture(scope="session")
def monday_demo_store(tmp_path_factory) -> DemoStore:
    """The same demo profile generated at MONDAY 06:00 (last week = the scenario week)."""
    return _generate_demo(tmp_path_factory, MONDAY, "demo-monday")


@pytest.fixture
def demo_copy(demo_store, tmp_path) -> str:
    """A private copy of the shared demo store (URL), for tests that change the data."""
    dst = tmp_path / "demo-copy.db"
    shutil.copyfile(demo_store.path, dst)
    return f"sqlite:///{dst}"


# The holes in ``gaps_store``: cluster -> [start, end) of the hours whose rows were deleted (naive
# UTC, the form the SQLite store keeps). The demo's hourly data runs from Mon 2026-10-19 00:00 to
# NOW (Thu 2026-11-19 12:00, exclusive): 756 hours per cluster. After the holes, by hand:
#   gpu-east  756 hours, Oct 19 00:00 .. Nov 19 12:00 (untouched)
#   gpu-west  588 hours: Oct 19 .. Nov 2 (336 h) and Nov 9 .. Nov 19 12:00 (252 h); W45 empty
#   gpu-lab   420 hours: Nov 2 00:00 .. Nov 19 12:00 (its first 14 days are gone)
# e.g. "gpu-west, last 30 days" = [Oct 20 12:00, Nov 19 12:00) has 552 of 720 hours (23 of 30
# days); "gpu-lab, this month" has 420 of 444 hours (17.5 of 18.5 days, 94.6 %); cv-team is
# still in both gpu-east and gpu-west.
GAPS = {
    "gpu-west": (datetime(2026, 11, 2), datetime(2026, 11, 9)),
    "gpu-lab": (datetime(2026, 10, 19), datetime(2026, 11, 2)),
}
HOURLY_TABLES = ("cluster_gpu_hourly_stats", "namespace_gpu_hourly_stats",
                 "label_gpu_hourly_stats", "workload_gpu_hourly_stats")


@pytest.fixture(scope="session")
def gaps_store(demo_store, tmp_path_factory) -> DemoStore:
    """The shared demo store with the holes of ``GAPS``: every hourly row (cluster, namespace,
    label, workload) and every allocation snapshot of that cluster in that span is deleted, as
    if the collector had been down. ``gpu_workload`` (no cluster column, lens.md §8) is kept: the
    workloads existed, only their statistics are missing. Built once per session; read only."""
    import sqlite3

    path = tmp_path_factory.mktemp("gaps") / "gaps.db"
    shutil.copyfile(demo_store.path, path)
    con = sqlite3.connect(path)
    try:
        with con:
            for cluster, (start, end) in GAPS.items():
                span = (cluster, f"{start:%Y-%m-%d %H:%M:%S.%f}", f"{end:%Y-%m-%d %H:%M:%S.%f}")
                for table in HOURLY_TABLES:
                    con.execute(f"DELETE FROM {table} WHERE cluster_name = ? "
                                "AND stat_hour >= ? AND stat_hour < ?", span)
                con.execute("DELETE FROM gpu_allocation_snapshots WHERE cluster_name = ? "
                            "AND snapshot_time >= ? AND snapshot_time < ?", span)
        con.execute("VACUUM")
    finally:
        con.close()
    stat = path.stat()
    _SHARED_STORES[path] = (stat.st_size, stat.st_mtime_ns)
    return DemoStore(path, demo_store.summary, demo_store.progress)


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///`` URL."""
    return Path(url.removeprefix("sqlite:///"))


@pytest.fixture(autouse=True)
def shared_demo_stores_stay_unchanged(request):
    """Fail the test that wrote to a shared demo store (others would read its changes)."""
    yield
    for path, (size, mtime) in list(_SHARED_STORES.items()):
        stat = path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime):
            _SHARED_STORES[path] = (stat.st_size, stat.st_mtime_ns)
            pytest.fail(f"{request.node.nodeid} wrote to the shared demo store {path}; "
                        f"tests that change data use the demo_copy fixture", pytrace=False)


@pytest.fixture(autouse=True)
def process_state_starts_fresh(monkeypatch):
    """The module globals a run counts into or adds to start as a new process has them: every
    metric family of ``reporter.metrics`` (one registry per process, exposed by any
    ``serve`` or ``scheduler run --metrics-port`` in this process) without samples or at 0, and the log
    redaction's extra secrets (``reporter.logs.add_secrets``) restored after the test."""
    import sys

    metrics = sys.modules.get("reporter.metrics")  # not imported yet: nothing counted yet
    if metrics is not None:
        from prometheus_client.metrics import MetricWrapperBase

        for family in vars(metrics).values():
            if isinstance(family, MetricWrapperBase):
                if family._labelnames:
                    family.clear()
                elif hasattr(family, "_value"):  # an unlabelled counter holds its value itself
                    family._value.set(0)
    from reporter import logs

    monkeypatch.setattr(logs, "_secrets", set(logs._secrets))
    yield


@pytest.fixture(autouse=True)
def logger_levels_are_restored():
    """A test that configures logging (``reporter.logs.configure`` quiets httpx & co.) gives the
    levels back, so the next test's caplog sees what a fresh process would log."""
    import logging

    def levels():
        return {name: lg.level for name, lg in logging.Logger.manager.loggerDict.items()
                if isinstance(lg, logging.Logger)}

    before = levels()
    yield
    for name, level in levels().items():
        if before.get(name, logging.NOTSET) != level:
            logging.getLogger(name).setLevel(before.get(name, logging.NOTSET))


# -- PostgreSQL -----------------------------------------------------------------------------------

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


def clone_pg_database(url: str, prefix: str = "gr_clone") -> str:
    """A new database that is a copy of ``url`` (``CREATE DATABASE ... TEMPLATE``); drop it with
    ``drop_pg_database``. Idle connections to ``url`` left by earlier tests are closed first."""
    from sqlalchemy import text

    source = url.rsplit("/", 1)[1]
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    eng = _admin_engine()
    with eng.connect() as c:
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": source})
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
    eng.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


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
def demo_pg() -> str:
    """The same demo data (seed 42, now = NOW) generated into PostgreSQL once per session — the
    generator writes the same rows there as into SQLite (test_demo checks it). Read only: a
    test that writes takes ``clone_pg_database(demo_pg)``."""
    from reporter.demo import generate

    url = create_pg_database("gr_demo")
    generate(url, seed=42, profile="small", now=NOW)
    yield url
    drop_pg_database(url)
