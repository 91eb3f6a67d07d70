"""The catalogue of real names (agent/catalog.py), its cache (agent/cache.py, and the state
database's, reporter/statedb/catalog_cache.py), and workload names looked up, not listed.

Fetches are counted as the SQL statements the source really sends (SQLAlchemy's
``before_cursor_execute``), on the demo store in SQLite and PostgreSQL; time is a clock the
test moves, not sleeps.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine

from agent.ask import ask
from agent.cache import MemoryCache
from agent.catalog import Catalog
from agent.deps import AgentDeps
from agent.sources.sql import SqlSource
from agent.understand.rules import understand
from reporter.app import AppContext
from reporter.statedb import head_revision, open_state
from reporter.statedb.catalog_cache import KEY_CHARS, StateCatalogCache
from tests.conftest import NOW

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)  # the wall clock the cache sees


class Clock:
    def __init__(self, at: datetime = T0):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def statements():
    """Every SQL statement sent while the test runs (all engines)."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield sent
    event.remove(Engine, "before_cursor_execute", record)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, demo_db):
    return demo_db if request.param == "sqlite" else request.getfixturevalue("demo_pg")


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    return request.getfixturevalue("pg_url")


def add_namespace(url: str, cluster: str, namespace: str, hour: datetime) -> None:
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text("INSERT INTO namespace_gpu_hourly_stats (cluster_name, namespace, stat_hour,"
                       " allocated_gpu_count, avg_utilization) VALUES (:c, :n, :h, 1, 50)"),
                  {"c": cluster, "n": namespace, "h": hour.replace(tzinfo=None)})
    eng.dispose()


# == the TTL: fetched once, served while fresh, refreshed after =================================
def test_small_catalogues_are_fetched_once_per_ttl_then_refreshed(demo_copy, statements):
    cache, clock = MemoryCache(ttl_s=300), Clock()
    record: list = []
    first = Catalog(SqlSource(demo_copy), NOW, cache=cache, record=record, clock=clock)
    namespaces = first.namespaces
    assert "ml-team" in namespaces and statements
    assert [r["tool"] for r in record] == ["get_available_namespaces"]  # one statement

    add_namespace(demo_copy, "gpu-east", "fresh-team", NOW - timedelta(hours=2))
    statements.clear()
    clock.advance(299)
    again = Catalog(SqlSource(demo_copy), NOW, cache=cache, clock=clock)  # a new process
    assert again.namespaces == namespaces and "fresh-team" not in again.namespaces
    assert statements == []  # served from the cache: no SQL at all

    clock.advance(2)  # 301 s: stale, fetched again, never served
    later = Catalog(SqlSource(demo_copy), NOW, cache=cache, clock=clock)
    assert "fresh-team" in later.namespaces
    assert statements


def test_a_long_lived_memory_cache_drops_day_old_entries():
    cache = MemoryCache()
    for i in range(255):
        cache.put(f"old{i}", [i], T0)
    cache.put("new", [1], T0 + timedelta(days=1, seconds=1))  # the 256th write prunes
    assert cache.get("old0") is None and cache.get("new") == ([1], T0 + timedelta(days=1, seconds=1))


def test_no_ttl_means_every_question_fetches(demo_db, statements):
    cache = MemoryCache(ttl_s=0)
    Catalog(SqlSource(demo_db), NOW, cache=cache).users
    statements.clear()
    Catalog(SqlSource(demo_db), NOW, cache=cache).users
    assert statements


def test_another_now_or_another_store_does_not_share_entries(demo_db, demo_copy, statements):
    cache = MemoryCache()
    Catalog(SqlSource(demo_db), NOW, cache=cache).clusters
    statements.clear()
    Catalog(SqlSource(demo_db), NOW + timedelta(minutes=30), cache=cache).clusters  # same hour
    assert statements == []
    Catalog(SqlSource(demo_db), NOW + timedelta(hours=1), cache=cache).clusters
    assert len(statements) == 1
    Catalog(SqlSource(demo_copy), NOW, cache=cache).clusters
    assert len(statements) == 2


def test_an_entry_stored_by_a_clock_ahead_is_not_trusted(demo_db, statements):
    cache, clock = MemoryCache(), Clock()
    Catalog(SqlSource(demo_db), NOW, cache=cache, clock=Clock(T0 + timedelta(hours=1))).clusters
    statements.clear()
    Catalog(SqlSource(demo_db), NOW, cache=cache, clock=clock).clusters
    assert len(statements) == 1


# == only what the question needs ==============================================================
def fetched(question: str, url: str) -> dict[str, dict]:
    """What a catalogue fetched to understand ``question``: tool -> args (``tool:key`` for the
    values of one label key)."""
    record: list = []
    catalog = Catalog(SqlSource(url), NOW, cache=MemoryCache(ttl_s=0), record=record)
    understand(question, NOW, catalog)
    return {r["tool"] + (f":{r['args']['key']}" if "key" in r["args"] else ""): r["args"]
            for r in record}


