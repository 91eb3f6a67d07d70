"""`gpureport ingest prometheus` against a real Prometheus over backfilled TSDB blocks.

The cluster (tests/fakes/gpu_cluster.py): 48 GPUs on 6 nodes (one joining mid-hour), 3 days at one
sample per minute, Deployments with a mid-hour rollout, Jobs of 1-8 GPUs starting and stopping
mid-hour (one with two GPU containers), PyTorchJobs of 8-GPU workers, owner-less pods, a
ReplicaSet without Deployment, CPU-only and never-scheduled pods, users as the annotation
``primus-safe.user.name``. NVIDIA and AMD copies of the GPU metrics live in the same TSDB.

Every expected figure is computed from the simulated pods themselves (``gpu_cluster.expected``),
never through PromQL or gpureport's code.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.cli import Result, run
from tests.conftest import create_pg_database, drop_pg_database
from tests.fakes import free_port, gpu_cluster
from tests.fakes.prometheus import PrometheusServer, build

USER_KEY = gpu_cluster.USER_KEY
ALLOC_TOL, UTIL_TOL = 0.05, 0.5  # acceptance: GPUs, percentage points
DAYS = 3
START = gpu_cluster.ANCHOR  # Sat 2026-11-14 00:00 UTC
END = START + timedelta(days=DAYS)  # Tue 2026-11-17 00:00 UTC
END_ISO = END.strftime("%Y-%m-%dT%H:%M:%SZ")

NVIDIA_CONFIG = """
prometheus:
  label_keys: [team]
  annotation_keys: [project]
  cluster_name: lab
"""
# AMD's device-metrics-exporter scraped without honor_labels: the pod's labels are exported_*,
# while pod/namespace name the exporter itself.
AMD_CONFIG = """
prometheus:
  vendor: amd
  utilization_namespace_label: exported_namespace
  utilization_pod_label: exported_pod
  label_keys: [team]
  annotation_keys: [project]
  cluster_name: lab
  retries: 0
