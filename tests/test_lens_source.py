"""The `lens` source against a local server that speaks the Lens contract (tests/fakes/lens_api.py).

One small PostgreSQL database is built per module from explicit rows; every expected figure is
computed here from those rows (plain Python sums), never by the code under test. The data:

* clusters ``alpha`` (64 GPUs) and ``beta`` (32 GPUs), hourly rows for hours 0..48 after
  ``T0`` — the period under test is ``[T0, T0+48h)``, so the row *at* the end must be dropped
  although the API's range is inclusive; ``gamma`` only has one old row;
* alpha/ml-team has 30 workloads × 49 hours = 1470 workload rows, more than one API page;
  users come from the row annotation (train-0..9), from ``owner_name`` (train-10..19, train-10
  with an *empty* annotation) or are unknown (train-20..29);
* floats that are integral are served without a decimal point (``8``), as Go prints them.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import create_engine, insert

from agent.settings import SourceSettings
from agent.sources import make_source
from agent.sources import schema as s
from agent.sources.base import NotFound, Scope, SourceError
from agent.sources.lens import LensSource, normalize_base_url
from tests.conftest import create_pg_database, drop_pg_database
from tests.fakes.lens_api import serve_lens

pytestmark = pytest.mark.postgres

USER_KEY = "primus-safe.user.name"
T0 = datetime(2026, 11, 16)  # naive UTC, as Lens stores it
START = T0.replace(tzinfo=timezone.utc)
END = START + timedelta(hours=48)
HOURS = range(49)  # 0..48: hour 48 sits exactly at END
CAPACITY = {"alpha": 64, "beta": 32}


def at(h: float) -> datetime:
    return T0 + timedelta(hours=h)


# -- the rows ------------------------------------------------------------------------------------
def cluster_rows() -> list[dict]:
    rows = []
    for name, cap in CAPACITY.items():
        for h in HOURS:
            alloc = 8.0 * (h % 5) + (0.25 if h % 2 else 0.0)  # even hours: integral -> "8"
            rows.append(dict(cluster_name=name, stat_hour=at(h), total_gpu_capacity=cap,
                             allocated_gpu_count=alloc, allocation_rate=alloc / cap * 100,
                             avg_utilization=40.0 + (h % 7) * 1.5, sample_count=12))
    rows.append(dict(cluster_name="gamma", stat_hour=datetime(2026, 10, 1), total_gpu_capacity=16,
                     allocated_gpu_count=4.0, allocation_rate=25.0, avg_utilization=10.0,
                     sample_count=12))
    return rows


def namespace_rows() -> list[dict]:
    rows = []
    for h in HOURS:
        rows.append(dict(cluster_name="alpha", namespace="ml-team", stat_hour=at(h),
                         allocated_gpu_count=6.5 + h % 3, avg_utilization=30.0 + h % 4))
        rows.append(dict(cluster_name="alpha", namespace="infra", stat_hour=at(h),
                         allocated_gpu_count=2.0, avg_utilization=10.0))
        rows.append(dict(cluster_name="beta", namespace="ml-team", stat_hour=at(h),
                         allocated_gpu_count=3.0, avg_utilization=55.5))
    return rows


def label_rows() -> list[dict]:
    rows = []
    for h in HOURS:
        for cluster, dtype, key, value, alloc, util in (
                ("alpha", "annotation", USER_KEY, "user_a", 4.0 + (h % 2) * 0.5, 60.0),
                ("alpha", "annotation", USER_KEY, "user_b", 2.5, 20.0),
                ("alpha", "annotation", USER_KEY, "unknown", 1.0, 0.0),
                ("alpha", "label", "team", "ml", 6.5, 30.0),
                ("beta", "annotation", USER_KEY, "user_a", 3.0, 55.5)):
            rows.append(dict(cluster_name=cluster, dimension_type=dtype, dimension_key=key,
                             dimension_value=value, stat_hour=at(h), allocated_gpu_count=alloc,
                             avg_utilization=util))
    return rows


def workload_rows() -> list[dict]:
    rows = []
    for i in range(30):
        if i < 10:
            annotations, owner = {USER_KEY: "user_a"}, ""
        elif i < 20:
            annotations, owner = ({USER_KEY: ""} if i == 10 else {}), "user_b"
        else:
            annotations, owner = {}, ""
        hours = range(11) if i == 29 else HOURS
        for h in hours:
            rows.append(dict(cluster_name="alpha", namespace="ml-team", workload_name=f"train-{i}",
                             workload_type="PyTorchJob" if i % 2 else "Job", stat_hour=at(h),
                             allocated_gpu_count=1.0 if i % 3 else 0.5,
                             avg_utilization=round((i * 3.7 + h) % 100, 3),
                             annotations=annotations, owner_name=owner))
    for j in range(3):
        for h in HOURS:
            rows.append(dict(cluster_name="alpha", namespace="infra", workload_name=f"monitor-{j}",
                             workload_type="Deployment", stat_hour=at(h),
                             allocated_gpu_count=2 / 3, avg_utilization=5.0, annotations={},
                             owner_name=""))
    for i in range(5):
        for h in HOURS:
            rows.append(dict(cluster_name="beta", namespace="ml-team", workload_name=f"train-{i}",
                             workload_type="Job", stat_hour=at(h), allocated_gpu_count=0.75,
                             avg_utilization=50.0, annotations={USER_KEY: "user_a"},
                             owner_name=""))
    return rows


def snapshot_rows() -> list[dict]:
    ns = {"ml-team": {"allocatedGpu": 12, "utilization": 40.5, "workloadCount": 6, "workloads": []},
          "infra": {"allocatedGpu": 4, "utilization": 5.0, "workloadCount": 3, "workloads": []}}
    rows = [dict(cluster_name="alpha", snapshot_time=at(47) + timedelta(minutes=5 * k),
                 dimension_type="cluster", dimension_key="", dimension_value="",
                 total_gpu_capacity=64, allocated_gpu_count=16 + k,
                 allocation_details={"namespaces": ns, "annotations": {}, "workloads": {}})
            for k in range(13)]  # 47:00 .. 48:00
    rows.append(dict(cluster_name="alpha", snapshot_time=at(47) + timedelta(minutes=41),
                     dimension_type="namespace", dimension_key=None, dimension_value=None,
                     total_gpu_capacity=1, allocated_gpu_count=1, allocation_details={}))
    rows.append(dict(cluster_name="beta", snapshot_time=at(47.5), dimension_type="cluster",
                     dimension_key="", dimension_value="", total_gpu_capacity=32,
                     allocated_gpu_count=8,
                     allocation_details={"namespaces": {"ml-team": {
                         "allocatedGpu": 8, "utilization": 60.0, "workloadCount": 2}}}))
    return rows


def gpu_workload_rows() -> list[dict]:
    def ts(day: int) -> datetime:
        return datetime(2026, 11, day, 8, tzinfo=timezone.utc)

    base = dict(group_version="apps/v1", gpu_request=0, labels={}, annotations={}, end_at=None,
                deleted_at=None, source=None)
    return [
        {**base, "kind": "Deployment", "namespace": "serving", "name": "svc-web", "uid": "u-web",
         "parent_uid": "", "created_at": ts(10), "updated_at": ts(17), "status": "Running"},
        {**base, "kind": "ReplicaSet", "namespace": "serving", "name": "svc-web-rs",
         "uid": "u-web-rs", "parent_uid": "u-web", "created_at": ts(10), "updated_at": ts(10),
         "status": "Running"},
        {**base, "kind": "Pod", "namespace": "serving", "name": "svc-web-rs-1", "uid": "u-web-p1",
         "parent_uid": "u-web-rs", "created_at": ts(11), "updated_at": ts(11), "status": "Running"},
        {**base, "kind": "Pod", "namespace": "serving", "name": "svc-web-rs-2", "uid": "u-web-p2",
         "parent_uid": "u-web-rs", "created_at": ts(12), "updated_at": ts(12), "status": "Running"},
        {**base, "kind": "Deployment", "namespace": "serving", "name": "svc-api", "uid": "u-api",
         "parent_uid": "", "created_at": ts(12), "updated_at": ts(13), "status": "Pending"},
        {**base, "kind": "Job", "namespace": "batch", "name": "etl", "uid": "u-etl",
         "parent_uid": "", "created_at": ts(14), "updated_at": ts(15), "status": "Done",
         "source": "safe"},
        {**base, "kind": "StatefulSet", "namespace": "legacy", "name": "svc-old", "uid": "u-old",
         "parent_uid": "", "created_at": ts(1), "updated_at": ts(2), "status": "Deleted",
         "deleted_at": ts(3)},
    ]


DATA = {
    "cluster": cluster_rows(), "namespace": namespace_rows(), "label": label_rows(),
    "workload": workload_rows(), "snapshots": snapshot_rows(), "gpu_workload": gpu_workload_rows(),
}


@pytest.fixture(scope="module")
def db_url():
    url = create_pg_database("gr_lens")
    engine = create_engine(url)
    s.metadata.create_all(engine)
    with engine.begin() as conn:
        for table, key in ((s.cluster_hourly, "cluster"), (s.namespace_hourly, "namespace"),
                           (s.label_hourly, "label"), (s.workload_hourly, "workload"),
                           (s.snapshots, "snapshots"), (s.gpu_workload, "gpu_workload")):
            conn.execute(insert(table), DATA[key])
    engine.dispose()
    yield url
    drop_pg_database(url)


@pytest.fixture
def server(db_url):
    with serve_lens(db_url) as srv:
        yield srv


@pytest.fixture
def src(server):
    source = LensSource(server.url, retries=3, backoff=0.001, timeout=5)
    yield source
    source.close()


# -- independent expectations ---------------------------------------------------------------------
def in_period(rows, start=START, end=END, **match):
    lo, hi = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return [r for r in rows if lo <= r["stat_hour"] < hi
            and all(r.get(k) == v for k, v in match.items())]


def user_of(row: dict) -> str:
    return (row.get("annotations") or {}).get(USER_KEY) or row.get("owner_name") or "(unknown)"


def capacity(clusters=("alpha", "beta", "gamma")) -> float:
    return float(sum(r["total_gpu_capacity"] for r in in_period(DATA["cluster"])
                     if r["cluster_name"] in clusters))


def check(stats, rows, cap, workloads=0):
    gpu = sum(r["allocated_gpu_count"] for r in rows)
    utilized = sum(r["allocated_gpu_count"] * r["avg_utilization"] for r in rows) / 100
    assert stats.gpu_hours == pytest.approx(gpu, abs=1e-9)
    assert stats.utilized_gpu_hours == pytest.approx(utilized, abs=1e-9)
    assert stats.utilization_sum == pytest.approx(sum(r["avg_utilization"] for r in rows), abs=1e-9)
    assert stats.rows == len(rows)
    assert stats.capacity_gpu_hours == pytest.approx(cap, abs=1e-9)
    assert stats.workloads == workloads


def hourly_params(server, path_end: str) -> list[dict]:
    return [r.params for r in server.requests if r.path.endswith(path_end)]


# == the fake server honours the contract (lens.md §1–§4.5) ======================================
def test_server_wraps_hourly_stats_like_lens(server):
    r = httpx.get(server.url + "/gpu-aggregation/cluster/hourly-stats",
                  params={"cluster": "alpha", "start_time": "2026-11-16T00:00:00Z",
                          "end_time": "2026-11-16T02:00:00Z", "page_size": 5})
    body = r.json()
    assert r.status_code == 200 and set(body) == {"meta", "data", "tracing"}
    assert body["meta"] == {"code": 2000, "message": "OK"} and body["tracing"] is None
    page = body["data"]
    # inclusive at both ends; page omitted -> 0; page_size always 10000
    assert (page["total"], page["page"], page["page_size"], page["total_pages"]) == (3, 0, 10000, 1)
    first = page["data"][0]
    assert first["stat_hour"] == "2026-11-16T00:00:00Z" and first["cluster_name"] == "alpha"
    assert {"total_gpu_capacity", "allocated_gpu_count", "avg_utilization", "p95_utilization",
            "sample_count", "created_at"} <= set(first)
    assert '"allocated_gpu_count":0,' in r.text  # Go prints 0.0 as 0
    assert '"allocated_gpu_count":8.25,' in r.text


def test_server_pages_hold_1000_rows_whatever_page_size_says(server):
    params = {"cluster": "alpha", "namespace": "ml-team", "start_time": "2026-11-16T00:00:00Z",
              "end_time": "2026-11-18T00:00:00Z", "page_size": 10}
    url = server.url + "/gpu-aggregation/workloads/hourly-stats"
    pages = [httpx.get(url, params={**params, "page": p}).json()["data"] for p in (1, 2, 3)]
    total = len(in_period(DATA["workload"], end=END + timedelta(seconds=1), cluster_name="alpha",
                          namespace="ml-team"))
    assert [len(p["data"]) for p in pages] == [1000, total - 1000, 0]
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert all(p["total"] == total and p["total_pages"] == 2 for p in pages)


@pytest.mark.parametrize("params, code, message", [
    ({"cluster": "nope"}, 4004, "ClientSet for cluster nope not found"),
    ({"start_time": "2026-11-16"}, 4001, "Invalid start_time format"),
    ({"end_time": "2026-11-16T00:00:00"}, 4001, "Invalid end_time format"),
    ({"start_time": ""}, 4001, "Invalid request parameters"),
    ({"page_size": "5000"}, 4001, "Invalid request parameters"),
    ({"page": "-1"}, 4001, "Invalid request parameters"),
    ({"order_by": "gpu"}, 4001, "Invalid request parameters"),
])
def test_server_errors_are_http_200_envelopes(server, params, code, message):
    base = {"start_time": "2026-11-16T00:00:00Z", "end_time": "2026-11-16T01:00:00Z"}
    r = httpx.get(server.url + "/gpu-aggregation/cluster/hourly-stats", params={**base, **params})
    assert r.status_code == 200
    assert r.json() == {"meta": {"code": code, "message": message}, "data": None, "tracing": None}


def test_server_routing_quirks(server):
    r = httpx.get(server.url + "/gpu-aggregation/clusters/")
    assert r.status_code == 301 and r.headers["location"] == "/v1/gpu-aggregation/clusters"
    for path in (server.url + "/gpu-aggregation/nope",
                 server.root + "/api/gpu-aggregation/clusters"):
        r = httpx.get(path)
        assert (r.status_code, r.text) == (404, "404 page not found")
    latest = httpx.get(server.url + "/gpu-aggregation/snapshots/latest",
                       params={"cluster": "gamma"}).json()
    assert latest["meta"] == {"code": 4004, "message": "No snapshot found"}
    snap = httpx.get(server.url + "/gpu-aggregation/snapshots/latest",
                     params={"cluster": "alpha"}).json()["data"]
    assert snap["snapshot_time"] == "2026-11-18T00:00:00Z" and snap["allocated_gpu_count"] == 28
    assert snap["allocation_details"]["namespaces"]["ml-team"]["allocatedGpu"] == 12
    window = httpx.get(server.url + "/gpu-aggregation/snapshots", params={
        "cluster": "alpha", "start_time": "2026-11-17T23:40:00Z",
        "end_time": "2026-11-17T23:45:00Z"}).json()["data"]
    assert [(w["snapshot_time"], w["dimension_type"], w["dimension_key"]) for w in window] == [
        ("2026-11-17T23:40:00Z", "cluster", ""), ("2026-11-17T23:41:00Z", "namespace", ""),
        ("2026-11-17T23:45:00Z", "cluster", "")]


def test_server_workload_endpoints(server):
    listing = httpx.get(server.url + "/workloads", params={"page_size": 2}).json()["data"]
    assert listing["total"] == 3  # top-level, not deleted
    assert [w["name"] for w in listing["data"]] == ["etl", "svc-api"]  # newest first
    etl = listing["data"][0]
    assert set(etl) == {"kind", "name", "namespace", "uid", "gpu_allocated", "gpu_allocation",
                        "status", "status_color", "start_at", "end_at", "source"}
    assert (etl["status_color"], etl["source"], etl["end_at"]) == (
        "blue", "safe", int(datetime(2026, 11, 15, 8, tzinfo=timezone.utc).timestamp()))
    everything = httpx.get(server.url + "/workloads",
                           params={"page_size": 0, "namespace": "serving"}).json()["data"]
    assert [(w["name"], w["status_color"], w["source"]) for w in everything["data"]] == [
        ("svc-api", "yellow", "k8s"), ("svc-web", "green", "k8s")]
    bad = httpx.get(server.url + "/workloads", params={"page_num": "x"})
    assert bad.status_code == 400 and bad.text.startswith('{"error":') and '"code":5000' in bad.text
    meta = httpx.get(server.url + "/workloadMetadata").json()["data"]
    assert sorted(meta["namespaces"]) == ["batch", "serving"]
    assert sorted(meta["kinds"]) == ["Deployment", "Job"]
    assert httpx.get(server.url + "/workloads/metadata").json()["meta"] == {"code": 4004,
                                                                            "message": ""}
    detail = httpx.get(server.url + "/workloads/u-web").json()["data"]
    assert (detail["apiVersion"], detail["endTime"], detail["pods"]) == ("apps/v1", 0, [])
    tree = httpx.get(server.url + "/workloads/u-web/hierarchy").json()["data"]
    assert tree["children"][0]["name"] == "svc-web-rs"
    assert [c["name"] for c in tree["children"][0]["children"]] == ["svc-web-rs-2", "svc-web-rs-1"]


# == LensSource: configuration ====================================================================
@pytest.mark.parametrize("given, expected", [
    ("http://primus-lens-api:8989", "http://primus-lens-api:8989/v1"),
    ("http://primus-lens-api:8989/", "http://primus-lens-api:8989/v1"),
    ("http://lens.example/api/v1/", "http://lens.example/api/v1"),
    ("primus-lens-api:8989/v1", "http://primus-lens-api:8989/v1"),
])
def test_base_url_gets_the_v1_prefix_and_loses_trailing_slashes(given, expected):
    assert normalize_base_url(given) == expected


def test_factory_builds_the_configured_source(db_url):
    from agent.settings import SourceSettings

    lens = make_source(SourceSettings(kind="lens", lens_url="http://127.0.0.1:9/", retries=1))
    assert isinstance(lens, LensSource) and lens.base_url == "http://127.0.0.1:9/v1"
    assert lens.client.retries == 1
    lens.close()
    with pytest.raises(SourceError, match="lens_url"):
        make_source(SourceSettings(kind="lens"))
    from agent.sources.sql import SqlSource

    for kind in ("sql", "prometheus"):
        sql = make_source(SourceSettings(kind=kind, database_url=db_url))
        assert isinstance(sql, SqlSource)
        sql.close()


# == LensSource: metadata =========================================================================
def test_metadata_lists(src):
    assert src.clusters() == ["alpha", "beta", "gamma"]  # sorted, whatever order the API uses
    assert src.namespaces(None, START, END) == ["infra", "ml-team"]
    assert src.namespaces("beta", START, END) == ["ml-team"]
    assert src.dimension_keys("alpha", "annotation", START, END) == [USER_KEY]
    assert src.dimension_values("alpha", "label", "team", START, END) == ["ml"]
    assert src.users(None, START, END) == ["unknown", "user_a", "user_b"]
    assert src.users("alpha", START, END, namespace="ml-team") == ["(unknown)", "user_a", "user_b"]
    mine = src.workloads("alpha", START, END, namespace="ml-team", user="user_b")
    assert [(w.name, w.kind, w.user, w.cluster) for w in mine] == [
        (f"train-{i}", "PyTorchJob" if i % 2 else "Job", "user_b", "alpha")
        for i in sorted(range(10, 20), key=lambda i: f"train-{i}")]
    everywhere = src.workloads(None, START, END, namespace="ml-team", user="user_a")
    assert len(everywhere) == 15 and {w.cluster for w in everywhere} == {"alpha", "beta"}


def test_ping_counts_clusters(src, server):
    assert src.ping() == f"lens API {server.url} (3 clusters)"


def test_newest_stat_hour(src):
    assert src.newest_stat_hour("gamma") == datetime(2026, 10, 1, tzinfo=timezone.utc)
    assert src.newest_stat_hour(None) == END  # hour 48 exists, even if periods end before it


def test_coverage_counts_hours_with_cluster_rows_like_sql(src, db_url):
    """answers.md §2 on both sources: hours with cluster rows per cluster, and where a
    cluster's data starts when it starts inside the period (gamma: one old row only)."""
    sql = make_source(SourceSettings(database_url=db_url))
    for source in (src, sql):
        cov = {c.cluster: c for c in source.coverage(None, START, END)}
        assert {c: v.hours for c, v in cov.items()} == {"alpha": 48, "beta": 48, "gamma": 0}
        assert cov["gamma"].first == datetime(2026, 10, 1, tzinfo=timezone.utc)
    late = START + timedelta(hours=-5)  # the period starts before alpha's first row
    for source in (src, sql):
        (alpha,) = source.coverage("alpha", late, START + timedelta(hours=3))
        assert (alpha.hours, alpha.first) == (3, START)


