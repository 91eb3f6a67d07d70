"""How new the data behind the Lens API is: the latest allocation snapshot of a cluster, and the
newest and oldest hour of its cluster rows (freshness, coverage's "data starts").

Split from ``lens.py`` (which requests a *figure* needs): these are the few reads that ask
about the edges of the data rather than a period's rows, each one small request per cluster.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from agent.periods import floor_hour, utc
from agent.sources.lens_client import PAGE_ROWS, LensClient, parse_time, rfc3339
from agent.sources.lens_rows import num
from agent.sources.snapshots import Snapshot, merge_snapshots, namespace_allocations

SNAPSHOT_LOOKBACK = timedelta(hours=3)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
_CLUSTER_ROWS = "/gpu-aggregation/cluster/hourly-stats"


def latest_snapshot(client: LensClient, clusters: list[str], cluster: str | None,
                    at: datetime) -> Snapshot | None:
    """The newest cluster snapshot at or before ``at`` within ``SNAPSHOT_LOOKBACK`` of each of
    ``clusters`` (``/snapshots`` returns whole rows with their details: the window is kept
    short), merged for all clusters when ``cluster`` is None."""
    at = utc(at)
    found: list[Snapshot] = []
    for name in clusters:
        data = client.get("/gpu-aggregation/snapshots", {
            "cluster": name, "start_time": rfc3339(at - SNAPSHOT_LOOKBACK),
            "end_time": rfc3339(at)})
        best: tuple[datetime, int, dict] | None = None
        for row in data or []:
            if not isinstance(row, dict) or row.get("dimension_type") != "cluster":
                continue
            t = parse_time(row.get("snapshot_time"))
            if t <= at and (best is None or (t, row.get("id") or 0) > best[:2]):
                best = (t, row.get("id") or 0, row)
        if best is None:
            continue
        row = best[2]
        details = row.get("allocation_details") or {}
        if isinstance(details, str):
            details = json.loads(details or "{}")
        found.append(Snapshot(cluster=name, time=best[0],
                              total_gpus=int(num(row, "total_gpu_capacity")),
                              allocated_gpus=int(num(row, "allocated_gpu_count")),
                              by_namespace=namespace_allocations(
                                  details if isinstance(details, dict) else {})))
    return merge_snapshots(found, cluster)


def newest_stat_hour(client: LensClient, clusters: list[str]) -> datetime | None:
    """Newest cluster-row hour: the last two days first (small page), else all time."""
    newest: datetime | None = None
    recent = floor_hour(datetime.now(timezone.utc)) - timedelta(days=2)
    for name in clusters:
        for lo in (recent, _EPOCH):
            page = client.get(_CLUSTER_ROWS, {
                "cluster": name, "start_time": rfc3339(lo), "end_time": rfc3339(_FAR_FUTURE),
                "page": 1, "page_size": PAGE_ROWS, "order_by": "time",
                "order_direction": "desc"})
            rows = (page.get("data") if isinstance(page, dict) else page) or []
            if rows:
                hour = max(parse_time(r.get("stat_hour")) for r in rows)
                newest = hour if newest is None or hour > newest else newest
                break
    return newest


def first_stat_hour(client: LensClient, cluster: str) -> datetime | None:
    """The oldest cluster-row hour of ``cluster``: one row, in ascending order."""
    page = client.get(_CLUSTER_ROWS, {
        "cluster": cluster, "start_time": rfc3339(_EPOCH), "end_time": rfc3339(_FAR_FUTURE),
        "page": 1, "page_size": 1, "order_by": "time", "order_direction": "asc"})
    rows = (page.get("data") if isinstance(page, dict) else page) or []
    return min((parse_time(r.get("stat_hour")) for r in rows), default=None)
