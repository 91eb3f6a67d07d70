"""What keeps a question cheap: one pool of worker threads per process (``agent.workers``),
patterns compiled on first use (``agent.lazy_re``), the user lookup kept to the scope's
namespace (``agent.sources.sql_queries.user_join``), and tool results left out of checkpoints."""

from __future__ import annotations

import re
import threading
import time

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import create_engine, func, select
from sqlalchemy.dialects import postgresql

from agent import workers
from agent.ask import AgentDeps, ask
from agent.graph.build import compiled, memory_saver
from agent.graph.state import serializer
from agent.lazy_re import LazyPattern, lazy
from agent.settings import SourceSettings
from agent.sources import make_source, sql_queries as q
from agent.sources.base import Scope
from tests.conftest import NOW


@pytest.fixture
def deps(demo_db):
    source = make_source(SourceSettings(database_url=demo_db))
    yield AgentDeps(source, NOW)
    source.close()


# -- agent.workers ----------------------------------------------------------------------------
def test_run_all_yields_every_result_with_its_index_and_keeps_to_the_limit():
    running, peak, lock = 0, 0, threading.Lock()

    def call(i: int):
        def run():
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.02)
            with lock:
                running -= 1
            return i * i
        return run

    got = dict(workers.run_all([call(i) for i in range(7)], limit=3))
    assert got == {i: i * i for i in range(7)}
    assert peak <= 3


def test_run_all_raises_the_first_failure_and_starts_nothing_after_it():
    started: list[int] = []

    def call(i: int):
        def run():
            started.append(i)
            if i == 0:
                raise ValueError("source went away")
            time.sleep(0.05)
            return i
        return run

    with pytest.raises(ValueError, match="source went away"):
        list(workers.run_all([call(i) for i in range(6)], limit=2))
    assert sorted(started) == [0, 1]  # the two first; the other four never ran


def test_a_single_call_runs_on_the_callers_thread():
    assert list(workers.run_all([threading.current_thread], limit=4)) == \
        [(0, threading.current_thread())]


class _Source:
    def __init__(self, parallel: bool) -> None:
        self.parallel_calls = parallel


