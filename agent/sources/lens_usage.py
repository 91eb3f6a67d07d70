"""``LensSource``'s side of prices and recommendations (mirrors ``sql_usage``).

The Lens API cannot group, so the hourly rows of the window are paged in (as for
``idle_workloads``) and added up here with the rules ``lens_rows`` shares with ``sql.py``:
per workload the sums, the most GPUs held and the busiest hour; per namespace the sums inside
and outside office hours. The GPU model per cluster is not offered: the API's ``/workloads``
list has no cluster parameter, so model prices fall back to cluster and default prices here.
"""

from __future__ import annotations

from datetime import datetime

from agent.sources.base import OfficeSplit, WorkloadPeak
from agent.sources.lens_rows import (grouped, num, row_user, sums, total_capacity,
                                     workload_key)


class LensUsage:
    """``gpu_models``, ``workload_peaks``, ``office_hours`` over the API's hourly rows (the
    class using it provides ``_targets``, ``_workload_rows``, ``_hourly``, ``_capacity_rows``
    and ``user_annotation``)."""

    def gpu_models(self) -> dict[str, str]:
        return {}

    def workload_peaks(self, cluster: str | None, start: datetime,
                       end: datetime) -> list[WorkloadPeak]:
        out: list[WorkloadPeak] = []
        for name in self._targets(cluster):
            capacity = total_capacity(self._capacity_rows([name], start, end))
            for (ns, wl), group in grouped(self._workload_rows([name], start, end), workload_key):
                st = sums(group).stats(
                    wl, capacity, workloads=1, namespace=ns, cluster=name,
                    kind=max(str(r.data.get("workload_type") or "") for r in group),
                    user=max(row_user(r.data, self.user_annotation) for r in group))
                out.append(WorkloadPeak(
                    st, max(num(r.data, "allocated_gpu_count") for r in group),
                    max(num(r.data, "max_utilization") for r in group),
                    max(num(r.data, "avg_utilization") for r in group)))
        return sorted(out, key=lambda p: (p.stats.cluster or "", p.stats.namespace or "",
                                          p.stats.name))

    def office_hours(self, cluster: str | None, start: datetime, end: datetime,
                     office_from: int = 8, office_to: int = 18) -> list[OfficeSplit]:
        out: list[OfficeSplit] = []
        for name in self._targets(cluster):
            rows = self._hourly("namespaces", [name], start, end)
            for ns, group in grouped(rows, lambda r: str(r.data.get("namespace"))):
                def inside(r) -> bool:
                    return r.hour.weekday() < 5 and office_from <= r.hour.hour < office_to
                office = [r for r in group if inside(r)]
                other = [r for r in group if not inside(r)]
                out.append(OfficeSplit(name, ns, sums(office).stats(ns, 0.0, cluster=name),
                                       sums(other).stats(ns, 0.0, cluster=name)))
        return sorted(out, key=lambda o: (o.cluster or "", o.namespace))


__all__ = ["LensUsage"]
