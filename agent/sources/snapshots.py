"""The realtime values every source returns: the latest allocation snapshot of a cluster and its
namespaces (lens.md §5, §7), with one parsing and one merging rule for every source.

Split from ``base.py`` (the query interface and the additive sums over periods); ``Source``'s
``latest_snapshot`` returns a ``Snapshot`` from here. What the agent says about it:
``agent.snapshot``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class NamespaceAllocation:
    namespace: str
    allocated_gpus: int
    utilization: float
    workload_count: int


@dataclass
class Snapshot:
    """The latest cluster-dimension allocation snapshot (lens.md §5, §7)."""

    cluster: str
    time: datetime
    total_gpus: int
    allocated_gpus: int
    by_namespace: list[NamespaceAllocation] = field(default_factory=list)

    @property
    def allocation_rate(self) -> float:
        return self.allocated_gpus / self.total_gpus * 100.0 if self.total_gpus else 0.0



def namespace_allocations(details: dict) -> list[NamespaceAllocation]:
    out = []
    for ns, d in (details.get("namespaces") or {}).items():
        d = d or {}
        out.append(NamespaceAllocation(namespace=ns, allocated_gpus=int(d.get("allocatedGpu") or 0),
                                       utilization=float(d.get("utilization") or 0.0),
                                       workload_count=int(d.get("workloadCount") or 0)))
    return sorted(out, key=lambda a: (-a.allocated_gpus, a.namespace))


def merge_snapshots(found: list[Snapshot], cluster: str | None) -> Snapshot | None:
    """One snapshot per cluster -> the sum (for "all clusters"), newest time."""
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    by_ns: dict[str, NamespaceAllocation] = {}
    for snap in found:
        for a in snap.by_namespace:
            cur = by_ns.get(a.namespace)
            if cur is None:
                by_ns[a.namespace] = NamespaceAllocation(a.namespace, a.allocated_gpus,
                                                         a.utilization, a.workload_count)
            else:
                total = cur.allocated_gpus + a.allocated_gpus
                util = ((cur.utilization * cur.allocated_gpus + a.utilization * a.allocated_gpus)
                        / total) if total else 0.0
                by_ns[a.namespace] = NamespaceAllocation(a.namespace, total, util,
                                                         cur.workload_count + a.workload_count)
    return Snapshot(
        cluster=cluster or "all clusters",
        time=max(sn.time for sn in found),
        total_gpus=sum(sn.total_gpus for sn in found),
        allocated_gpus=sum(sn.allocated_gpus for sn in found),
        by_namespace=sorted(by_ns.values(), key=lambda a: (-a.allocated_gpus, a.namespace)),
    )


__all__ = ["NamespaceAllocation", "Snapshot", "merge_snapshots", "namespace_allocations"]
