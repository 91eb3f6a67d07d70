"""Workload history over the Lens API (issue 12 item 6): ``GET /v1/workloads`` with the filters
it has — ``kind``, ``namespace``, ``status`` (lens.md §4.5) — and the hourly workload rows for
what it lacks.

The list has no time filter, no user and no cluster of its own (a real Lens answers for the
cluster asked; the test double lists every workload for any cluster), and its ``end_at`` is the
row's ``updated_at`` (lens.md §11) — the end of a Done or Failed workload, nothing for a running
one. So: the window (ended / ran / started) is applied to the items here; the GPU-hours, the
user and the cluster come from ``/gpu-aggregation/workloads/hourly-stats`` over the window
(for ``now``, from the earliest start among the items, at most ``NOW_LOOKBACK`` back), as the
SQL source takes them from ``workload_gpu_hourly_stats``: a workload belongs to the cluster
whose hourly rows it has, so one that never ran (Pending) is listed only for all clusters.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Protocol

from agent.errors import SourceError
from agent.sources.base import UNKNOWN_USER, HistoryFilter, WorkloadRun
from agent.sources.lens_client import MAX_PAGES, LensClient, parse_time
from agent.sources.lens_rows import num, row_user


class Rows(Protocol):
    """What ``history`` uses of ``LensSource`` (its clusters and workload rows), said here so
    that this module need not import the source that imports it."""

    user_annotation: str

    def _targets(self, cluster: str | None) -> list[str]: ...

    def _workload_rows(self, clusters: list[str], start: datetime, end: datetime, *,
                       namespace: str | None = None) -> list: ...

PAGE = 500
NOW_LOOKBACK = timedelta(days=31)
ENDED = ("Done", "Failed", "Deleted")


def _items(client: LensClient, cluster: str, f: HistoryFilter) -> list[dict]:
    params = {"cluster": cluster, "kind": f.kind, "namespace": f.namespace, "status": f.status}
    out: list[dict] = []
    for page in range(1, MAX_PAGES + 1):
        items, total = client.workloads_page(params, page, PAGE)
        out += items
        if not items or len(out) >= total:
            return out
    raise SourceError(f"Lens API /workloads holds more than {MAX_PAGES * PAGE} workloads")


def _in_window(f: HistoryFilter, created: datetime, ended: datetime | None,
               start: datetime | None, end: datetime) -> bool:
    if f.window == "ended":
        return ended is not None and start <= ended < end
    if f.window == "started":
        return start <= created < end
    if f.window == "ran":
        return created < end and (ended is None or ended > start)
    return True


def history(client: LensClient, source: Rows, f: HistoryFilter, start: datetime | None,
            end: datetime, now: datetime) -> tuple[int, list[WorkloadRun]]:
    runs: list[WorkloadRun] = []
    for cluster in source._targets(f.cluster):
        found = []
        for it in _items(client, cluster, f):
            created = parse_time(it.get("start_at") or 0)
            status = str(it.get("status") or "")
            ended = parse_time(it["end_at"]) if status in ENDED and it.get("end_at") else None
            if created <= now and _in_window(f, created, ended, start, end):
                found.append((it, created, ended, status))
        if not found:
            continue
        lo = start if start is not None else max(min(c for _, c, _, _ in found), now - NOW_LOOKBACK)
        hours: dict[tuple[str, str], list[float]] = {}
        users: dict[tuple[str, str], str] = {}
        for r in source._workload_rows([cluster], lo, end, namespace=f.namespace):
            key = (str(r.data.get("namespace")), str(r.data.get("workload_name")))
            hours.setdefault(key, []).append(num(r.data, "allocated_gpu_count"))
            users[key] = max(users.get(key, ""), row_user(r.data, source.user_annotation))
        for it, created, ended, status in found:
            key = (str(it.get("namespace")), str(it.get("name")))
            if key not in hours:
                continue  # no hourly row here: not this cluster's (or never ran)
            user = users.get(key) or UNKNOWN_USER
            if f.user is not None and user != f.user:
                continue
            runs.append(WorkloadRun(key[1], key[0], str(it.get("kind") or ""), status, user, cluster,
                                    created, ended, math.fsum(hours[key]),
                                    ((ended or now) - created).total_seconds() / 3600.0))
    key = {"gpu_hours": lambda r: -r.gpu_hours, "duration": lambda r: -r.duration_hours}.get(
        f.sort, lambda r: -(r.end if f.window == "ended" and r.end else r.start).timestamp())
    return len(runs), sorted(runs, key=lambda r: (key(r), r.name))[:f.limit]