# == LensSource: figures equal the sums of the inserted rows ======================================
def test_cluster_figures(src):
    rows = in_period(DATA["cluster"], cluster_name="alpha")
    alpha_workloads = in_period(DATA["workload"], cluster_name="alpha")
    n = len({(r["namespace"], r["workload_name"]) for r in alpha_workloads})
    stats = src.period_stats(Scope(cluster="alpha"), START, END)
    check(stats, rows, capacity(["alpha"]), workloads=n)
    assert stats.name == "alpha" and stats.allocation_rate == pytest.approx(
        sum(r["allocated_gpu_count"] for r in rows) / (64 * 48) * 100)
    every = src.period_stats(Scope(), START, END)  # cluster=None: every cluster, summed
    check(every, in_period(DATA["cluster"]), capacity(), workloads=n + 5)


def test_namespace_user_label_and_workload_figures(src):
    ns_rows = in_period(DATA["namespace"], cluster_name="alpha", namespace="ml-team")
    wl = in_period(DATA["workload"], cluster_name="alpha", namespace="ml-team")
    check(src.period_stats(Scope(kind="namespace", cluster="alpha", namespace="ml-team"),
                           START, END), ns_rows, capacity(["alpha"]), workloads=30)
    # a user without namespace = the user annotation's label rows (no workload identity)
    user_rows = in_period(DATA["label"], cluster_name="alpha", dimension_value="user_a")
    check(src.period_stats(Scope(kind="user", cluster="alpha", user="user_a"), START, END),
          user_rows, capacity(["alpha"]))
    # a user inside a namespace = the workload rows whose user (annotation -> owner) matches
    b_rows = [r for r in wl if user_of(r) == "user_b"]
    check(src.period_stats(Scope(kind="user", cluster="alpha", namespace="ml-team", user="user_b"),
                           START, END), b_rows, capacity(["alpha"]), workloads=10)
    unknown = [r for r in wl if user_of(r) == "(unknown)"]
    check(src.period_stats(Scope(kind="user", cluster="alpha", namespace="ml-team",
                                 user="(unknown)"), START, END), unknown, capacity(["alpha"]),
          workloads=10)
    label = in_period(DATA["label"], cluster_name="alpha", dimension_key="team")
    check(src.period_stats(Scope(kind="label", cluster="alpha", label_key="team", label_value="ml"),
                           START, END), label, capacity(["alpha"]))
    # the same workload name in two clusters: cluster=None adds both
    train0 = in_period(DATA["workload"], workload_name="train-0")
    check(src.period_stats(Scope(kind="workload", namespace="ml-team", workload="train-0"),
                           START, END), train0, capacity(), workloads=2)


