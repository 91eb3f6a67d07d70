"""Who is idle now: the users whose workloads held GPUs idle, from the source, in SQL.

The idle definition is the ``idle-gpus`` alert rule's, and the query is the one it runs
(``DataView.idle_workloads``: one grouped query per cluster; a workload counts when every one of
the last ``hours`` full hours up to its cluster's data end held ``>= min_gpus`` GPUs at
``< max_utilization`` %). A cluster whose data is stale is not judged (``stale_after``): a user
is never nudged — nor reset — on old data. Allow-listed users and workloads are set aside with
the pattern that matched, so a dry run can say why someone was not nudged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agent.sources.base import UNKNOWN_USER, Source
from reporter.alerts.dataview import DataView
from reporter.nudges.schedule import NudgeSchedule


@dataclass(frozen=True)
class IdleWorkload:
    cluster: str
    namespace: str
    name: str
    kind: str | None
    gpus: float  # average GPUs held over its idle hours
    gpu_hours: float
    idle_gpu_hours: float
    avg_utilization: float
    hours: int
    window_start: datetime
    window_end: datetime

    def as_dict(self) -> dict:
        return {"cluster": self.cluster, "namespace": self.namespace, "workload": self.name,
                "kind": self.kind, "gpus": self.gpus, "gpu_hours": self.gpu_hours,
                "idle_gpu_hours": self.idle_gpu_hours,
                "avg_utilization": self.avg_utilization, "hours": self.hours}


@dataclass
class IdleUser:
    user: str
    workloads: list[IdleWorkload] = field(default_factory=list)

    @property
    def idle_gpu_hours(self) -> float:
        return sum(w.idle_gpu_hours for w in self.workloads)

    @property
    def gpus(self) -> float:
        return sum(w.gpus for w in self.workloads)

    @property
    def namespaces(self) -> list[str]:
        return sorted({w.namespace for w in self.workloads})

    def records(self) -> list[dict]:
        return [w.as_dict() for w in self.workloads]


@dataclass
class Findings:
    idle: dict[str, IdleUser] = field(default_factory=dict)
    allowed: list[tuple[str, IdleWorkload, str]] = field(default_factory=list)  # user, w, why
    judged: set[str] = field(default_factory=set)  # clusters whose data was judged
    skipped: dict[str, str] = field(default_factory=dict)  # cluster -> why not judged


def find_idle(schedule: NudgeSchedule, source: Source, now: datetime) -> Findings:
    """The idle users of ``schedule``'s clusters at ``now`` (see the module docstring)."""
    view = DataView(source, now, schedule.stale_after)
    out = Findings()
    wanted = set(schedule.clusters)
    for cluster in view.clusters():
        if wanted and cluster not in wanted:
            continue
        end, why = view.data_end(cluster)
        if end is None:
            out.skipped[cluster] = why or "not judged"
            continue
        out.judged.add(cluster)
        start = end - timedelta(hours=schedule.hours)
        for st in view.idle_workloads(cluster, end, schedule.hours, schedule.min_gpus,
                                      schedule.max_utilization):
            ns = st.namespace or ""
            w = IdleWorkload(cluster, ns, st.name, st.kind, st.gpu_hours / st.rows,
                             st.gpu_hours, st.idle_gpu_hours, st.avg_utilization, st.rows,
                             start, end)
            user = st.user or UNKNOWN_USER
            if schedule.allow.user(user):
                out.allowed.append((user, w, "user on the allow-list"))
            elif schedule.allow.workload(cluster, ns, st.name):
                out.allowed.append((user, w, "workload on the allow-list"))
            else:
                out.idle.setdefault(user, IdleUser(user)).workloads.append(w)
    return out


__all__ = ["IdleWorkload", "IdleUser", "Findings", "find_idle"]