"""


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dataset():
    return gpu_cluster.generate(gpus=48, days=DAYS)


@pytest.fixture(scope="module")
def expect(dataset):
    return gpu_cluster.expected(dataset)


@pytest.fixture(scope="module")
def prometheus(dataset, tmp_path_factory):
    tsdb = build(dataset, tmp_path_factory.mktemp("prom"))
    with PrometheusServer(tsdb, lookback="1m") as server:
        yield server


def gpureport(*args: str, db: str, config: str = NVIDIA_CONFIG, home: Path,
              now: str = END_ISO) -> Result:
    """``gpureport --config home/gpureport.yaml --now NOW *args`` on the store ``db``, from
    ``home`` (also its GPUREPORT_HOME)."""
    cfg = home / "gpureport.yaml"
    cfg.write_text(config)
    return run("--config", cfg, "--now", now, *args, cwd=home,
               env={"GPUREPORT_HOME": str(home), "GPUREPORT_DATABASE_URL": db})


def ingest(prom_url: str, db: str, home: Path, *extra: str, config: str = NVIDIA_CONFIG,
           since: str = START.isoformat(), code: int = 0) -> Result:
    r = gpureport("ingest", "prometheus", "--url", prom_url, "--since", since, *extra,
                  db=db, config=config, home=home)
    assert r.exit_code == code, r
    return r


@pytest.fixture(scope="module")
def nvidia_db(prometheus, tmp_path_factory):
    """The whole 3 days ingested through the CLI into PostgreSQL."""
    url = create_pg_database("gr_ingest")
    home = tmp_path_factory.mktemp("home")
    ingest(prometheus.url, url, home)
    yield url
    drop_pg_database(url)


def rows(db: str, table: str, where: str = "TRUE", **params) -> list[dict]:
    eng = create_engine(db)
    try:
        with eng.connect() as c:
            return [dict(r) for r in c.execute(text(f"SELECT * FROM {table} WHERE {where}"),
                                               params).mappings()]
    finally:
        eng.dispose()


def hour_index(value) -> int:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return int((value.replace(tzinfo=timezone.utc) - START).total_seconds() // 3600)


def as_json(value):
    return json.loads(value) if isinstance(value, str) else value


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


# -- acceptance 1-2: the rows equal the generated truth -------------------------------------

def test_the_cluster_is_what_the_acceptance_asks_for(dataset):
    kinds = {p.workload_kind for p in dataset.pods}
    assert dataset.total_gpus >= 40 and len(dataset.nodes) >= 5 and dataset.minutes >= 3 * 24 * 60
    assert {"Job", "Deployment", "PyTorchJob", "Pod", "ReplicaSet"} <= kinds
    assert any(p.gpus > 1 for p in dataset.pods) and any(len(p.containers) > 1 and p.gpus for p in dataset.pods)
    mid_hour = [p for p in dataset.pods if p.run_start and p.run_start % 60 and p.run_end % 60]
    assert len(mid_hour) > 50
    assert any(p.user is None for p in dataset.pods) and any(p.run_start is None for p in dataset.pods)


def test_cluster_rows_match_generated_samples(nvidia_db, expect):
    got = {hour_index(r["stat_hour"]): r for r in rows(nvidia_db, "cluster_gpu_hourly_stats")}
    assert sorted(got) == list(range(DAYS * 24))
    for h, r in got.items():
        e = expect["cluster"].get(h)
        assert r["cluster_name"] == "lab" and r["sample_count"] == 60
        assert r["total_gpu_capacity"] == expect["capacity"][h], h
        assert close(r["allocated_gpu_count"], e["allocated"], ALLOC_TOL), (h, r, e)
        assert close(r["avg_utilization"], e["util"], UTIL_TOL), (h, r, e)
        assert close(r["max_utilization"], e["umax"], UTIL_TOL) and close(r["min_utilization"], e["umin"], UTIL_TOL)
        assert r["min_utilization"] <= r["p50_utilization"] <= r["p95_utilization"] <= r["max_utilization"]
        assert close(r["allocation_rate"], e["allocated"] / expect["capacity"][h] * 100, 0.2)
    # the node that joined mid-hour: capacity is the hour's mean, truncated, as Lens does
    assert len({r["total_gpu_capacity"] for r in got.values()}) == 3


def test_namespace_rows_match_generated_samples(nvidia_db, expect):
    got = {(hour_index(r["stat_hour"]), r["namespace"]): r
           for r in rows(nvidia_db, "namespace_gpu_hourly_stats")}
    assert set(got) == set(expect["namespace"])
    for key, e in expect["namespace"].items():
        r = got[key]
        assert close(r["allocated_gpu_count"], e["allocated"], ALLOC_TOL), (key, r, e)
        assert close(r["avg_utilization"], e["util"], UTIL_TOL), (key, r, e)
        assert close(r["max_utilization"], e["umax"], UTIL_TOL) and close(r["min_utilization"], e["umin"], UTIL_TOL)
        assert r["active_workload_count"] == int(e["pods"]) and r["total_gpu_capacity"] == 0


def test_workload_rows_match_generated_samples(nvidia_db, expect):
    got = {(hour_index(r["stat_hour"]), r["namespace"], r["workload_type"], r["workload_name"]): r
           for r in rows(nvidia_db, "workload_gpu_hourly_stats")}
    assert set(got) == set(expect["workload"])
    assert {k[2] for k in got} == {"Deployment", "Job", "PyTorchJob", "Pod", "ReplicaSet"}
    for key, e in expect["workload"].items():
        r = got[key]
        assert close(r["allocated_gpu_count"], e["allocated"], ALLOC_TOL), (key, r, e)
        assert close(r["avg_utilization"], e["util"], UTIL_TOL), (key, r, e)
        assert close(r["max_utilization"], e["umax"], UTIL_TOL) and close(r["min_utilization"], e["umin"], UTIL_TOL)
        assert r["sample_count"] == e["samples"]
        assert (r["max_replica_count"], r["min_replica_count"]) == (e["rmax"], e["rmin"])
        assert close(r["avg_replica_count"], e["pods"] * 60 / e["samples"], 1e-6)
        assert as_json(r["annotations"]) == ({USER_KEY: e["user"]} if e["user"] else {})
    # short jobs: a pod that ran 10 minutes of an hour counts 1/6 GPU-hour per GPU
    short = [k for k, e in expect["workload"].items() if e["samples"] < 60 and k[2] == "Job"]
    assert len(short) > 20


def test_label_rows_match_generated_samples(nvidia_db, expect):
    got = {(hour_index(r["stat_hour"]), r["dimension_type"], r["dimension_key"], r["dimension_value"]): r
           for r in rows(nvidia_db, "label_gpu_hourly_stats")}
    assert set(got) == set(expect["label"])
    assert {k[1:3] for k in got} == {("annotation", USER_KEY), ("annotation", "project"), ("label", "team")}
    assert any(k[3] == "unknown" for k in got if k[2] == USER_KEY)
    for key, e in expect["label"].items():
        r = got[key]
        assert close(r["allocated_gpu_count"], e["allocated"], ALLOC_TOL), (key, r, e)
        assert close(r["avg_utilization"], e["util"], UTIL_TOL), (key, r, e)
        assert r["active_workload_count"] == int(e["pods"])


def test_hourly_snapshot_is_the_state_at_the_hours_last_sample(nvidia_db, dataset):
    snaps = rows(nvidia_db, "gpu_allocation_snapshots")
    assert len(snaps) == DAYS * 24
    for s in snaps:
        t = s["snapshot_time"]
        minute = int((t.replace(tzinfo=timezone.utc) - START).total_seconds() // 60)
        assert minute % 60 == 59 and s["dimension_type"] == "cluster"
        running = [p for p in dataset.pods if p.running(minute) and p.gpus]
        assert s["allocated_gpu_count"] == sum(p.gpus for p in running)
        assert s["total_gpu_capacity"] == sum(n.gpus for n in dataset.nodes if n.start <= minute)
        details = as_json(s["allocation_details"])
        by_ns = {}
        for p in running:
            by_ns[p.namespace] = by_ns.get(p.namespace, 0) + p.gpus
        assert {ns: d["allocatedGpu"] for ns, d in details["namespaces"].items()} == by_ns
        for ns, d in details["namespaces"].items():
            pods = [p for p in running if p.namespace == ns]
            assert d["workloadCount"] == len(pods)
            util = sum(sum(p.util(i, minute) for i in range(p.gpus)) for p in pods) / by_ns[ns]
            assert close(d["utilization"], util, UTIL_TOL)
        users = {}
        for p in running:
            k = f"{USER_KEY}:{p.user or 'unknown'}"
            users[k] = users.get(k, 0) + p.gpus
        assert {k: v["allocatedGpu"] for k, v in details["annotations"].items() if k.startswith(USER_KEY)} == users


def test_top_level_workloads_carry_their_user(nvidia_db, expect):
    """gpu_workload rows let the sql source resolve users the way it does on real Lens data."""
    latest: dict[tuple, tuple[int, str | None]] = {}
    first: dict[tuple, int] = {}
    for (h, ns, kind, name), e in sorted(expect["workload"].items()):
        key = (ns, kind, name)
        first.setdefault(key, h)
        latest[key] = (h, e["user"] or latest.get(key, (0, None))[1])
    got = {(r["namespace"], r["kind"], r["name"]): r for r in rows(nvidia_db, "gpu_workload")}
    assert set(got) == set(latest)
    for key, (h, user) in latest.items():
        r = got[key]
        assert r["parent_uid"] == "" and r["source"] == "prometheus"
        assert as_json(r["annotations"]).get(USER_KEY) == user, key
        assert r["created_at"] == START + timedelta(hours=first[key])
        assert r["updated_at"] == START + timedelta(hours=h + 1)


# -- acceptance 3: idempotent, resumable ----------------------------------------------------

def _table_contents(db: str) -> dict[str, list]:
    """Every row of every table written, minus ids and row bookkeeping, floats to 9 digits
    (Prometheus may add the same numbers in another order)."""
    def norm(v):
        if isinstance(v, float):
            return float(f"{v:.9g}")
        if isinstance(v, str) and v[:1] == "{":
            return norm(json.loads(v))
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    out = {}
    for table in ("cluster_gpu_hourly_stats", "namespace_gpu_hourly_stats",
                  "workload_gpu_hourly_stats", "label_gpu_hourly_stats",
                  "gpu_allocation_snapshots", "gpu_workload"):
        skip = {"id"} if table == "gpu_workload" else {"id", "created_at", "updated_at"}
        out[table] = sorted(json.dumps({k: norm(v) for k, v in r.items() if k not in skip},
                                       sort_keys=True, default=str) for r in rows(db, table))
    return out


def test_running_twice_changes_nothing_and_since_last_adds_only_new_hours(prometheus, tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    until_1 = (START + timedelta(hours=30)).isoformat()
    first = ingest(prometheus.url, db, tmp_path, "--until", until_1, since=(START + timedelta(hours=20)).isoformat())
    assert "ingested 10 of 10 hours" in first.stdout
    before = _table_contents(db)
    ingest(prometheus.url, db, tmp_path, "--until", until_1, since=(START + timedelta(hours=20)).isoformat())
    assert _table_contents(db) == before
    ids = {r["id"] for r in rows(db, "cluster_gpu_hourly_stats")}

    # resume: only hours 30..35 are added, the earlier rows are not touched (same ids)
    third = ingest(prometheus.url, db, tmp_path, "--until", (START + timedelta(hours=36)).isoformat(),
                   since="last")
    assert "ingested 6 of 6 hours" in third.stdout
    cluster = rows(db, "cluster_gpu_hourly_stats")
    assert sorted(hour_index(r["stat_hour"]) for r in cluster) == list(range(20, 36))
    assert {r["id"] for r in cluster if hour_index(r["stat_hour"]) < 30} == ids
    after = _table_contents(db)
    for table in ("cluster_gpu_hourly_stats", "namespace_gpu_hourly_stats", "label_gpu_hourly_stats"):
        assert set(before[table]) <= set(after[table])
    nothing = ingest(prometheus.url, db, tmp_path, "--until", (START + timedelta(hours=36)).isoformat(),
                     since="last")
    assert "nothing to ingest" in nothing.stdout


# -- acceptance 4: AMD names through config ---------------------------------------------------

def test_amd_metric_names_produce_the_same_rows(prometheus, nvidia_db, tmp_path):
    db = f"sqlite:///{tmp_path / 'amd.db'}"
    lo, hi = 40, 52
    ingest(prometheus.url, db, tmp_path, "--until", (START + timedelta(hours=hi)).isoformat(),
           since=(START + timedelta(hours=lo)).isoformat(), config=AMD_CONFIG)
    keys = {
        "cluster_gpu_hourly_stats": ("stat_hour",),
        "namespace_gpu_hourly_stats": ("stat_hour", "namespace"),
        "workload_gpu_hourly_stats": ("stat_hour", "namespace", "workload_name"),
        "label_gpu_hourly_stats": ("stat_hour", "dimension_type", "dimension_key", "dimension_value"),
    }
    window = "stat_hour >= :lo AND stat_hour < :hi"
    params = {"lo": (START + timedelta(hours=lo)).replace(tzinfo=None),
              "hi": (START + timedelta(hours=hi)).replace(tzinfo=None)}
    for table, key in keys.items():
        nv = {tuple(hour_index(r[k]) if k == "stat_hour" else r[k] for k in key): r
              for r in rows(nvidia_db, table, window, **params)}
        amd = {tuple(hour_index(r[k]) if k == "stat_hour" else r[k] for k in key): r
               for r in rows(db, table)}
        assert set(nv) == set(amd) and nv, table
        for k, r in nv.items():
            for col in ("allocated_gpu_count", "avg_utilization", "max_utilization", "min_utilization"):
                assert close(amd[k][col], r[col], 1e-6), (table, k, col)
    # the exporters' GPU model label is noted per cluster, for model prices (agent.prices)
    assert list(gpu_models(db).values()) == ["MI300X"]
    assert list(gpu_models(nvidia_db).values()) == ["NVIDIA H100 80GB HBM3"]


def gpu_models(db: str) -> dict[str, str]:
    from agent.sources.sql import SqlSource

    src = SqlSource(db)
    try:
        return src.gpu_models()
    finally:
        src.close()


# -- acceptance 5: failures are one line, exit 1, and never half an hour -----------------------

def _hours_by_table(db: str) -> dict[str, set[int]]:
    out = {}
    for table in ("cluster_gpu_hourly_stats", "namespace_gpu_hourly_stats",
                  "workload_gpu_hourly_stats", "label_gpu_hourly_stats"):
        try:
            out[table] = {hour_index(r["stat_hour"]) for r in rows(db, table)}
        except Exception:  # noqa: BLE001 - the table may not exist at all
            out[table] = set()
    try:
        out["snapshots"] = {hour_index(r["snapshot_time"]) for r in rows(db, "gpu_allocation_snapshots")}
    except Exception:  # noqa: BLE001
        out["snapshots"] = set()
    return out


def test_unreachable_prometheus_is_one_line_and_writes_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    config = NVIDIA_CONFIG + "  retries: 1\n  retry_backoff: 0.05\n"
    r = ingest(f"http://127.0.0.1:{free_port()}", db, tmp_path, code=1, config=config)
    line = r.error_line()
    assert line.startswith("error: Prometheus at http://127.0.0.1:") and "connection refused" in line
    assert "after 2 attempts" in line
    assert all(not hours for hours in _hours_by_table(db).values())


class FaultyProxy:
    """Forwards to the real Prometheus, then misbehaves from the Nth query on."""

    def __init__(self, upstream: str, fail_after: int, status: int, body: bytes,
                 content_type: str = "application/json", recover_after: int | None = None):
        self.calls = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    proxy.calls += 1
                    n = proxy.calls
                failing = n > fail_after and (recover_after is None or n <= recover_after)
                if failing:
                    status_, body_, ctype = status, body, content_type
                else:
                    up = httpx.post(upstream + self.path, content=data, timeout=60,
                                    headers={"Content-Type": self.headers["Content-Type"]})
                    status_, body_, ctype = up.status_code, up.content, up.headers["content-type"]
                self.send_response(status_)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body_)))
                self.end_headers()
                self.wfile.write(body_)

            def log_message(self, *args):
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def queries_per_chunk() -> int:
    from agent.settings import PrometheusSettings
    from reporter.ingest.fetch import build_queries
    from reporter.ingest.prometheus import dimensions

    p = PrometheusSettings(label_keys=["team"], annotation_keys=["project"])
    return len(build_queries(p, dimensions(p, USER_KEY), 3))


@pytest.mark.parametrize("status,body,ctype,expect_text", [
    (422, b'{"status":"error","errorType":"execution","error":"query processing would load too '
          b'many samples into memory"}', "application/json", "HTTP 422) execution: query processing"),
    (400, b'{"status":"error","errorType":"bad_data","error":"1:1: parse error: unexpected"}',
     "application/json", "refused the"),
    (503, b'{"status":"error","errorType":"unavailable","error":"TSDB not ready"}',
     "application/json", "HTTP 503 unavailable: TSDB not ready (after 2 attempts)"),
    (200, b"<html>login</html>", "text/html", "not a Prometheus API answer"),
])
def test_prometheus_errors_leave_only_whole_hours(prometheus, tmp_path, status, body, ctype,
                                                  expect_text):
    proxy = FaultyProxy(prometheus.url, queries_per_chunk(), status, body, ctype)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    config = NVIDIA_CONFIG + "  chunk_hours: 3\n  concurrency: 2\n  retries: 1\n  retry_backoff: 0.05\n"
    try:
        r = ingest(proxy.url, db, tmp_path, "--until", (START + timedelta(hours=9)).isoformat(),
                   code=1, config=config)
    finally:
        proxy.close()
    line = r.error_line()
    assert expect_text in line, line
    assert "3 earlier hour(s) were written, each complete (resume with --since last)" in line
    hours = _hours_by_table(db)
    assert all(h == {0, 1, 2} for h in hours.values()), hours


def test_a_transient_503_is_retried(prometheus, tmp_path):
    proxy = FaultyProxy(prometheus.url, 2, 503, b'{"status":"error","errorType":"unavailable",'
                        b'"error":"starting"}', recover_after=4)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    config = NVIDIA_CONFIG + "  retries: 3\n  retry_backoff: 0.05\n  concurrency: 1\n"
    try:
        ingest(proxy.url, db, tmp_path, "--until", (START + timedelta(hours=2)).isoformat(), config=config)
    finally:
        proxy.close()
    assert _hours_by_table(db)["cluster_gpu_hourly_stats"] == {0, 1}


@pytest.mark.postgres
def test_a_failing_write_rolls_back_the_whole_hour(prometheus, tmp_path):
    """A database error in the middle of an hour (after its cluster and namespace rows were
    inserted) leaves none of that hour's rows; the hours before it stay complete."""
    from agent.sources import schema
    from reporter import store_marker

    url = create_pg_database("gr_ingest_fail")
    try:
        eng = create_engine(url)
        schema.metadata.create_all(eng)
        bad_hour = (START + timedelta(hours=2)).replace(tzinfo=None)
        with eng.begin() as c:
            store_marker.write_marks(c, "ingest", ["lab"])  # a store of ingest's own
            c.execute(text(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.stat_hour = '{bad_hour:%Y-%m-%d %H:%M:%S}' THEN "
                "RAISE EXCEPTION 'disk quota exceeded'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
            c.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON label_gpu_hourly_stats "
                           "FOR EACH ROW EXECUTE FUNCTION refuse()"))
        eng.dispose()
        r = ingest(prometheus.url, url, tmp_path, "--until", (START + timedelta(hours=4)).isoformat(),
                   code=1)
        line = r.error_line()
        assert "writing hour 2026-11-14 02:00 to the store failed" in line and "disk quota exceeded" in line
        assert "2 earlier hour(s) were written" in line
        hours = _hours_by_table(url)
        assert all(h == {0, 1} for h in hours.values()), hours
    finally:
        drop_pg_database(url)