def test_the_catalogue_fetches_only_what_the_question_needs(demo_db):
    assert set(fetched("上周的利用率趋势", demo_db)) == {"get_available_clusters"}
    plain = fetched("What's the GPU utilization trend over the past few days?", demo_db)
    assert set(plain) == {"get_available_clusters", "get_available_namespaces",
                          "get_available_users", "find_workload_names"}
    # everyday words are only checked for an exact name (one IN list), never by prefix
    assert plain["find_workload_names"]["words"] == []
    assert "trend" in plain["find_workload_names"]["exact"]
    label = fetched("GPU usage of team=nlp last week", demo_db)
    assert {"get_available_dimension_keys", "get_available_dimension_values:team"} <= set(label)
    assert not any(t.startswith("get_available_dimension_values:primus") for t in label)
    named = fetched("how did ml-team and embedding-api do this week", demo_db)
    assert named["find_workload_names"]["words"] == ["embedding-api"]  # ml-team is a namespace


def test_distinct_names_walked_over_an_index_equal_a_plain_distinct(store):
    """On PostgreSQL the catalogues walk the unique indexes; on SQLite they are a DISTINCT:
    the same names either way, per cluster, also for a database that is one cluster."""
    start, end = NOW - timedelta(days=35), NOW
    eng = create_engine(store)
    with eng.connect() as c:
        rows = c.execute(text("SELECT DISTINCT cluster_name, namespace FROM "
                              "namespace_gpu_hourly_stats WHERE stat_hour >= :s AND stat_hour < :e"),
                         {"s": start.replace(tzinfo=None), "e": end.replace(tzinfo=None)}).all()
        users = c.execute(text("SELECT DISTINCT dimension_value FROM label_gpu_hourly_stats WHERE "
                               "dimension_type = 'annotation' AND dimension_key = :k AND "
                               "stat_hour >= :s AND stat_hour < :e"),
                          {"k": "primus-safe.user.name", "s": start.replace(tzinfo=None),
                           "e": end.replace(tzinfo=None)}).scalars().all()
    eng.dispose()
    want: dict[str, list[str]] = {}
    for cluster, ns in sorted(rows):
        want.setdefault(cluster, []).append(ns)
    src = SqlSource(store)
    assert src.namespaces_by_cluster(start, end) == want
    assert src.users(None, start, end) == sorted(users)
    own = SqlSource("sqlite://", databases={"east": store})  # a Lens deployment's layout
    assert own.namespaces_by_cluster(start, end) == {
        "east": sorted({ns for names in want.values() for ns in names})}
    src.close()
    own.close()


# == workload names: looked up per word ========================================================
@pytest.mark.parametrize("written", ["embedding-api", "EMBEDDING-API", "embedding_api",
                                     "embeddingapi", "embedding api", "'Embedding-API'"])
def test_exact_case_and_separator_variants_of_a_workload_resolve(store, written):
    record: list = []
    catalog = Catalog(SqlSource(store), NOW, cache=MemoryCache(ttl_s=0), record=record)
    u = understand(f"how did {written} do this week", NOW, catalog)
    assert (u.workload, u.issues) == ("embedding-api", [])
    [lookup] = [r for r in record if r["tool"] == "find_workload_names"]
    assert lookup["rows"] <= 150  # a few candidates, not the 5,500 names of the store
    assert not any(r["tool"] == "get_workload_metadata" for r in record)


def test_a_mistyped_workload_is_suggested_not_replaced(store):
    catalog = Catalog(SqlSource(store), NOW, cache=MemoryCache(ttl_s=0))
    u = understand("how did embeding-api do this week", NOW, catalog)
    assert u.workload is None
    [issue] = u.issues
    assert (issue.kind, issue.entity, issue.text) == ("unknown", "workload", "embeding-api")
    assert issue.suggestions[0] == "embedding-api"


def test_lookups_are_bounded_and_hostile_words_are_only_text(store):
    src = SqlSource(store)
    words = ["etl", "'; DROP TABLE workload_gpu_hourly_stats;--", "%", "_", "\\", "模型任务",
             "x" * 300, "evil\x1b[2Jname"]
    found = src.find_workload_names(None, NOW - timedelta(days=35), NOW, words,
                                    exact=["it's", "a%b"], limit=7)
    assert set(found) == {*words, "it's", "a%b"}
    assert 0 < len(found["etl"]) <= 2 * 7 and all(n.startswith("etl") for n in found["etl"])
    assert all(found[w] == [] for w in words[1:]) and found["a%b"] == []
    assert src.workloads(None, NOW - timedelta(days=1), NOW)  # the table is still there
    src.close()


# == the state database's cache ================================================================
def test_the_state_database_cache_round_trips_json_and_replaces(state_url):
    open_state(state_url).close()
    cache = StateCatalogCache(state_url, ttl_s=60)
    assert cache.get("k") is None
    cache.put("k", {"label": ["team"], "annotation": []}, T0)
    assert cache.get("k") == ({"label": ["team"], "annotation": []}, T0)
    cache.put("k", ["b"], T0 + timedelta(seconds=5))
    assert cache.get("k") == (["b"], T0 + timedelta(seconds=5))
    long_key = "lens API http://x/v1|2026|workloads~" + "名" * 600
    cache.put(long_key, ["w"], T0)
    assert cache.get(long_key) == (["w"], T0) and cache.get(long_key + "x") is None
    cache.put("later", [], T0 + timedelta(days=2))  # rows older than a day are dropped
    assert cache.get("k") is None and cache.get("later") == ([], T0 + timedelta(days=2))
    cache.close()
    with open_state(state_url) as db:
        assert db.revision() == head_revision()  # 0002_catalog and later
        keys = [r[0] for r in db.engine.connect().execute(text("SELECT key FROM catalog_cache"))]
        assert all(len(k) <= KEY_CHARS for k in keys)


