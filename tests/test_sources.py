"""The `sql` source (SQLite and PostgreSQL) and the `lens` source give the same figures.

Expected values are computed here from the raw rows with plain Python, following product.md §4
word for word — not by calling gpureport.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from agent.periods import baseline, this_week
from agent.sources.base import NotFound, Scope
from agent.sources.sql import SqlSource
from tests.conftest import NOW, clone_pg_database, drop_pg_database
from tests.expect import _ts, expected, raw_rows
from tests.fakes.lens_api import serve_lens

THIS_WEEK = this_week(NOW)
BEFORE = baseline(THIS_WEEK)
USER_KEY = "primus-safe.user.name"


ENTITIES = {
    "cluster": (Scope("cluster", "gpu-east"), "cluster_gpu_hourly_stats", "cluster_name = ?", ("gpu-east",)),
    "namespace": (Scope("namespace", "gpu-east", namespace="ml-team"), "namespace_gpu_hourly_stats",
                  "cluster_name = ? AND namespace = ?", ("gpu-east", "ml-team")),
    "user": (Scope("user", "gpu-east", user="user_a"), "label_gpu_hourly_stats",
             "cluster_name = ? AND dimension_type = 'annotation' AND dimension_key = ? AND dimension_value = ?",
             ("gpu-east", USER_KEY, "user_a")),
    "workload": (Scope("workload", "gpu-east", namespace="research", workload="research-notebook"),
                 "workload_gpu_hourly_stats", "cluster_name = ? AND namespace = ? AND workload_name = ?",
                 ("gpu-east", "research", "research-notebook")),
}


@pytest.fixture(params=["sqlite", "postgres", "lens"])
def source(request, demo_db):
    if request.param == "sqlite":
        src = SqlSource(demo_db)
        yield src
    elif request.param == "postgres":
        src = SqlSource(request.getfixturevalue("demo_pg"))
        yield src
    else:
        from agent.sources.lens import LensSource

        with serve_lens(demo_db) as server:
            src = LensSource(server.url)
            yield src
    src.close()


@pytest.mark.parametrize("entity", list(ENTITIES))
@pytest.mark.parametrize("period", [THIS_WEEK, BEFORE], ids=["this_week", "same_span_last_week"])
def test_period_figures_are_identical_across_sources(source, demo_db, entity, period):
    scope, table, where, args = ENTITIES[entity]
    want = expected(demo_db, table, where, args, period.start, period.end)
    got = source.period_stats(scope, period.start, period.end)
    for key, value in want.items():
        assert getattr(got, key) == pytest.approx(value, abs=1e-9, rel=1e-12), (entity, key)


def test_children_of_a_cluster_and_users_of_a_namespace(source, demo_db):
    namespaces = {p.name: p for p in source.children_stats(Scope("cluster", "gpu-east"), "namespace",
                                                          THIS_WEEK.start, THIS_WEEK.end)}
    for ns in ("ml-team", "cv-team", "research"):
        want = expected(demo_db, "namespace_gpu_hourly_stats", "cluster_name = ? AND namespace = ?",
                        ("gpu-east", ns), THIS_WEEK.start, THIS_WEEK.end)
        assert namespaces[ns].gpu_hours == pytest.approx(want["gpu_hours"], abs=1e-9)
        assert namespaces[ns].avg_utilization == pytest.approx(want["avg_utilization"], abs=1e-9)


def _workloads_per_user(db_url: str, namespace: str, start: datetime, end: datetime) -> dict[str, set]:
    """User of each workload row = the top-level gpu_workload annotation (lens.md §8)."""
    import json

    owner = {}
    for ns, name, ann in raw_rows(db_url, "SELECT namespace, name, annotations FROM gpu_workload "
                                          "WHERE parent_uid = ''"):
        owner[(ns, name)] = (json.loads(ann) if ann else {}).get(USER_KEY) or "(unknown)"
    out: dict[str, set] = defaultdict(set)
    for hour, name in raw_rows(db_url, "SELECT stat_hour, workload_name FROM workload_gpu_hourly_stats "
                                       "WHERE cluster_name = 'gpu-east' AND namespace = ?", namespace):
        if start <= _ts(hour) < end:
            out[owner.get((namespace, name), "(unknown)")].add(name)
    return out


def test_ml_team_scenario_user_a_went_from_28_to_12_workloads(demo_db):
    before = _workloads_per_user(demo_db, "ml-team", BEFORE.start, BEFORE.end)
    after = _workloads_per_user(demo_db, "ml-team", THIS_WEEK.start, THIS_WEEK.end)
    assert len(before["user_a"]) == 28 and len(after["user_a"]) == 12
    src = SqlSource(demo_db)
    scope = Scope("namespace", "gpu-east", namespace="ml-team")
    users_before = {p.name: p for p in src.children_stats(scope, "user", BEFORE.start, BEFORE.end)}
    users_after = {p.name: p for p in src.children_stats(scope, "user", THIS_WEEK.start, THIS_WEEK.end)}
    assert users_before["user_a"].workloads == 28
    assert users_after["user_a"].workloads == 12
    assert "llm-eval-server" in after["user_b"] and "llm-eval-server" not in before["user_b"]
    # utilization of ml-team fell by more than 10 pp
    u0 = src.period_stats(scope, BEFORE.start, BEFORE.end).avg_utilization
    u1 = src.period_stats(scope, THIS_WEEK.start, THIS_WEEK.end).avg_utilization
    assert u1 - u0 < -10


def test_hourly_series_matches_rows(demo_db):
    src = SqlSource(demo_db)
    series = src.hourly_series(Scope("namespace", "gpu-east", namespace="ml-team"), THIS_WEEK.start, THIS_WEEK.end)
    assert len(series) == int(THIS_WEEK.hours)
    rows = {(_ts(h)): (a, u) for h, a, u in raw_rows(
        demo_db, "SELECT stat_hour, allocated_gpu_count, avg_utilization FROM namespace_gpu_hourly_stats "
                 "WHERE cluster_name='gpu-east' AND namespace='ml-team'")}
    caps = {(_ts(h)): c for h, c in raw_rows(
        demo_db, "SELECT stat_hour, total_gpu_capacity FROM cluster_gpu_hourly_stats WHERE cluster_name='gpu-east'")}
    for p in series:
        alloc, util = rows[p.time]
        assert p.allocated_gpus == pytest.approx(alloc)
        assert p.avg_utilization == pytest.approx(util)
        assert p.allocation_rate == pytest.approx(alloc / caps[p.time] * 100)


def test_latest_snapshot_is_the_newest_at_or_before_now(demo_db):
    src = SqlSource(demo_db)
    snap = src.latest_snapshot("gpu-east", NOW)
    (t, cap, alloc), = raw_rows(demo_db, "SELECT snapshot_time, total_gpu_capacity, allocated_gpu_count "
                                         "FROM gpu_allocation_snapshots WHERE cluster_name='gpu-east' "
                                         "ORDER BY snapshot_time DESC LIMIT 1")
    assert _ts(t) <= NOW and snap.time == _ts(t)
    assert (snap.total_gpus, snap.allocated_gpus) == (cap, alloc)
    assert snap.by_namespace == sorted(snap.by_namespace, key=lambda a: (-a.allocated_gpus, a.namespace))
    earlier = src.latest_snapshot("gpu-east", NOW - timedelta(days=2))
    assert earlier.time <= NOW - timedelta(days=2)


def test_unknown_cluster_suggests_the_closest(demo_db):
    with pytest.raises(NotFound) as err:
        SqlSource(demo_db).period_stats(Scope("cluster", "gpu-eats"), THIS_WEEK.start, THIS_WEEK.end)
    assert "gpu-east" in err.value.suggestions


@pytest.mark.postgres
def test_read_only_role_on_a_postgres_lens_database(demo_pg):
    """A Lens database the role may only SELECT from: every query works, nothing is written."""
    url = clone_pg_database(demo_pg, "gr_lens_ro")
    role = "gr_reader_" + url.rsplit("_", 1)[1]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            c.execute(text(f'GRANT CONNECT ON DATABASE "{url.rsplit("/", 1)[1]}" TO "{role}"'))
            c.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
            c.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
        ro_url = url.replace("postgres@", f"{role}@")
        src = SqlSource(ro_url)
        ns = Scope("namespace", "gpu-east", namespace="ml-team")
        assert src.period_stats(ns, THIS_WEEK.start, THIS_WEEK.end).gpu_hours > 0
        assert {p.name for p in src.children_stats(ns, "user", THIS_WEEK.start, THIS_WEEK.end)} >= {"user_a", "user_b"}
        assert src.hourly_series(Scope("cluster", "gpu-east"), THIS_WEEK.start, THIS_WEEK.end)
        assert src.latest_snapshot(None, NOW).total_gpus > 0
        assert "ml-team" in src.namespaces("gpu-east", THIS_WEEK.start, THIS_WEEK.end)
        assert src.workloads("gpu-east", THIS_WEEK.start, THIS_WEEK.end, namespace="ml-team")
        src.close()
        ro = create_engine(ro_url)
        with pytest.raises(Exception, match="permission denied"):
            with ro.begin() as c:
                c.execute(text("DELETE FROM cluster_gpu_hourly_stats"))
        ro.dispose()
    finally:
        admin.dispose()
        drop_pg_database(url)
        eng = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        eng.dispose()


def test_per_cluster_databases_are_not_filtered_by_cluster_name(demo_copy, demo_db):
    """A Lens deployment: one database per cluster, whatever its rows call the cluster."""
    east = demo_copy
    eng = create_engine(east)
    with eng.begin() as c:
        for table in ("cluster_gpu_hourly_stats", "namespace_gpu_hourly_stats"):
            c.execute(text(f"DELETE FROM {table} WHERE cluster_name <> 'gpu-east'"))
            c.execute(text(f"UPDATE {table} SET cluster_name = 'writer-name'"))
    eng.dispose()
    src = SqlSource("sqlite:///unused.db", databases={"east": east})
    assert src.clusters() == ["east"]
    got = src.period_stats(Scope("namespace", "east", namespace="ml-team"), THIS_WEEK.start, THIS_WEEK.end)
    want = expected(demo_db, "namespace_gpu_hourly_stats", "cluster_name = ? AND namespace = ?",
                    ("gpu-east", "ml-team"), THIS_WEEK.start, THIS_WEEK.end)
    assert got.avg_utilization == pytest.approx(want["avg_utilization"], abs=1e-9)
    assert got.allocation_rate == pytest.approx(want["allocation_rate"], abs=1e-9)