def test_bad_arguments_and_names_are_one_line(prometheus, tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    r = ingest(prometheus.url, db, tmp_path, since="a fortnight", code=1)
    assert "--since: expected e.g. 14d, 36h, 2w or an ISO time" in r.error_line()
    r = ingest(prometheus.url, db, tmp_path, since=END.isoformat(), code=1)
    assert "nothing to ingest" in r.error_line()
    bad = NVIDIA_CONFIG + '  utilization_metric: "DCGM util{x}"\n'
    r = ingest(prometheus.url, db, tmp_path, config=bad, code=1)
    assert "prometheus.utilization_metric: not a Prometheus metric name" in r.error_line()
    r = ingest("localhost:9090", db, tmp_path, code=1)
    assert "must start with http://" in r.error_line()


def test_wrong_resource_name_warns_instead_of_writing_zeros(prometheus, tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    config = NVIDIA_CONFIG + "  gpu_resource: nvidia_com_gpu_typo\n"
    r = ingest(prometheus.url, db, tmp_path, "--until", (START + timedelta(hours=2)).isoformat(),
               config=config)
    assert "ingested 0 of 2 hours" in r.stdout
    assert "had no samples of kube_node_status_capacity" in r.stderr and "check prometheus.gpu_resource" in r.stderr
    assert not _hours_by_table(db)["cluster_gpu_hourly_stats"]


# -- acceptance 6: the rest of gpureport works on ingested data --------------------------------

def _gpu_weighted(entries) -> tuple[float, float]:
    gpu_hours = sum(e["allocated"] for e in entries)
    util = sum(e["allocated"] * e["util"] for e in entries) / gpu_hours
    return gpu_hours, util


def test_ask_trend_compare_drilldown_and_weekly_report_answer_from_ingested_data(
        nvidia_db, expect, tmp_path):
    def ask(question: str) -> dict:
        r = gpureport("ask", question, "--json", "--no-llm", db=nvidia_db, home=tmp_path)
        assert r.exit_code == 0, r
        return r.json()

    # trend over the whole data: every hour, figures from the generated pods
    out = ask("What is the GPU utilization trend over the last 3 days?")
    assert out["intent"] == "trend"
    fig = out["figures"]
    gpu_hours, util = _gpu_weighted(expect["cluster"].values())
    assert len(fig["series"]) == DAYS * 24
    assert close(fig["gpu_hours"], gpu_hours, ALLOC_TOL * DAYS * 24)
    assert close(fig["avg_utilization"], util, UTIL_TOL)
    capacity = sum(expect["capacity"].values())
    assert close(fig["allocation_rate"], gpu_hours / capacity * 100, 0.1)

    # compare two namespaces
    out = ask("Compare GPU usage between ml-team and nlp-team over the last 3 days")
    assert out["intent"] == "compare"
    for side, ns in (("a", "ml-team"), ("b", "nlp-team")):
        gh, u = _gpu_weighted([e for (h, n), e in expect["namespace"].items() if n == ns])
        assert close(out["figures"][side]["gpu_hours"], gh, 0.05 * DAYS * 24), side
        assert close(out["figures"][side]["avg_utilization"], u, UTIL_TOL), side

    # drill-down: yesterday (Mon) vs the day before (Sun) in ml-team, by user then workload
    out = ask("Why did ml-team's utilization change yesterday compared to the day before yesterday?")
    assert out["intent"] == "drilldown", out
    fig = out["figures"]
    day = lambda d: [e for (h, n), e in expect["namespace"].items() if n == "ml-team" and h // 24 == d]  # noqa: E731
    _, before = _gpu_weighted(day(1))
    _, after = _gpu_weighted(day(2))
    assert close(fig["total_delta_pp"], after - before, UTIL_TOL)
    assert close(sum(c["impact_pp"] for c in fig["contributors"] if c["kind"] == "user"),
                 fig["total_delta_pp"], 1e-6)
    users = {c["name"] for c in fig["contributors"] if c["kind"] == "user"}
    assert users & {"alice", "bob", "carol"}

    # the weekly digest over the ingested days
    out_dir = tmp_path / "reports"
    r = gpureport("report", "weekly", "--period", "2026-11-14..2026-11-16", "--format", "html",
                  "--out", str(out_dir), db=nvidia_db, home=tmp_path)
    assert r.exit_code == 0, r
    html = Path(r.stdout.strip().splitlines()[-1]).read_text()
    for ns in ("ml-team", "cv-team", "nlp-team", "research"):
        assert ns in html
    assert "lab" in html


# -- issue 11: ingest writes only into a store it owns ----------------------------------------

def _tables(db: str) -> set[str]:
    from sqlalchemy import inspect

    eng = create_engine(db)
    try:
        return set(inspect(eng).get_table_names())
    finally:
        eng.dispose()


def _count(db: str, table: str, where: str = "TRUE", **params) -> int:
    eng = create_engine(db)
    try:
        with eng.connect() as c:
            return c.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar()
    finally:
        eng.dispose()


def test_a_lens_database_is_refused_and_keeps_every_row(prometheus, tmp_path):
    """The issue's case: pointed at a Lens database, ingest deleted its workload rows
    (1,405 -> 24). A database with Lens rows and no gpureport marker is refused before a
    table is created or a row touched."""
    db = f"sqlite:///{tmp_path / 'lens.db'}"
    ingest(prometheus.url, db, tmp_path, "--until", (START + timedelta(hours=12)).isoformat())
    eng = create_engine(db)
    with eng.begin() as c:  # what is left is what a Lens deployment would have written
        c.execute(text("DROP TABLE gpureport_store"))
    eng.dispose()
    before = {t: _count(db, t) for t in ("workload_gpu_hourly_stats", "cluster_gpu_hourly_stats")}
    tables = _tables(db)
    assert before["workload_gpu_hourly_stats"] > 50

    r = ingest(prometheus.url, db, tmp_path, "--until", (START + timedelta(hours=12)).isoformat(),
               code=1)
    line = r.error_line()
    assert line == (f"error: {db} looks like a Lens database gpureport does not own (it has "
                    "cluster_gpu_hourly_stats but no gpureport_store marker); point "
                    "source.database_url (GPUREPORT_DATABASE_URL) at a store of your own")
    assert {t: _count(db, t) for t in before} == before
    assert _tables(db) == tables


def test_a_database_with_only_some_empty_lens_tables_is_refused_and_gets_nothing(prometheus,
                                                                                 tmp_path):
    from agent.sources import schema

    db = f"sqlite:///{tmp_path / 'lens.db'}"
    eng = create_engine(db)
    schema.cluster_hourly.create(eng)
    eng.dispose()
    r = ingest(prometheus.url, db, tmp_path, "--until", (START + timedelta(hours=2)).isoformat(),
               code=1)
    assert "looks like a Lens database gpureport does not own" in r.error_line()
    assert _tables(db) == {"cluster_gpu_hourly_stats"}


def test_ingest_does_not_write_a_cluster_the_demo_wrote(prometheus, tmp_path, demo_copy):
    where = "cluster_name = 'gpu-east'"
    before = _count(demo_copy, "workload_gpu_hourly_stats", where)
    until = (START + timedelta(hours=3)).isoformat()
    r = ingest(prometheus.url, demo_copy, tmp_path, "--until", until, "--cluster", "gpu-east",
               code=1)
    assert ("cluster 'gpu-east' there was written by the demo (gpureport demo), not by "
            "gpureport ingest prometheus") in r.error_line()
    assert _count(demo_copy, "workload_gpu_hourly_stats", where) == before

    # a cluster of its own in the same store is fine, and the demo's rows stay as they were
    ingest(prometheus.url, demo_copy, tmp_path, "--until", until)
    assert _count(demo_copy, "workload_gpu_hourly_stats", where) == before
    assert _count(demo_copy, "cluster_gpu_hourly_stats", "cluster_name = 'lab'") == 3
    marks = dict(rows_of(demo_copy, "SELECT cluster, owner FROM gpureport_store"))
    assert marks["lab"] == "ingest" and marks["gpu-east"] == "demo"

    # and the demo will not --reset over ingested data
    from reporter.demo import DemoError, generate

    with pytest.raises(DemoError, match="holds cluster 'lab' ingested from Prometheus"):
        generate(demo_copy, now=END, reset=True)


def test_reingesting_replaces_only_the_hours_and_cluster_it_ingests(prometheus, tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    four = (START + timedelta(hours=4)).isoformat()
    ingest(prometheus.url, db, tmp_path, "--until", four)
    ingest(prometheus.url, db, tmp_path, "--until", four, "--cluster", "lab2")
    lab_ids = {r["id"] for r in rows(db, "workload_gpu_hourly_stats", "cluster_name = 'lab'")}
    # lab2 again, hours 2..3 only: lab's rows and lab2's hours 0..1 keep their ids
    lab2_early = {r["id"] for r in rows(db, "workload_gpu_hourly_stats",
                                        "cluster_name = 'lab2' AND stat_hour < :h",
                                        h=(START + timedelta(hours=2)).replace(tzinfo=None))}
    ingest(prometheus.url, db, tmp_path, "--until", four, "--cluster", "lab2",
           since=(START + timedelta(hours=2)).isoformat())
    assert {r["id"] for r in rows(db, "workload_gpu_hourly_stats",
                                  "cluster_name = 'lab'")} == lab_ids
    assert lab2_early <= {r["id"] for r in rows(db, "workload_gpu_hourly_stats",
                                                "cluster_name = 'lab2'")}
    assert dict(rows_of(db, "SELECT cluster, owner FROM gpureport_store")) == \
        {"lab": "ingest", "lab2": "ingest"}


def rows_of(db: str, query: str) -> list[tuple]:
    eng = create_engine(db)
    try:
        with eng.connect() as c:
            return [tuple(r) for r in c.execute(text(query))]
    finally:
        eng.dispose()


# -- small pieces, in process ---------------------------------------------------------------

def test_configuration_helpers():
    from agent.settings import PrometheusSettings
    from reporter.ingest.prometheus import dimensions, effective_settings, plan_range
    from reporter.ingest.promql import ksm_label

    amd = effective_settings(PrometheusSettings(vendor="amd"))
    assert (amd.utilization_metric, amd.gpu_resource) == ("gpu_gfx_activity", "amd_com_gpu")
    mine = effective_settings(PrometheusSettings(vendor="amd", utilization_metric="amd_gpu_util"))
    assert mine.utilization_metric == "amd_gpu_util" and mine.gpu_resource == "amd_com_gpu"
    assert ksm_label("annotation_", "primus-safe.user.name") == "annotation_primus_safe_user_name"
    assert ksm_label("label_", "app.kubernetes.io/name") == "label_app_kubernetes_io_name"
    dims = dimensions(PrometheusSettings(annotation_keys=[USER_KEY, "cost-center"], label_keys=["team"]),
                      USER_KEY)
    assert [(d.dimension_type, d.key, d.prom_label) for d in dims] == [
        ("annotation", USER_KEY, "annotation_primus_safe_user_name"),
        ("annotation", "cost-center", "annotation_cost_center"), ("label", "team", "label_team")]
    now = datetime(2026, 11, 17, 10, 40, tzinfo=timezone.utc)
    start, end, resumed = plan_range(now, "36h", None, lambda: None)
    assert (start, end, resumed) == (datetime(2026, 11, 15, 22, tzinfo=timezone.utc),
                                     datetime(2026, 11, 17, 10, tzinfo=timezone.utc), False)
    start, _, resumed = plan_range(now, "last", None, lambda: datetime(2026, 11, 17, 5, tzinfo=timezone.utc))
    assert start == datetime(2026, 11, 17, 6, tzinfo=timezone.utc) and resumed
    start, _, _ = plan_range(now, "last", None, lambda: None)
    assert start == datetime(2026, 11, 3, 10, tzinfo=timezone.utc)  # the default 14 days