def test_a_source_that_waits_on_no_network_has_its_calls_run_one_after_another():
    """SQLite's queries are this process's CPU: overlapping them only adds thread switches,
    so within ``parallel_calls`` of such a source a batch runs in order, on the caller's
    thread; a source that waits on a network keeps its calls overlapping."""
    order: list[tuple[int, str]] = []

    def call(i: int):
        def run():
            order.append((i, threading.current_thread().name))
            time.sleep(0.02)
            return i
        return run

    me = threading.current_thread().name
    with workers.parallel_calls(_Source(parallel=False)):
        assert list(workers.run_all([call(i) for i in range(4)], limit=4)) == \
            [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert order == [(i, me) for i in range(4)]
    order.clear()
    with workers.parallel_calls(_Source(parallel=True)):
        list(workers.run_all([call(i) for i in range(4)], limit=4))
    assert all(thread != me for _, thread in order)
    with workers.parallel_calls(object()):  # a source that does not say: overlapping
        list(workers.run_all([call(i) for i in range(2)], limit=2))
    assert all(thread != me for _, thread in order)


def test_a_sqlite_source_runs_its_calls_in_turn_and_a_postgresql_one_overlaps(demo_db, pg_url):
    sqlite = make_source(SourceSettings(database_url=demo_db))
    server = make_source(SourceSettings(database_url=pg_url))
    per_cluster = make_source(SourceSettings(database_url=demo_db,
                                             databases={"a": demo_db, "b": pg_url}))
    try:
        assert (sqlite.parallel_calls, server.parallel_calls, per_cluster.parallel_calls) == \
            (False, True, True)
    finally:
        for source in (sqlite, server, per_cluster):
            source.close()


def test_questions_reuse_the_process_threads_instead_of_starting_new_ones(deps):
    compiled(memory_saver())  # LangGraph's runs now take their threads from the pool
    ask("Why is ml-team's utilization lower this week than last week?", deps, use_llm=False)
    started = 0
    original = threading.Thread.start

    def counting_start(self, *args, **kwargs):
        nonlocal started
        started += 1
        return original(self, *args, **kwargs)

    threading.Thread.start = counting_start
    try:
        for _ in range(3):
            answer = ask("Why is ml-team's utilization lower this week than last week?", deps,
                         use_llm=False)
            assert answer.intent == "drilldown" and "ml-team" in answer.headline
    finally:
        threading.Thread.start = original
    # a pool per run started ~8 threads per question (nodes, stream waiter, tool calls,
    # source fan-out); the shared pool's threads are already there
    assert started <= 2


# -- agent.lazy_re ----------------------------------------------------------------------------
def test_a_lazy_pattern_compiles_on_first_use_and_then_behaves_as_the_pattern():
    p = lazy(r"(\d+)\s?(pp|%)", re.I)
    assert isinstance(p, LazyPattern) and p._compiled is None
    assert p.search("fell by 12 PP").groups() == ("12", "PP")
    assert p._compiled is not None
    assert [m.group(1) for m in p.finditer("3% and 4 pp")] == ["3", "4"]
    assert p.pattern == r"(\d+)\s?(pp|%)" and p.flags & re.I
    assert p.sub("N", "up 5%") == "up N"


# -- the user lookup ----------------------------------------------------------------------------
def test_users_and_workloads_of_a_namespace_are_the_same_with_the_lookup_kept_to_it(demo_db):
    """``user_join(…, namespace)`` reads only that namespace's top-level workloads; the rows
    it gives are exactly those of the lookup over every workload."""
    start, end = NOW.replace(day=9, hour=0), NOW
    w = q.s.workload_hourly
    engine = create_engine(demo_db)
    try:
        with engine.connect() as conn:
            for namespace in ("ml-team", "cv-team", "inference"):
                conds = q.where(w, "gpu-east", start, end, w.c.namespace == namespace)
                rows = {}
                for kept in (None, namespace):
                    user, joined = q.user_join("primus-safe.user.name", kept)
                    stmt = (select(w.c.workload_name, user.label("u")).select_from(joined)
                            .where(*conds).group_by(w.c.workload_name, user))
                    rows[kept] = sorted(conn.execute(stmt).all())
                assert rows[namespace] == rows[None] and rows[None]
                children = q.workload_children(Scope(kind="namespace", cluster="gpu-east",
                                                     namespace=namespace),
                                               "user", "primus-safe.user.name", "gpu-east",
                                               start, end)
                assert "gpu_workload.namespace = " in str(children)
    finally:
        engine.dispose()


def test_a_namespaces_workloads_are_read_for_the_period_only_not_its_whole_history(demo_db):
    """Offered the cluster as well, SQLite would read the namespace's workloads through the
    unique (cluster, namespace, workload, hour) key — every hour of its history — for the
    key's order; the cluster term is taken out of index choice on SQLite only (unary ``+``), so
    (namespace, stat_hour) reads the period's rows. The rows are the same either way."""
    start, end = NOW.replace(day=16, hour=0), NOW
    scope = Scope(kind="namespace", cluster="gpu-east", namespace="ml-team")
    stmt = q.workload_children(scope, "workload", "primus-safe.user.name", "gpu-east", start, end)
    engine = create_engine(demo_db)
    try:
        sql = stmt.compile(engine)
        params = tuple(sql.params[name] for name in sql.positiontup)
        with engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(sql), params))
            assert "idx_workload_gpu_hourly_ns_hour (namespace=? AND stat_hour>? AND stat_hour<?)" \
                in plan, plan
            w = q.s.workload_hourly
            plain = (select(w.c.workload_name, func.sum(w.c.allocated_gpu_count))
                     .where(*q.where(w, "gpu-east", start, end, w.c.namespace == "ml-team"))
                     .group_by(w.c.workload_name))
            assert sorted((r.workload_name, r.gpu_hours) for r in conn.execute(stmt)) == \
                sorted(tuple(r) for r in conn.execute(plain))
    finally:
        engine.dispose()
    assert "+workload_gpu_hourly_stats.cluster_name" in str(stmt.compile(engine))
    assert "+" not in str(stmt.compile(dialect=postgresql.dialect())).split("WHERE")[1]


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_namespaces_users_and_workloads_from_one_scan_are_the_two_listings(db, demo_db,
                                                                              request):
    """A drill-down reads a namespace's users and its workloads; one scan grouped by
    (workload, user) gives both, equal to the two ``children_stats`` listings (sums, counts,
    kinds, users) on SQLite and PostgreSQL."""
    url = demo_db if db == "sqlite" else request.getfixturevalue("demo_pg")
    source = make_source(SourceSettings(database_url=url))
    exact = ("name", "rows", "workloads", "namespace", "kind", "user", "cluster")
    try:
        for namespace in ("ml-team", "cv-team", "inference"):
            scope = Scope(kind="namespace", cluster="gpu-east", namespace=namespace)
            for start, end in ((NOW.replace(day=16, hour=0), NOW),
                               (NOW.replace(day=9, hour=0), NOW.replace(day=12))):
                both = source.users_and_workloads(scope, start, end)
                apart = (source.children_stats(scope, "user", start, end),
                         source.children_stats(scope, "workload", start, end))
                for one, two in zip(both, apart):
                    assert [tuple(getattr(st, f) for f in exact) for st in one] == \
                        [tuple(getattr(st, f) for f in exact) for st in two] and one
                    for a, b in zip(one, two):
                        assert (a.gpu_hours, a.utilized_gpu_hours, a.utilization_sum,
                                a.capacity_gpu_hours) == pytest.approx(
                            (b.gpu_hours, b.utilized_gpu_hours, b.utilization_sum,
                             b.capacity_gpu_hours))
    finally:
        source.close()


# -- checkpoints --------------------------------------------------------------------------------
def test_a_saved_turn_keeps_its_answer_but_not_the_tools_raw_results(deps):
    saver = InMemorySaver(serde=serializer())  # this test's own conversation store
    answer = ask("What is the GPU utilization trend over the last 7 days across all clusters?",
                 deps, session="perf-results", checkpointer=saver, use_llm=False)
    values = compiled(saver).get_state({"configurable": {"thread_id": "perf-results"}}).values
    assert values["answer"].headline == answer.headline
    assert values["data_collected"] and "results" not in values