@pytest.mark.parametrize("revision", [None, "0001"])
def test_a_state_database_not_migrated_yet_is_a_cache_that_misses(tmp_path, demo_db, revision):
    """``ask`` never migrates (no Alembic on its rule path): before any command has brought
    the state database to head, names are fetched as without a cache; afterwards, cached."""
    import sys

    from alembic import command

    from reporter.statedb import _alembic_config, _make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = _make_engine(url)
    if revision:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
    engine.dispose()
    cache = StateCatalogCache(url)
    cache.put("k", [1], T0)
    assert cache.get("k") is None
    assert "ml-team" in Catalog(SqlSource(demo_db), NOW, cache=cache).namespaces
    assert "catalog_cache" not in inspect(create_engine(url)).get_table_names()
    with open_state(url) as db:  # what `run`, `scheduler run`, `doctor`, `serve` do
        assert db.revision() == head_revision()  # 0002_catalog and later
    later = StateCatalogCache(url)
    later.put("k", [1], T0)
    assert later.get("k") == ([1], T0)
    assert "alembic" in sys.modules  # (this test imported it; the cache itself never does)


def test_processes_share_names_through_the_state_database(state_url, demo_db, statements):
    open_state(state_url).close()
    clock = Clock()
    Catalog(SqlSource(demo_db), NOW, cache=StateCatalogCache(state_url), clock=clock).namespaces
    statements.clear()
    later = Catalog(SqlSource(demo_db), NOW, cache=StateCatalogCache(state_url), clock=clock)
    assert "ml-team" in later.namespaces
    lens_tables = ("namespace_gpu_hourly_stats", "cluster_gpu_hourly_stats")
    assert not any(t in s for s in statements for t in lens_tables)  # only the cache was read


def test_an_unreachable_cache_costs_a_warning_not_the_answer(demo_db, caplog):
    cache = StateCatalogCache("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    caplog.set_level(logging.WARNING, "gpureport.cache")
    catalog = Catalog(SqlSource(demo_db), NOW, cache=cache)
    assert "ml-team" in catalog.namespaces
    assert "name cache unavailable" in caplog.text and "127.0.0.1:1" in caplog.text


def test_the_cli_hands_the_agent_the_state_database_cache(home, config_file, monkeypatch):
    cfg = config_file({"state": {"database_url": f"sqlite:///{home / 'state.db'}"},
                       "source": {"catalog_ttl_s": 42}})
    deps = AppContext(config_path=str(cfg)).agent_deps(SqlSource("sqlite://"))
    assert isinstance(deps.catalog, StateCatalogCache) and deps.catalog.ttl_s == 42
    assert deps.catalog.url.endswith("state.db")
    monkeypatch.setenv("GPUREPORT_CATALOG_TTL", "0")
    assert AppContext().agent_deps(SqlSource("sqlite://")).catalog.ttl_s == 0


# == one name that is not UTF-8 ================================================================
def test_a_name_that_is_not_utf8_does_not_break_every_question(demo_copy):
    eng = create_engine(demo_copy)
    with eng.begin() as c:  # bytes 0xff/0xfe are never UTF-8; stored as TEXT all the same
        c.execute(text("INSERT INTO namespace_gpu_hourly_stats (cluster_name, namespace, stat_hour,"
                       " allocated_gpu_count, avg_utilization) VALUES ('gpu-east', "
                       "CAST(X'6d6c2dff7465616d' AS TEXT), :h, 2, 40)"),
                  {"h": (NOW - timedelta(hours=3)).replace(tzinfo=None)})
        c.execute(text("INSERT INTO workload_gpu_hourly_stats (cluster_name, namespace, "
                       "workload_name, workload_type, stat_hour, allocated_gpu_count, "
                       "avg_utilization) VALUES ('gpu-east', 'ml-team', "
                       "CAST(X'656d62656464696e67fe' AS TEXT), 'Job', :h, 1, 10)"),
                  {"h": (NOW - timedelta(hours=3)).replace(tzinfo=None)})
    eng.dispose()
    src = SqlSource(demo_copy)
    deps = AgentDeps(source=src, now=NOW)
    listed = ask("what namespaces are there", deps, use_llm=False)
    assert "ml-\ufffdteam" in listed.figures["options"]
    trend = ask("How is ml-team doing this week?", deps, use_llm=False)
    assert not trend.needs_clarification and "ml-team" in trend.headline
    found = src.find_workload_names(None, NOW - timedelta(days=1), NOW, ["embedding"])
    assert "embedding\ufffd" in found["embedding"]
    src.close()