def test_children(src):
    cap = capacity(["alpha"])
    by_ns = src.children_stats(Scope(cluster="alpha"), "namespace", START, END)
    assert [c.name for c in by_ns] == ["infra", "ml-team"]
    check(by_ns[1], in_period(DATA["namespace"], cluster_name="alpha", namespace="ml-team"), cap,
          workloads=30)
    check(by_ns[0], in_period(DATA["namespace"], cluster_name="alpha", namespace="infra"), cap,
          workloads=3)
    by_user = src.children_stats(Scope(cluster="alpha"), "user", START, END)
    assert [c.name for c in by_user] == ["unknown", "user_a", "user_b"]
    check(by_user[2], in_period(DATA["label"], cluster_name="alpha", dimension_value="user_b"), cap)
    ml = Scope(kind="namespace", cluster="alpha", namespace="ml-team")
    wl = in_period(DATA["workload"], cluster_name="alpha", namespace="ml-team")
    users = src.children_stats(ml, "user", START, END)
    assert [u.name for u in users] == ["(unknown)", "user_a", "user_b"]
    for u in users:
        check(u, [r for r in wl if user_of(r) == u.name], cap, workloads=10)
    workloads = src.children_stats(ml.with_(kind="user", user="user_a"), "workload", START, END)
    assert len(workloads) == 10
    w3 = next(w for w in workloads if w.name == "train-3")
    assert (w3.namespace, w3.kind, w3.user) == ("ml-team", "PyTorchJob", "user_a")
    check(w3, [r for r in wl if r["workload_name"] == "train-3"], cap, workloads=1)
    teams = src.children_stats(Scope(cluster="alpha"), "label", START, END, label_key="team")
    assert [t.name for t in teams] == ["ml"]
    with pytest.raises(SourceError, match="children of a cluster"):
        src.children_stats(ml, "namespace", START, END)


