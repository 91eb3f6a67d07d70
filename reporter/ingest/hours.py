"""The rows of one hour from the fetched figures: cluster, namespace, workload and label rows
and the hour's allocation snapshot (what each column means: ``reporter.ingest.prometheus``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from agent.settings import PrometheusSettings
from reporter.ingest.fetch import Data
from reporter.ingest.promql import WK, WN, Dimension
from reporter.ingest.store import HourRows, WorkloadMeta, workload_uid

HOUR = timedelta(hours=1)
UNKNOWN = "unknown"  # Lens' default_value for a missing label/annotation


def _by(data: Data, name: str, hour: datetime, *labels: str) -> dict[tuple, float]:
    return {tuple(lbl.get(k, "") for k in labels): v for lbl, v in data.get(name, {}).get(hour, [])}


def _scalar(data: Data, name: str, hour: datetime) -> float | None:
    vals = data.get(name, {}).get(hour, [])
    return vals[0][1] if vals else None


def build_hour(hour: datetime, cluster: str, p: PrometheusSettings, dims: list[Dimension],
                user_annotation: str, data: Data,
                metas: dict[tuple[str, str, str], WorkloadMeta]) -> HourRows | None:
    n = _scalar(data, "cluster.n", hour)
    if not n:
        return None
    stat_hour = hour.replace(tzinfo=None)

    def val(name: str, key: tuple = ()) -> float:
        got = _by_cache(name).get(key)
        return got if got is not None else 0.0

    cache: dict[str, dict[tuple, float]] = {}
    label_sets = {"cluster": (), "namespace": ("namespace",), "workload": ("namespace", WK, WN)}

    def _by_cache(name: str) -> dict[tuple, float]:
        if name not in cache:
            prefix = name.split(".")[0]
            labels = label_sets.get(prefix)
            if labels is None:  # dimN.*
                labels = (dims[int(prefix[3:])].prom_label,)
            cache[name] = _by(data, name, hour, *labels)
        return cache[name]

    def spread(prefix: str, key: tuple = (), quantiles: bool = False) -> dict[str, float]:
        """max/min(/p50/p95) of the utilization on the spread grid, widened to include the
        hour's average (which the grid may miss), or the average when the grid saw nothing
        (an entity that ran only between two grid points)."""
        avg = val(f"{prefix}.util", key)
        cols = {"max_utilization": "umax", "min_utilization": "umin"}
        if quantiles:
            cols.update(p50_utilization="p50", p95_utilization="p95")
        out = {}
        for col, name in cols.items():
            got = _by_cache(f"{prefix}.{name}").get(key)
            out[col] = avg if got is None else got
        out["max_utilization"] = max(out["max_utilization"], avg)
        out["min_utilization"] = min(out["min_utilization"], avg)
        return out

    capacity = int(_scalar(data, "cluster.cap", hour) or 0)
    allocated = val("cluster.alloc") / n
    cluster_row = {
        "cluster_name": cluster, "stat_hour": stat_hour, "total_gpu_capacity": capacity,
        "allocated_gpu_count": allocated,
        "allocation_rate": allocated / capacity * 100.0 if capacity else 0.0,
        "avg_utilization": val("cluster.util"), **spread("cluster", (), quantiles=True),
        "sample_count": int(n),
    }
    rows = HourRows(hour=stat_hour, cluster=cluster_row)

    for key, gpu_samples in sorted(_by_cache("namespace.alloc").items()):
        rows.namespaces.append({
            "cluster_name": cluster, "namespace": key[0], "stat_hour": stat_hour,
            "total_gpu_capacity": 0, "allocated_gpu_count": gpu_samples / n,
            "avg_utilization": val("namespace.util", key), **spread("namespace", key),
            "active_workload_count": int(val("namespace.pods", key) / n),
        })

    # workloads: GPU-samples per (namespace, kind, name, user) -> total and dominant user
    per_user: dict[tuple, dict[str, float]] = defaultdict(dict)
    for lbl, v in data.get("workload.alloc_user", {}).get(hour, []):
        key = (lbl.get("namespace", ""), lbl.get(WK, ""), lbl.get(WN, ""))
        per_user[key][lbl.get(dims[0].prom_label, "")] = v
    for key in sorted(per_user):
        users = per_user[key]
        gpu_samples = sum(users.values())
        named = [(v, u) for u, v in users.items() if u]
        user = min(named, key=lambda x: (-x[0], x[1]))[1] if named else None
        samples = val("workload.samples", key) or 1.0
        pod_samples = val("workload.pods", key)
        rmax = int(val("workload.rmax", key))
        ns, kind, name = key
        rows.workloads.append({
            "cluster_name": cluster, "namespace": ns, "workload_name": name,
            "workload_type": kind, "stat_hour": stat_hour,
            "allocated_gpu_count": gpu_samples / n, "requested_gpu_count": 0.0,
            "avg_utilization": val("workload.util", key),
            **spread("workload", key, quantiles=True),
            "avg_gpu_memory_used": 0.0, "max_gpu_memory_used": 0.0, "avg_gpu_memory_total": 0.0,
            "avg_replica_count": pod_samples / samples,
            "max_replica_count": rmax,
            "min_replica_count": int(val("workload.rmin", key)),
            "workload_status": "", "sample_count": int(samples),
            "owner_uid": "", "owner_name": "", "labels": {},
            "annotations": {user_annotation: user} if user else {},
        })
        meta = metas.setdefault(key, WorkloadMeta(namespace=ns, kind=kind, name=name))
        # peak GPUs held: GPUs per pod × most pods at once (exact when its pods are alike)
        meta.seen(stat_hour, user, gpu_samples / pod_samples * rmax if pod_samples else 0.0)

    for i, dim in enumerate(dims):
        merged: dict[str, list[float]] = {}
        for key, gpu_samples in _by_cache(f"dim{i}.alloc").items():
            value = key[0] or UNKNOWN
            k = (key[0],)
            sp = spread(f"dim{i}", k)
            figures = [gpu_samples, val(f"dim{i}.util", k), sp["max_utilization"],
                       sp["min_utilization"], val(f"dim{i}.pods", k)]
            merged[value] = figures if value not in merged else _merge(merged[value], figures)
        for value in sorted(merged):
            gpu_samples, util, umax, umin, pods = merged[value]
            rows.labels.append({
                "cluster_name": cluster, "dimension_type": dim.dimension_type,
                "dimension_key": dim.key, "dimension_value": value, "stat_hour": stat_hour,
                "allocated_gpu_count": gpu_samples / n, "avg_utilization": util,
                "max_utilization": umax, "min_utilization": umin,
                "active_workload_count": int(pods / n),
            })

    rows.snapshots.append(_snapshot(hour, cluster, p, dims, data))
    return rows


def _merge(a: list[float], b: list[float]) -> list[float]:
    """A literal value 'unknown' and a missing key land in one row (as in Lens)."""
    gpus = a[0] + b[0]
    util = (a[0] * a[1] + b[0] * b[1]) / gpus if gpus else 0.0
    return [gpus, util, max(a[2], b[2]), min(a[3], b[3]), a[4] + b[4]]


def _snapshot(hour: datetime, cluster: str, p: PrometheusSettings, dims: list[Dimension],
              data: Data) -> dict:
    """One ``gpu_allocation_snapshots`` row at the hour's last sample (lens.md §7 JSON)."""
    util = {k: v for k, v in _by(data, "snap.util", hour, "namespace", "pod").items()}
    namespaces: dict[str, dict] = {}
    annotations: dict[str, dict] = {}
    workloads: dict[str, dict] = {}
    allocated = 0
    for lbl, gpus_f in sorted(data.get("snap.pods", {}).get(hour, []),
                              key=lambda x: (x[0].get("namespace", ""), x[0].get("pod", ""))):
        ns, pod = lbl.get("namespace", ""), lbl.get("pod", "")
        kind, name = lbl.get(WK, ""), lbl.get(WN, "")
        gpus = int(round(gpus_f))
        u = util.get((ns, pod), 0.0)
        allocated += gpus
        nsd = namespaces.setdefault(ns, {"allocatedGpu": 0, "utilization": 0.0,
                                         "workloadCount": 0, "workloads": [], "_u": 0.0})
        nsd["allocatedGpu"] += gpus
        nsd["_u"] += gpus * u
        nsd["workloadCount"] += 1
        nsd["workloads"].append({"uid": f"{ns}/{pod}", "name": pod, "namespace": ns,
                                 "kind": kind, "allocatedGpu": gpus, "utilization": u})
        for dim in dims:
            if dim.dimension_type != "annotation":
                continue  # Lens' details carry no label buckets (lens.md §7)
            akey = f"{dim.key}:{lbl.get(dim.prom_label) or UNKNOWN}"
            ad = annotations.setdefault(akey, {"allocatedGpu": 0, "utilization": 0.0,
                                               "workloadCount": 0, "_u": 0.0})
            ad["allocatedGpu"] += gpus
            ad["_u"] += gpus * u
            ad["workloadCount"] += 1
        wuid = workload_uid(cluster, ns, kind, name)
        wd = workloads.setdefault(wuid, {"uid": wuid, "name": name, "namespace": ns, "kind": kind,
                                         "allocatedGpu": 0, "utilization": 0.0, "_n": 0, "_s": 0.0})
        wd["allocatedGpu"] += gpus
        wd["_n"] += 1
        wd["_s"] += u
    for d in (*namespaces.values(), *annotations.values()):
        d["utilization"] = d.pop("_u") / d["allocatedGpu"] if d["allocatedGpu"] else 0.0
    for d in workloads.values():
        count, total = d.pop("_n"), d.pop("_s")
        d["utilization"] = total / count if count else 0.0  # plain mean of pods, as Lens
    capacity = _scalar(data, "snap.cap", hour)
    return {
        "cluster_name": cluster,
        "snapshot_time": (hour + HOUR - timedelta(seconds=p.step)).replace(tzinfo=None),
        "dimension_type": "cluster", "dimension_key": "", "dimension_value": "",
        "total_gpu_capacity": int(capacity or 0), "allocated_gpu_count": allocated,
        "allocation_details": {"namespaces": namespaces, "annotations": annotations,
                               "workloads": workloads},
    }

__all__ = ["build_hour"]
