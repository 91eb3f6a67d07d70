"""`gpureport demo` (reporter/demo.py): a deterministic, Lens-faithful demo store with a scripted
ml-team utilization drop.

The stores read here are the session's shared demo stores (tests/conftest.py: seed 42, small
profile, generated at NOW and at MONDAY); tests that generate their own write to tmp_path.
Expected values are computed here with our own SQL over the generated SQLite file (or
SQLAlchemy reads for the cross-backend checksum), never by calling the generator's helpers.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reporter.demo import DemoError, generate
from tests.conftest import NOW

UTC = timezone.utc
S = datetime(2026, 11, 16)  # scenario week for both "now"s (naive UTC, as Lens stores it)
USER = "primus-safe.user.name"
LENS_TABLES = ("cluster_gpu_hourly_stats", "namespace_gpu_hourly_stats", "label_gpu_hourly_stats",
               "workload_gpu_hourly_stats", "gpu_allocation_snapshots", "gpu_workload")

# (this period, comparison period) as the preset questions use them
THURSDAY_PERIODS = ((S, datetime(2026, 11, 19, 12)),
                    (datetime(2026, 11, 9), datetime(2026, 11, 12, 12)))
MONDAY_PERIODS = ((S, datetime(2026, 11, 23)), (datetime(2026, 11, 9), S))


def ts(dt: datetime) -> str:
    """The text form SQLAlchemy stores naive timestamps in on SQLite."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def q(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def checksum(url: str) -> dict[str, str]:
    """Order-independent digest of every Lens table, ids excluded, values normalised so that
    SQLite and PostgreSQL stores can be compared (JSON parsed, timestamps as naive UTC)."""
    from sqlalchemy import JSON, DateTime, create_engine, select

    from agent.sources import schema

    def stamp(v):
        if v is None:
            return "None"
        return (v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v).isoformat()

    def js(v):
        return json.dumps(v, sort_keys=True)

    eng = create_engine(url)
    out = {}
    try:
        with eng.connect() as conn:
            for t in schema.metadata.sorted_tables:
                cols = [c for c in t.c if c.name != "id"]
                # a JSON column's type may be a decorator around JSON (schema.Json)
                conv = [stamp if isinstance(c.type, DateTime) else
                        js if isinstance(getattr(c.type, "impl", c.type), JSON) else repr
                        for c in cols]
                lines = sorted("|".join(f(v) for f, v in zip(conv, row))
                               for row in conn.execute(select(*cols)))
                out[t.name] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    finally:
        eng.dispose()
    return out


@pytest.fixture(scope="module")
def thursday(demo_store):
    """The demo store generated at NOW (seed 42): (file, summary, progress messages)."""
    return demo_store.path, demo_store.summary, list(demo_store.progress)


@pytest.fixture(scope="module")
def monday(monday_demo_store):
    """The demo store generated at MONDAY 06:00 (seed 42): (file, summary)."""
    return monday_demo_store.path, monday_demo_store.summary


@pytest.fixture(scope="module")
def thursday_checksum(thursday):
    return checksum(sqlite_url(thursday[0]))


# ---------------------------------------------------------------------------------------------
# What is written, and safety
# ---------------------------------------------------------------------------------------------

def test_summary_matches_the_store(thursday):
    db, summary, messages = thursday
    assert summary.clusters == ["gpu-east", "gpu-west", "gpu-lab"]
    assert summary.start == datetime(2026, 10, 19, tzinfo=UTC)  # Monday, 4 ISO weeks back
    assert summary.end == NOW and summary.scenario_week == datetime(2026, 11, 16, tzinfo=UTC)
    assert summary.gpus == 384 + 256 + 64
    assert summary.namespaces == len(q(db, "SELECT DISTINCT cluster_name, namespace "
                                           "FROM namespace_gpu_hourly_stats"))
    for table in LENS_TABLES:
        assert summary.rows[table] == q(db, f"SELECT count(*) FROM {table}")[0][0] > 0
    assert messages and all(isinstance(m, str) for m in messages)
    marks = {c: (owner, json.loads(details)) for c, owner, details in
             q(db, "SELECT cluster, owner, details FROM gpureport_store")}
    assert set(marks) == set(summary.clusters)
    assert all(owner == "demo" for owner, _ in marks.values())
    marker = marks["gpu-east"][1]
    assert marker["seed"] == "42" and marker["profile"] == "small"
    assert marker["status"] == "complete" and marker["now"].startswith("2026-11-19T12:00")