def test_hourly_series(src):
    series = src.hourly_series(Scope(kind="namespace", cluster="alpha", namespace="ml-team"),
                               START, END)
    rows = in_period(DATA["namespace"], cluster_name="alpha", namespace="ml-team")
    assert [p.time for p in series] == [START + timedelta(hours=h) for h in range(48)]
    for point, row in zip(series, rows):
        assert point.allocated_gpus == pytest.approx(row["allocated_gpu_count"])
        assert point.avg_utilization == pytest.approx(row["avg_utilization"])
        assert point.capacity_gpus == 64


# == LensSource: pagination and the inclusive range ===============================================
def test_more_than_1000_rows_are_read_page_by_page(src, server):
    stats = src.period_stats(Scope(kind="workload", cluster="alpha", workload="train-1"),
                             START, END)  # warm-up: a small query, one page
    server.requests.clear()
    wl = in_period(DATA["workload"], cluster_name="alpha", namespace="ml-team")
    users = src.children_stats(Scope(kind="namespace", cluster="alpha", namespace="ml-team"),
                               "user", START, END)
    assert sum(u.rows for u in users) == len(wl) > 1000
    pages = [p["page"] for p in hourly_params(server, "/workloads/hourly-stats")]
    assert pages[:2] == ["1", "2"]  # more only if ties moved between pages (then split by hour)
    assert stats.rows == 48


