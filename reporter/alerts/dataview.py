"""The data a check reads: the source, "now", and per-check caches of the cluster list and of
each cluster's newest hour — which decide the window a data rule may evaluate.

Data end, and why: ``end = min(floor_hour(now), newest_stat_hour + 1h)`` per cluster. Lens
writes hour H's row some minutes after H+1h; anchoring the windows on the newest row instead of
the clock keeps a check at 12:02 from seeing a "missing" 11:00 row and resolving every alert
for one check (flapping). When a cluster's data is older than ``defaults.stale_after`` the data
rules are **not evaluated** for it: their alert state is kept unchanged (neither resolved nor
newly fired) and the ``stale-data`` rule is the one that speaks.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from agent.periods import floor_hour, utc_text
from agent.sources.base import PeriodStats, Source

HOUR = timedelta(hours=1)


class DataView:
    """The source plus per-check caches (cluster list, newest hour per cluster)."""

    def __init__(self, source: Source, now: datetime, stale_after: timedelta):
        self.source = source
        self.now = now.astimezone(timezone.utc)
        self.stale_after = stale_after
        self._clusters: list[str] | None = None
        self._newest: dict[str, datetime | None] = {}

    def clusters(self) -> list[str]:
        if self._clusters is None:
            self._clusters = list(self.source.clusters())
        return self._clusters

    def newest(self, cluster: str) -> datetime | None:
        if cluster not in self._newest:
            self._newest[cluster] = self.source.newest_stat_hour(cluster)
        return self._newest[cluster]

    def data_end(self, cluster: str) -> tuple[datetime | None, str | None]:
        """(end of the evaluable window, or None and why not)."""
        newest = self.newest(cluster)
        if newest is None:
            return None, "no hourly stats"
        lag = self.now - (newest + HOUR)
        if lag > self.stale_after:
            return None, f"data stale (newest hour {utc_text(newest)})"
        return min(floor_hour(self.now), newest + HOUR), None

    def idle_workloads(self, cluster: str, end: datetime, hours: int, min_gpus: float,
                       max_utilization: float) -> list[PeriodStats]:
        """The workloads that held ``>= min_gpus`` GPUs at ``< max_utilization`` % in **every
        one** of the ``hours`` full hours before ``end`` — the one definition of "idle" that the
        ``idle-gpus`` alert rule and the owner nudges share. One grouped SQL query
        (``Source.idle_workloads``) sums only the idle rows per workload; a workload qualifies
        when its idle hour count equals ``hours``."""
        start = end - timedelta(hours=hours)
        return [st for st in self.source.idle_workloads(cluster, start, end, min_gpus,
                                                        max_utilization)
                if st.rows >= hours]


__all__ = ["DataView", "HOUR"]