def test_every_full_hour_of_the_span_has_a_cluster_row(thursday):
    db, summary, _ = thursday
    hours = int((summary.end - summary.start).total_seconds() // 3600)
    for cluster in summary.clusters:
        (n, first, last), = q(db, "SELECT count(*), min(stat_hour), max(stat_hour) FROM "
                                  "cluster_gpu_hourly_stats WHERE cluster_name = ?", (cluster,))
        assert n == hours
        assert first == ts(datetime(2026, 10, 19)) and last == ts(datetime(2026, 11, 19, 11))
    # no row for the hour containing now, in any hourly table
    for table in LENS_TABLES[:4]:
        assert q(db, f"SELECT count(*) FROM {table} WHERE stat_hour >= ?",
                 (ts(datetime(2026, 11, 19, 12)),))[0][0] == 0


def test_sqlalchemy_readers_filter_the_stored_timestamps(thursday):
    """The sql source binds datetimes through SQLAlchemy; ranges must select what raw SQL does."""
    from sqlalchemy import create_engine, func, select

    from agent.sources import schema

    db, _, _ = thursday
    eng = create_engine(sqlite_url(db))
    t = schema.workload_hourly
    with eng.connect() as conn:
        n = conn.execute(select(func.count()).select_from(t).where(
            t.c.stat_hour >= S, t.c.stat_hour < datetime(2026, 11, 17))).scalar_one()
        first = conn.execute(select(func.min(t.c.stat_hour))).scalar_one()
    eng.dispose()
    assert first == datetime(2026, 10, 19)
    assert n == q(db, "SELECT count(*) FROM workload_gpu_hourly_stats WHERE stat_hour >= ? "
                      "AND stat_hour < ?", (ts(S), ts(datetime(2026, 11, 17))))[0][0] > 0


@pytest.mark.slow  # four generations and checksums of the whole store: ~10 s
def test_same_seed_same_rows_other_seed_differs_and_reset_replaces(tmp_path, thursday_checksum):
    db = tmp_path / "nested" / "dir" / "demo.db"  # parent directories are created
    url = sqlite_url(db)
    generate(url, seed=42, now=NOW)
    assert checksum(url) == thursday_checksum

    with pytest.raises(DemoError, match="already holds demo data; pass --reset"):
        generate(url, seed=42, now=NOW)

    generate(url, seed=7, now=NOW, reset=True)
    other = checksum(url)
    assert all(other[t] != thursday_checksum[t] for t in
               ("workload_gpu_hourly_stats", "gpu_workload", "gpu_allocation_snapshots"))
    assert {json.loads(d)["seed"] for (d,) in q(db, "SELECT details FROM gpureport_store")} == {"7"}

    generate(url, seed=42, now=NOW, reset=True)  # nothing of seed 7 is left behind
    assert checksum(url) == thursday_checksum


def test_refuses_a_lens_database_that_is_not_a_demo_store(tmp_path):
    from sqlalchemy import create_engine, inspect

    from agent.sources import schema

    db = tmp_path / "lens.db"
    eng = create_engine(sqlite_url(db))
    schema.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(schema.cluster_hourly.insert().values(
            cluster_name="prod", stat_hour=datetime(2026, 11, 1), total_gpu_capacity=8))
    eng.dispose()

    for reset in (False, True):
        with pytest.raises(DemoError, match="real Lens database") as err:
            generate(sqlite_url(db), now=NOW, reset=reset)
        assert "\n" not in str(err.value)
    assert q(db, "SELECT cluster_name FROM cluster_gpu_hourly_stats") == [("prod",)]
    eng = create_engine(sqlite_url(db))
    assert "gpureport_store" not in inspect(eng).get_table_names()
    eng.dispose()


def test_rejects_an_unknown_profile_before_touching_the_store(tmp_path):
    with pytest.raises(DemoError, match="unknown demo profile"):
        generate(sqlite_url(tmp_path / "x" / "d.db"), profile="huge", now=NOW)
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------------
# Rows look like Lens' and agree with each other
# ---------------------------------------------------------------------------------------------

# the top-level gpu_workload row of a workload hourly row (lens.md §8)
TOP = ("gpu_workload g ON g.namespace = w.namespace AND g.name = w.workload_name "
       "AND g.parent_uid = ''")


def test_workload_rows_are_written_as_lens_writes_them(thursday):
    db, _, _ = thursday
    bad = q(db, "SELECT count(*) FROM workload_gpu_hourly_stats WHERE requested_gpu_count != 0 "
                "OR avg_gpu_memory_used != 0 OR max_gpu_memory_used != 0 "
                "OR avg_gpu_memory_total != 0 OR avg_replica_count != 1 OR max_replica_count != 1 "
                "OR min_replica_count != 1 OR workload_status != '' OR owner_uid != '' "
                "OR owner_name != '' OR labels != '{}' OR annotations != '{}'")
    assert bad == [(0,)]
    disorder = q(db, "SELECT count(*) FROM workload_gpu_hourly_stats WHERE NOT ("
                     "0 <= min_utilization AND min_utilization <= avg_utilization "
                     "AND avg_utilization <= max_utilization AND max_utilization <= 100 "
                     "AND min_utilization <= p50_utilization "
                     "AND p50_utilization <= p95_utilization "
                     "AND p95_utilization <= max_utilization)")
    assert disorder == [(0,)]
    # every row belongs to one top-level workload; allocated = GPUs x fraction of the hour present,
    # sample_count = 5-minute samples present
    rows = q(db, f"SELECT w.allocated_gpu_count, w.sample_count, g.gpu_request, count(g.id) "
                 f"FROM workload_gpu_hourly_stats w LEFT JOIN {TOP} GROUP BY w.id")
    assert all(n == 1 for *_, n in rows)
    assert all(abs(a - gpus * samples / 12) < 1e-9 and 1 <= samples <= 12
               for a, samples, gpus, _ in rows)
    partial = [r for r in rows if r[1] < 12]
    assert len(partial) > 100  # jobs start and stop mid-hour


def test_namespace_rows_are_sums_of_their_workloads(thursday):
    db, _, _ = thursday
    rows = q(db, """
        SELECT n.allocated_gpu_count, w.alloc, n.avg_utilization, w.util, n.active_workload_count,
               w.cnt, n.total_gpu_capacity, n.min_utilization, n.max_utilization
        FROM namespace_gpu_hourly_stats n JOIN (
            SELECT cluster_name, namespace, stat_hour, sum(allocated_gpu_count) AS alloc,
                   sum(allocated_gpu_count * avg_utilization) / sum(allocated_gpu_count) AS util,
                   count(*) AS cnt
            FROM workload_gpu_hourly_stats GROUP BY 1, 2, 3) w
          ON w.cluster_name = n.cluster_name AND w.namespace = n.namespace
         AND w.stat_hour = n.stat_hour""")
    assert len(rows) == q(db, "SELECT count(*) FROM namespace_gpu_hourly_stats")[0][0]
    assert len(rows) == q(db, "SELECT count(*) FROM (SELECT DISTINCT cluster_name, namespace, "
                              "stat_hour FROM workload_gpu_hourly_stats)")[0][0]
    for alloc, w_alloc, util, w_util, active, cnt, cap, mn, mx in rows:
        assert alloc == pytest.approx(w_alloc, abs=1e-9)
        assert util == pytest.approx(w_util, abs=1e-9)
        assert active == cnt and cap == 0 and mn <= util <= mx


def test_cluster_rows_are_sums_of_their_namespaces(thursday):
    db, _, _ = thursday
    caps = dict(q(db, "SELECT cluster_name, max(total_gpu_capacity) FROM cluster_gpu_hourly_stats "
                      "GROUP BY 1 HAVING min(total_gpu_capacity) = max(total_gpu_capacity)"))
    assert caps == {"gpu-east": 384, "gpu-west": 256, "gpu-lab": 64}
    rows = q(db, """
        SELECT c.cluster_name, c.total_gpu_capacity, c.allocated_gpu_count, c.allocation_rate,
               c.avg_utilization, c.min_utilization, c.p50_utilization, c.p95_utilization,
               c.max_utilization, c.sample_count, coalesce(n.alloc, 0), coalesce(n.util, 0)
        FROM cluster_gpu_hourly_stats c LEFT JOIN (
            SELECT cluster_name, stat_hour, sum(allocated_gpu_count) AS alloc,
                   sum(allocated_gpu_count * avg_utilization) / sum(allocated_gpu_count) AS util
            FROM namespace_gpu_hourly_stats GROUP BY 1, 2) n
          ON n.cluster_name = c.cluster_name AND n.stat_hour = c.stat_hour""")
    for cl, cap, alloc, rate, util, mn, p50, p95, mx, samples, n_alloc, n_util in rows:
        assert alloc == pytest.approx(n_alloc, abs=1e-9) and alloc <= cap
        assert rate == pytest.approx(alloc / cap * 100, abs=1e-9)
        assert util == pytest.approx(n_util, abs=1e-9)
        assert 0 <= mn <= p50 <= p95 <= mx <= 100 and mn <= util <= mx
        assert samples == 12
    rates = [r[3] for r in rows if r[0] == "gpu-east"]
    assert 50 < sum(rates) / len(rates) < 95  # a busy but not saturated main cluster


def test_user_rows_are_sums_over_each_users_workloads(thursday):
    """Per-user rows follow the top-level gpu_workload annotation; no annotation -> 'unknown'."""
    db, _, _ = thursday
    expected = {(c, u, h): (a, ut, n) for c, u, h, a, ut, n in q(db, f"""
        SELECT w.cluster_name,
               coalesce(json_extract(g.annotations, '$."{USER}"'), 'unknown') AS usr,
               w.stat_hour, sum(w.allocated_gpu_count),
               sum(w.allocated_gpu_count * w.avg_utilization) / sum(w.allocated_gpu_count),
               count(*)
        FROM workload_gpu_hourly_stats w JOIN {TOP} GROUP BY 1, 2, 3""")}
    got = {(c, u, h): (a, ut, n) for c, u, h, a, ut, n in q(db, """
        SELECT cluster_name, dimension_value, stat_hour, allocated_gpu_count, avg_utilization,
               active_workload_count
        FROM label_gpu_hourly_stats
        WHERE dimension_type = 'annotation' AND dimension_key = ?""", (USER,))}
    assert got.keys() == expected.keys()
    for key, (a, ut, n) in expected.items():
        assert got[key][0] == pytest.approx(a, abs=1e-9)
        assert got[key][1] == pytest.approx(ut, abs=1e-9)
        assert got[key][2] == n
    users = {u for _, u, _ in got}
    assert {"user_a", "user_b", "user_c", "alice", "bob", "unknown"} <= users


def test_team_label_rows_are_sums_over_the_namespace_teams(thursday):
    db, _, _ = thursday
    expected = {(c, t, h): a for c, t, h, a in q(db, f"""
        SELECT w.cluster_name, json_extract(g.labels, '$.team'), w.stat_hour,
               sum(w.allocated_gpu_count)
        FROM workload_gpu_hourly_stats w JOIN {TOP} GROUP BY 1, 2, 3""")}
    got = {(c, t, h): a for c, t, h, a in q(db, """
        SELECT cluster_name, dimension_value, stat_hour, allocated_gpu_count
        FROM label_gpu_hourly_stats WHERE dimension_type = 'label' AND dimension_key = 'team'""")}
    assert got.keys() == expected.keys()
    assert all(got[k] == pytest.approx(v, abs=1e-9) for k, v in expected.items())
    teams = dict(q(db, "SELECT DISTINCT namespace, json_extract(labels, '$.team') "
                       "FROM gpu_workload WHERE parent_uid = ''"))
    assert teams["ml-team"] == "ml" and teams["nlp-team"] == "nlp" and teams["cv-team"] == "cv"
    assert q(db, "SELECT count(*) FROM label_gpu_hourly_stats "
                 "WHERE allocated_gpu_count <= 0") == [(0,)]


def test_gpu_workload_holds_top_level_rows_and_one_child_pod_each(thursday):
    db, _, _ = thursday
    tops = q(db, "SELECT uid, kind, group_version, status, end_at, deleted_at, source, "
                 "annotations, created_at, updated_at FROM gpu_workload WHERE parent_uid = ''")
    children = q(db, "SELECT parent_uid, kind, annotations FROM gpu_workload "
                     "WHERE parent_uid != ''")
    assert len({t[0] for t in tops}) == len(tops) == len(children)
    assert sorted(c[0] for c in children) == sorted(t[0] for t in tops)
    assert {c[1] for c in children} == {"Pod"} and {c[2] for c in children} == {"{}"}
    assert {t[1] for t in tops} >= {"PyTorchJob", "Job", "Deployment", "Workload"}
    assert {t[6] for t in tops} == {"k8s"} and {t[5] for t in tops} == {None}
    assert {t[3] for t in tops} <= {"Running", "Done", "Failed"}
    assert all((t[3] == "Running") == (t[4] is None) for t in tops)
    assert all(t[8] <= t[9] for t in tops)
    unannotated = sum(1 for t in tops if USER not in json.loads(t[7]))
    assert 0.02 < unannotated / len(tops) < 0.10
    assert q(db, "SELECT count(*) FROM (SELECT namespace, name FROM gpu_workload "
                 "WHERE parent_uid = '' GROUP BY 1, 2 HAVING count(*) > 1)") == [(0,)]


def test_snapshots_count_the_gpus_running_at_each_instant(thursday):
    db, summary, _ = thursday
    hours = int((summary.end - summary.start).total_seconds() // 3600)
    workloads = [(ns, gpus, datetime.fromisoformat(c[:19]),
                  datetime.fromisoformat(e[:19]) if e else None)
                 for ns, gpus, c, e in q(db, """
                     SELECT w.namespace, w.gpu_request, w.created_at, w.end_at
                     FROM gpu_workload w WHERE parent_uid = '' AND w.namespace IN (
                         SELECT namespace FROM namespace_gpu_hourly_stats
                         WHERE cluster_name = 'gpu-east')""")]
    # namespaces are per cluster; gpu-east's set overlaps others (cv-team...), so compare only
    # namespaces that exist in gpu-east alone
    east_only = {"ml-team", "ml-training", "data-eng", "recsys", "speech", "platform-tools"}
    snaps = q(db, "SELECT snapshot_time, total_gpu_capacity, allocated_gpu_count, "
                  "allocation_details, dimension_type, dimension_key, dimension_value "
                  "FROM gpu_allocation_snapshots WHERE cluster_name = 'gpu-east' "
                  "ORDER BY snapshot_time")
    assert len(snaps) == hours - 3 + 36  # HH:30 of each hour + every 5 min over the last 3 h
    assert snaps[-1][0] == ts(datetime(2026, 11, 19, 12))
    recent_from = datetime(2026, 11, 19, 9)
    for t_text, cap, allocated, details_text, dtype, dkey, dval in snaps[::7] + snaps[-3:]:
        t = datetime.fromisoformat(t_text[:19])
        details = json.loads(details_text)
        assert (cap, dtype, dkey, dval) == (384, "cluster", "", "")
        assert allocated == sum(d["allocatedGpu"] for d in details["namespaces"].values())
        assert set(details) == {"namespaces", "annotations", "workloads"}
        assert sum(d["allocatedGpu"] for d in details["annotations"].values()) == allocated
        assert all(k.startswith(USER + ":") for k in details["annotations"])
        for ns in east_only:
            want = sum(g for n, g, c, e in workloads if n == ns and c <= t and (e is None or e > t))
            assert details["namespaces"].get(ns, {"allocatedGpu": 0})["allocatedGpu"] == want
        pods = [p for d in details["namespaces"].values() for p in d["workloads"]]
        if t > recent_from:
            assert len(pods) == sum(d["workloadCount"] for d in details["namespaces"].values())
            assert sum(p["allocatedGpu"] for p in pods) == allocated
            assert set(pods[0]) == {"uid", "name", "namespace", "kind", "allocatedGpu",
                                    "utilization"}
            assert sum(w["allocatedGpu"] for w in details["workloads"].values()) == allocated
        else:
            assert pods == [] and details["workloads"] == {}


# ---------------------------------------------------------------------------------------------
# The scripted scenario
# ---------------------------------------------------------------------------------------------

def ns_utilization(db: Path, start: datetime, end: datetime) -> dict[tuple[str, str], float]:
    """GPU-hour weighted average utilization per (cluster, namespace) over [start, end)."""
    return {(c, n): u for c, n, u in q(db, """
        SELECT cluster_name, namespace,
               sum(allocated_gpu_count * avg_utilization) / sum(allocated_gpu_count)
        FROM namespace_gpu_hourly_stats WHERE stat_hour >= ? AND stat_hour < ?
        GROUP BY 1, 2""", (ts(start), ts(end)))}


def ml_team_by(db: Path, what: str, start: datetime, end: datetime) -> dict[str, tuple]:
    """Per user or workload of ml-team in gpu-east: (allocated GPU-h, utilized GPU-h, workloads)."""
    key = (f"coalesce(json_extract(g.annotations, '$.\"{USER}\"'), '(unknown)')"
           if what == "user" else "w.workload_name")
    return {k: (a, u, n) for k, a, u, n in q(db, f"""
        SELECT {key}, sum(w.allocated_gpu_count),
               sum(w.allocated_gpu_count * w.avg_utilization) / 100,
               count(DISTINCT w.workload_name)
        FROM workload_gpu_hourly_stats w JOIN {TOP}
        WHERE w.cluster_name = 'gpu-east' AND w.namespace = 'ml-team'
          AND w.stat_hour >= ? AND w.stat_hour < ?
        GROUP BY 1""", (ts(start), ts(end)))}


def impacts(before: dict, after: dict) -> list[tuple[str, float]]:
    """product.md §4 attribution, children sorted by |impact| (largest first)."""
    a0 = sum(v[0] for v in before.values())
    u0 = sum(v[1] for v in before.values())
    a1 = sum(v[0] for v in after.values())
    out = []
    for k in set(before) | set(after):
        ba, bu, _ = before.get(k, (0, 0, 0))
        aa, au, _ = after.get(k, (0, 0, 0))
        out.append((k, ((au - bu) - u0 / a0 * (aa - ba)) / a1 * 100))
    return sorted(out, key=lambda kv: (-abs(kv[1]), kv[0]))


@pytest.fixture(params=["thursday", "monday"])
def scenario(request):
    db = request.getfixturevalue(request.param)[0]
    return db, (THURSDAY_PERIODS if request.param == "thursday" else MONDAY_PERIODS)


def test_user_a_goes_from_28_to_12_workloads(scenario):
    db, (this, last) = scenario
    assert ml_team_by(db, "user", *last)["user_a"][2] == 28
    assert ml_team_by(db, "user", *this)["user_a"][2] == 12
    # every earlier ISO week had 28 distinct two-GPU jobs of user_a, all running the whole week
    for week in (datetime(2026, 10, 26), datetime(2026, 11, 2)):
        a, _, n = ml_team_by(db, "user", week, week + timedelta(days=7))["user_a"]
        assert n == 28 and a == pytest.approx(28 * 2 * 7 * 24)


def test_the_idle_eight_gpu_workload_appears_only_from_the_scenario_week(scenario):
    db, (this, last) = scenario
    idle = q(db, """
        SELECT g.name, json_extract(g.annotations, '$."primus-safe.user.name"'), g.kind,
               min(w.stat_hour), max(w.avg_utilization), min(w.allocated_gpu_count), count(*)
        FROM gpu_workload g JOIN workload_gpu_hourly_stats w
          ON w.namespace = g.namespace AND w.workload_name = g.name
        WHERE g.parent_uid = '' AND g.namespace = 'ml-team' AND g.gpu_request = 8
          AND w.cluster_name = 'gpu-east'
        GROUP BY g.uid""")
    assert len(idle) == 1
    name, user, kind, first, max_util, min_alloc, hours = idle[0]
    assert (name, user, kind) == ("llm-eval-server", "user_b", "Deployment")
    assert first == ts(S) and max_util < 3 and min_alloc == 8
    assert "llm-eval-server" in ml_team_by(db, "workload", *this)
    assert "llm-eval-server" not in ml_team_by(db, "workload", *last)


def test_ml_team_is_the_one_namespace_that_dropped(scenario):
    db, (this, last) = scenario
    now_u, before_u = ns_utilization(db, *this), ns_utilization(db, *last)
    assert now_u.keys() == before_u.keys()
    drops = {k: now_u[k] - before_u[k] for k in now_u}
    assert drops.pop(("gpu-east", "ml-team")) <= -10
    assert max(abs(d) for d in drops.values()) < 4, drops


def test_drilldown_puts_user_a_and_the_idle_server_on_top(scenario):
    db, (this, last) = scenario
    by_user = impacts(ml_team_by(db, "user", *last), ml_team_by(db, "user", *this))
    assert {name for name, _ in by_user[:2]} == {"user_a", "user_b"}
    assert all(impact < 0 for _, impact in by_user[:2])
    by_workload = impacts(ml_team_by(db, "workload", *last), ml_team_by(db, "workload", *this))
    assert by_workload[0][0] == "llm-eval-server"
    # the attribution is exact: impacts add up to the namespace's change
    total = ns_utilization(db, *this)[("gpu-east", "ml-team")] - \
        ns_utilization(db, *last)[("gpu-east", "ml-team")]
    assert sum(i for _, i in by_user) == pytest.approx(total, abs=1e-6)


# The drop lands where the README's questions look, whatever the day (issue 12 item 2): "this
# week vs last week" (from Tuesday; on a Monday answers.md §3 answers it over the last 7 days vs
# the 7 before), "the last 7 days vs the 7 before" every day, and a Monday's "last week".
def _days(*whens: str, slow: bool) -> list:
    marks = [pytest.mark.slow] if slow else []
    return [pytest.param(w, id=w[:13], marks=marks) for w in whens]


@pytest.mark.parametrize("when", _days("2026-11-25T12:00", slow=False)  # Wednesday
                         + _days("2026-11-23T03:00", "2026-11-23T12:00", "2026-11-24T00:00",
                                 "2026-11-26T00:00", "2026-11-29T23:00", slow=True))
def test_the_drop_lands_in_the_spans_the_readme_asks_about_on_any_day(tmp_path, when):
    now = datetime.fromisoformat(when)  # naive UTC, as Lens stores it
    monday = datetime(2026, 11, 23) if now >= datetime(2026, 11, 23) else datetime(2026, 11, 16)
    db = tmp_path / "demo.db"
    summary = generate(sqlite_url(db), seed=42, now=now.replace(tzinfo=UTC))
    elapsed = now - monday
    week, day = timedelta(days=7), timedelta(days=1)
    expected_start = (monday - week if elapsed < day else
                      now - week if elapsed < 3 * day else monday)
    assert summary.scenario_week == expected_start.replace(tzinfo=UTC)

    def change(before: tuple, after: tuple) -> dict:
        a, b = ns_utilization(db, *before), ns_utilization(db, *after)
        return {k: b[k] - a[k] for k in b}

    rolling = change((now - 2 * week, now - week), (now - week, now))
    assert rolling.pop(("gpu-east", "ml-team")) <= -5.0  # at least the digest's threshold
    assert max(abs(d) for d in rolling.values()) < 4, rolling  # and the only namespace
    if elapsed >= day:
        this_week = change((monday - week, now - week), (monday, now))
        assert this_week[("gpu-east", "ml-team")] <= -15.0
    else:
        last_week = change((monday - 2 * week, monday - week), (monday - week, monday))
        assert last_week[("gpu-east", "ml-team")] <= -15.0
    # user_a's jobs go from 28 to 12 at the start of the scenario, whatever its weekday
    start = expected_start
    assert ml_team_by(db, "user", start - week, start)["user_a"][2] == 28
    assert ml_team_by(db, "user", start, min(start + week, now))["user_a"][2] == 12


def test_research_keeps_an_idle_four_gpu_notebook_all_the_time(thursday):
    db, summary, _ = thursday
    hours = int((summary.end - summary.start).total_seconds() // 3600)
    rows = q(db, """
        SELECT workload_name, count(*), max(avg_utilization)
        FROM workload_gpu_hourly_stats
        WHERE cluster_name = 'gpu-east' AND namespace = 'research' AND allocated_gpu_count = 4
        GROUP BY 1 HAVING count(*) = ? AND max(avg_utilization) < 3""", (hours,))
    assert len(rows) == 1


# ---------------------------------------------------------------------------------------------
# PostgreSQL and the large profile
# ---------------------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.slow  # two generations into PostgreSQL and checksums of the whole store: ~8 s
def test_postgres_store_holds_the_same_rows_as_sqlite(pg_url, thursday, thursday_checksum):
    summary = generate(pg_url, seed=42, now=NOW)
    assert summary.rows == thursday[1].rows
    assert checksum(pg_url) == thursday_checksum
    with pytest.raises(DemoError, match="pass --reset"):
        generate(pg_url, seed=42, now=NOW)
    generate(pg_url, seed=42, now=NOW, reset=True)  # TRUNCATE path: same rows again
    assert checksum(pg_url) == thursday_checksum


@pytest.mark.slow  # 1.5 million workload rows: ~30 s
def test_large_profile_meets_the_size_bars(tmp_path):
    db = tmp_path / "large.db"
    summary = generate(sqlite_url(db), profile="large", now=NOW)
    (cap,), = q(db, "SELECT max(total_gpu_capacity) FROM cluster_gpu_hourly_stats "
                    "WHERE cluster_name = 'gpu-east'")
    assert cap >= 4096
    assert q(db, "SELECT count(DISTINCT namespace) FROM namespace_gpu_hourly_stats "
                 "WHERE cluster_name = 'gpu-east'")[0][0] >= 150
    n = q(db, "SELECT count(*) FROM workload_gpu_hourly_stats")[0][0]
    assert n == summary.rows["workload_gpu_hourly_stats"] >= 1_500_000