def test_rows_repeated_across_pages_are_counted_once(src, server):
    server.page_overlap = 150  # page 2 starts 150 rows early, as if rows were inserted meanwhile
    wl = in_period(DATA["workload"], cluster_name="alpha", namespace="ml-team")
    total = src.period_stats(Scope(kind="user", cluster="alpha", namespace="ml-team",
                                   user="user_a"), START, END)
    check(total, [r for r in wl if user_of(r) == "user_a"], capacity(["alpha"]), workloads=10)
    assert [p["page"] for p in hourly_params(server, "/workloads/hourly-stats")][:2] == ["1", "2"]


def test_rows_that_move_between_pages_are_still_all_found(src, server):
    server.shuffle_ties = True  # ties on stat_hour come back in a new order on every request
    wl = in_period(DATA["workload"], cluster_name="alpha", namespace="ml-team")
    users = src.children_stats(Scope(kind="namespace", cluster="alpha", namespace="ml-team"),
                               "user", START, END)
    for u in users:
        check(u, [r for r in wl if user_of(r) == u.name], capacity(["alpha"]), workloads=10)


def test_the_inclusive_end_of_the_api_is_trimmed(src, server):
    stats = src.period_stats(Scope(cluster="alpha"), START, END)
    assert stats.rows == 48  # the row at END (hour 48) is not part of [START, END)
    sent = hourly_params(server, "/cluster/hourly-stats")[0]
    assert (sent["start_time"], sent["end_time"]) == ("2026-11-16T00:00:00Z",
                                                      "2026-11-17T23:59:59Z")
    # a period ending half a second after an hour keeps that hour
    odd = src.period_stats(Scope(cluster="alpha"), START, START + timedelta(hours=2, seconds=0.5))
    assert odd.rows == 3
    assert src.period_stats(Scope(cluster="alpha"), END, END).rows == 0


# == LensSource: paging is bounded whatever the server claims (issue 11) ==========================
@pytest.mark.parametrize("fields, message", [
    ({"total": "lots"}, "a total that is not a count for /gpu-aggregation/cluster/hourly-stats: "
                        "'lots'"),
    ({"total": -5}, "a negative total"),
    ({"total": True}, "a total that is not a count"),
    ({"total_pages": -1}, "a negative total_pages"),
    ({"total_pages": "2"}, "a total_pages that is not a count"),
])
def test_counts_that_are_not_counts_are_a_clear_error(src, server, fields, message):
    server.page_fields = fields
    with pytest.raises(SourceError, match=message):
        src.period_stats(Scope(cluster="alpha"), START, END)
    assert len(server.requests) == 1


def test_more_pages_than_rows_is_a_clear_error_not_an_endless_loop(src, server):
    server.page_fields, server.empty_pages = {"total_pages": 100_000_000}, True
    with pytest.raises(SourceError, match="reported 100000000 pages for 48 rows"):
        src.period_stats(Scope(cluster="alpha"), START, END)
    assert len(server.requests) == 1


def test_rows_claimed_but_never_sent_are_a_clear_error(src, server):
    server.page_fields, server.empty_pages = {"total": 5000, "total_pages": 5}, True
    with pytest.raises(SourceError, match="reported 5000 rows of /gpu-aggregation/cluster/"
                                          "hourly-stats but sent none"):
        src.period_stats(Scope(cluster="alpha"), START, END)
    assert len(server.requests) == 1


def test_more_rows_than_the_page_cap_allows_are_refused_at_once(server):
    server.page_fields = {"total": 5_000_000, "total_pages": 5000}
    with LensSource(server.url, backoff=0.001) as lens:
        with pytest.raises(SourceError, match="5000000 rows .* more than the 1000 pages"):
            lens.period_stats(Scope(cluster="alpha"), START, END)
    assert len(server.requests) == 1


def test_windows_split_to_find_missing_rows_stop_at_the_page_cap(server):
    server.page_fields = {"total": 1500, "total_pages": 2}  # claims rows it never sends
    with LensSource(server.url, backoff=0.001, max_pages=5) as lens:
        with pytest.raises(SourceError, match="more than 5 pages for one window"):
            lens.period_stats(Scope(cluster="alpha"), START, END)
    assert len(server.requests) == 5


def test_a_pass_ends_at_the_rows_reported(src, server):
    server.page_fields = {"total_pages": 40}  # more pages than the 48 rows need: not read
    assert src.period_stats(Scope(cluster="alpha"), START, END).rows == 48
    assert [p["page"] for p in hourly_params(server, "/cluster/hourly-stats")] == ["1"]


# == LensSource: workload names are looked up, never listed =======================================
def test_workload_lookups_find_exact_case_and_deleted_names(src, server):
    window = (START - timedelta(days=30), END)
    found = src.find_workload_names(None, *window, ["svc-api", "SVC-WEB", "train-1"],
                                    exact=["etl"])
    assert found["svc-api"] == ["svc-api"]
    assert "svc-web" in found["SVC-WEB"]
    assert found["train-1"] == ["train-1"]  # only in the hourly rows: found by the exact filter
    assert found["etl"] == []  # exact-only words are not sent over the API
    paths = server.paths()
    assert "/v1/workloads" in paths and all(
        r.params.get("name") for r in server.requests if r.path == "/v1/workloads")


def test_a_mistyped_workload_gets_near_names_over_the_api(src, server):
    found = src.find_workload_names("alpha", START - timedelta(days=30), END, ["svc_ap"])
    assert "svc-api" in found["svc_ap"]
    names = [r.params["name"] for r in server.requests if r.path == "/v1/workloads"]
    assert names == ["svc_ap", "svc"]  # the word, then its first letters


# == LensSource: realtime snapshot =================================================================
def test_latest_snapshot_for_one_cluster_and_all(src):
    when = START + timedelta(hours=47, minutes=42)
    alpha = src.latest_snapshot("alpha", when)
    assert (alpha.time, alpha.total_gpus, alpha.allocated_gpus) == (
        START + timedelta(hours=47, minutes=40), 64, 24)  # the 47:41 namespace row is ignored
    assert [(a.namespace, a.allocated_gpus) for a in alpha.by_namespace] == [("ml-team", 12),
                                                                             ("infra", 4)]
    both = src.latest_snapshot(None, when)
    assert (both.total_gpus, both.allocated_gpus) == (96, 32)
    ml = both.by_namespace[0]
    assert (ml.namespace, ml.allocated_gpus) == ("ml-team", 20)
    assert ml.utilization == pytest.approx((40.5 * 12 + 60.0 * 8) / 20)
    assert src.latest_snapshot("alpha", START + timedelta(hours=40)) is None


# == LensSource: failures become one-line SourceErrors =============================================
def test_transient_500s_are_retried(src, server):
    server.fail_next(2)
    assert src.clusters() == ["alpha", "beta", "gamma"]
    assert server.paths().count("/v1/gpu-aggregation/clusters") == 3


def test_persistent_500s_give_up_after_the_retries(src, server):
    server.fail_next(100, status=503)
    with pytest.raises(SourceError) as err:
        src.ping()
    assert str(err.value) == (f"Lens API {server.url}: unreachable after 4 attempts "
                              "(HTTP 503 for /v1/gpu-aggregation/clusters)")
    assert len(server.requests) == 4


def test_connection_refused_is_one_clear_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: nothing listens
    src = LensSource(f"http://user:secret@127.0.0.1:{port}", retries=2, backoff=0.001)
    with pytest.raises(SourceError) as err:
        src.clusters()
    message = str(err.value)
    assert message.startswith(f"Lens API http://127.0.0.1:{port}/v1: unreachable after 3 attempts "
                              "(ConnectError:")
    assert "\n" not in message and "secret" not in message


def test_timeouts_are_retried_then_reported(server):
    server.delay(5.0)
    src = LensSource(server.url, timeout=0.1, retries=1, backoff=0.001)
    began = time.monotonic()
    with pytest.raises(SourceError, match=r"unreachable after 2 attempts \(ReadTimeout"):
        src.clusters()
    assert time.monotonic() - began < 3.0  # two 0.1 s timeouts, not the server's 5 s
    server.delay(0)


def test_a_body_that_is_not_json(src, server):
    server.garbage_next(1)
    with pytest.raises(SourceError) as err:
        src.namespaces("alpha", START, END)
    assert str(err.value) == ("Lens API returned a non-JSON body for "
                              "/v1/gpu-aggregation/namespaces: "
                              "'<html><body>502 Bad Gateway (injected)</body></html>'")


def test_an_error_envelope(src, server):
    server.envelope_error_next(1)
    with pytest.raises(SourceError, match=r"^Lens API error 5002 for "
                                          r"/v1/gpu-aggregation/cluster/hourly-stats: "
                                          r"Failed to get cluster hourly stats$"):
        src.period_stats(Scope(cluster="alpha"), START, END)


def test_a_wrong_prefix_fails_at_once_with_a_hint(server):
    src = LensSource(server.root + "/api", retries=3, backoff=0.001)
    with pytest.raises(SourceError, match=r"HTTP 404 for /api/gpu-aggregation/clusters .*"
                                          r"must include the API prefix"):
        src.clusters()
    assert len(server.requests) == 1  # 4xx is not retried


def test_unknown_cluster_suggests_the_real_one(src):
    with pytest.raises(NotFound) as err:
        src.period_stats(Scope(cluster="alpah"), START, END)
    assert (err.value.kind, err.value.name, err.value.suggestions) == ("cluster", "alpah",
                                                                       ["alpha"])
    assert str(err.value) == "unknown cluster 'alpah'; did you mean: alpha?"


# == parity with the sql source on the same database ==============================================
def _fields(p):
    return (p.name, p.namespace, round(p.gpu_hours, 9), round(p.utilized_gpu_hours, 9),
            round(p.utilization_sum, 9), p.rows, round(p.capacity_gpu_hours, 9), p.workloads)


def compare_sources(lens, sql, cluster, start, end, namespace, user, *, user_chain=True):
    scopes = [Scope(cluster=cluster), Scope(kind="namespace", cluster=cluster, namespace=namespace),
              Scope(kind="user", cluster=cluster, user=user)]
    if user_chain:
        scopes.append(Scope(kind="user", cluster=cluster, namespace=namespace, user=user))
    for scope in scopes:
        assert _fields(lens.period_stats(scope, start, end)) == _fields(
            sql.period_stats(scope, start, end))
        a, b = lens.hourly_series(scope, start, end), sql.hourly_series(scope, start, end)
        assert [(p.time, round(p.allocated_gpus, 9), round(p.utilized_gpus, 9), p.rows,
                 p.capacity_gpus) for p in a] == [
            (p.time, round(p.allocated_gpus, 9), round(p.utilized_gpus, 9), p.rows, p.capacity_gpus)
            for p in b]
    children = [(Scope(cluster=cluster), "namespace"), (Scope(cluster=cluster), "user"),
                (Scope(kind="namespace", cluster=cluster, namespace=namespace), "workload")]
    if user_chain:
        children.append((Scope(kind="namespace", cluster=cluster, namespace=namespace), "user"))
    for scope, child in children:
        assert [_fields(p) for p in lens.children_stats(scope, child, start, end)] == [
            _fields(p) for p in sql.children_stats(scope, child, start, end)]
    assert lens.namespaces(cluster, start, end) == sql.namespaces(cluster, start, end)
    assert lens.users(cluster, start, end) == sql.users(cluster, start, end)
    assert lens.newest_stat_hour(cluster) == sql.newest_stat_hour(cluster)


@pytest.mark.parametrize("cluster", ["alpha", None])
def test_same_figures_as_the_sql_source(src, db_url, cluster):
    from agent.sources.sql import SqlSource

    sql = SqlSource(db_url)
    try:
        compare_sources(src, sql, cluster, START, END, "ml-team", "user_a")
        wl = [(w.namespace, w.name, w.kind, w.user, w.cluster)
              for w in src.workloads(cluster, START, END, namespace="ml-team")]
        want = sql.workloads(cluster, START, END, namespace="ml-team")
        assert sorted(wl) == sorted((w.namespace, w.name, w.kind, w.user, w.cluster) for w in want)
        when = START + timedelta(hours=47, minutes=42)
        assert src.latest_snapshot(cluster, when) == sql.latest_snapshot(cluster, when)
    finally:
        sql.close()


def test_same_figures_as_the_sql_source_on_the_demo_store(demo_pg):
    """The demo's users live only in gpu_workload, which the API cannot show: skip the chain."""
    from agent.sources.sql import SqlSource
    from tests.conftest import NOW

    sql = SqlSource(demo_pg)
    start, end = NOW - timedelta(days=2), NOW
    with serve_lens(demo_pg) as server:
        with LensSource(server.url, backoff=0.001) as lens:
            cluster = sql.clusters()[0]
            namespace = sql.namespaces(cluster, start, end)[0]
            user = sql.users(cluster, start, end)[0]
            compare_sources(lens, sql, cluster, start, end, namespace, user, user_chain=False)
            assert lens.latest_snapshot(None, NOW) == sql.latest_snapshot(None, NOW)
    sql.close()


def test_the_api_answers_json_with_snake_case_rows(server):
    """What a row looks like on the wire (the keys a client may rely on)."""
    r = httpx.get(server.url + "/gpu-aggregation/workloads/hourly-stats", params={
        "cluster": "beta", "start_time": "2026-11-16T00:00:00Z",
        "end_time": "2026-11-16T00:00:00Z"})
    row = r.json()["data"]["data"][0]
    assert {"workload_name", "workload_type", "allocated_gpu_count", "owner_name", "annotations",
            "stat_hour"} <= set(row)
    assert row["annotations"] == {USER_KEY: "user_a"}
    assert json.dumps(row["allocated_gpu_count"]) == "0.75"


def test_the_server_also_serves_a_sqlite_store(tmp_path):
    """The demo store is SQLite by default: same answers there (JSON and times as text)."""
    url = f"sqlite:///{tmp_path / 'lens.db'}"
    engine = create_engine(url)
    s.metadata.create_all(engine)
    alpha = [r for r in DATA["cluster"] if r["cluster_name"] == "alpha"]
    ml = [r for r in DATA["workload"] if r["cluster_name"] == "alpha"
          and r["workload_name"] in ("train-1", "train-11", "train-21")]
    with engine.begin() as conn:
        conn.execute(insert(s.cluster_hourly), alpha)
        conn.execute(insert(s.workload_hourly), ml)
        conn.execute(insert(s.snapshots), [r for r in DATA["snapshots"]
                                           if r["cluster_name"] == "alpha"])
    engine.dispose()
    with serve_lens(url) as server, LensSource(server.url, backoff=0.001) as src:
        check(src.period_stats(Scope(cluster="alpha"), START, END), in_period(alpha),
              float(64 * 48), workloads=3)
        users = src.children_stats(Scope(kind="namespace", cluster="alpha", namespace="ml-team"),
                                   "user", START, END)
        assert [(u.name, u.workloads) for u in users] == [("(unknown)", 1), ("user_a", 1),
                                                          ("user_b", 1)]
        snap = src.latest_snapshot("alpha", END)
        assert (snap.time, snap.allocated_gpus) == (END, 28)
        raw = httpx.get(server.url + "/gpu-aggregation/snapshots/latest").json()["data"]
        assert raw["snapshot_time"] == "2026-11-18T00:00:00Z"  # empty cluster -> own cluster
        assert raw["allocation_details"]["namespaces"]["infra"]["utilization"] == 5


# == requests per question (issue 10 item 10): only what the answer needs =========================
def ask_over_lens(server, question: str, cache):
    from agent.ask import ask
    from agent.deps import AgentDeps
    from tests.conftest import NOW

    server.requests.clear()
    with LensSource(server.url, backoff=0.001, cache=cache) as lens:  # a new process, warm cache
        answer = ask(question, AgentDeps(source=lens, now=NOW, catalog=cache), use_llm=False)
    return answer, server.counts()


def test_requests_per_question_kind_with_a_warm_name_cache(demo_db):
    from agent.cache import PROCESS_CACHE

    with serve_lens(demo_db) as server:
        for question in ("how many GPUs are in use right now on gpu-east",
                         "how many GPUs are in use right now in all clusters",
                         "What is the GPU utilization trend over the last 7 days in total?",
                         "what namespaces are there"):
            ask_over_lens(server, question, PROCESS_CACHE)  # fills the cache (cold)
        answer, counts = ask_over_lens(server, "how many GPUs are in use right now on gpu-east",
                                       PROCESS_CACHE)
        assert answer.intent == "realtime" and counts == {"/gpu-aggregation/snapshots": 1}
        answer, counts = ask_over_lens(server, "how many GPUs are in use right now in all "
                                               "clusters", PROCESS_CACHE)
        assert answer.figures["total_gpus"] > 0 and counts == {"/gpu-aggregation/snapshots": 3}
        answer, counts = ask_over_lens(server, "What is the GPU utilization trend over the last "
                                               "7 days in total?", PROCESS_CACHE)
        assert answer.intent == "trend" and "/workloads" not in counts
        assert set(counts) == {"/gpu-aggregation/cluster/hourly-stats",
                               "/gpu-aggregation/workloads/hourly-stats"}
        assert counts["/gpu-aggregation/cluster/hourly-stats"] == 3  # once per cluster, not twice
        answer, counts = ask_over_lens(server, "what namespaces are there", PROCESS_CACHE)
        assert answer.intent == "discovery" and counts == {"/gpu-aggregation/namespaces": 3}


def test_a_cold_question_lists_no_workloads(demo_db):
    from agent.cache import MemoryCache

    with serve_lens(demo_db) as server:
        for question in ("how many GPUs are in use right now in all clusters",
                         "Why is ml-team's utilization lower this week than last week?"):
            _, counts = ask_over_lens(server, question, MemoryCache())
            assert "/workloads" not in counts, question
            assert counts.get("/gpu-aggregation/clusters", 0) <= 1
