"""Workloads from slots: the start, end, GPUs, user and utilization model of each one.

Every structural choice is drawn from the one ``random.Random`` in a fixed order; per-hour
values come from a splitmix64 hash of a per-workload seed and the hour index, so an hour's
values do not depend on the order in which hours are computed. Times are minutes from the span
start (a Monday 00:00 UTC).
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime
from typing import Iterable

from reporter.demo.clusters import CLASS, DEV, IDLE, INFER, TRAIN, Namespace, Slot

_MASK = (1 << 64) - 1


def mix(x: int) -> int:
    """splitmix64: a cheap, pure per-(workload, hour) random source."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class Workload:
    """One top-level workload. Times are minutes from the span start; ``end`` None = running."""

    __slots__ = ("uid", "name", "ns", "kind", "gpus", "start", "end", "user", "team", "app",
                 "cls", "base", "amp", "seed", "status", "pod_uid", "pod_name", "created")

    def stats(self, k: int) -> tuple[float, float, float, float, float]:
        """avg, max, min, p50, p95 utilization of hour index ``k`` (pure in (seed, k))."""
        lo, hi, noise, up, down = CLASS[self.cls]
        r = mix(self.seed + k)
        u1 = (r & 0xFFFF) / 65535.0
        u2 = ((r >> 16) & 0xFFFF) / 65535.0
        u3 = ((r >> 32) & 0xFFFF) / 65535.0
        u4 = (r >> 48) / 65535.0
        level = self.base
        if self.cls == INFER:  # diurnal: peak at 15:00 UTC (span starts at 00:00)
            level += self.amp * math.cos(2.0 * math.pi * ((k % 24) - 15) / 24.0)
        avg = level + noise * (2.0 * u1 - 1.0)
        avg = hi if avg > hi else lo if avg < lo else avg
        mx = min(100.0, avg + up * (0.4 + 0.6 * u2))
        mn = max(0.0, avg - down * (0.4 + 0.6 * u3))
        p95 = avg + 0.7 * (mx - avg)
        p50 = min(p95, max(mn, avg + (u4 - 0.5) * 0.2 * (mx - mn)))
        return avg, mx, mn, p50, p95


_K8S_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(_K8S_CHARS) for _ in range(n))


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Builder:
    """Turns slot specs into workloads for one cluster, drawing from the shared Random."""

    def __init__(self, rng: random.Random, span_start: datetime, hours: int,
                 names: set[tuple[str, str]]):
        self.rng, self.span_start, self.hours = rng, span_start, hours
        self.end_min = hours * 60
        self.out: list[Workload] = []
        # (namespace, name) taken in *any* cluster: the demo store holds every cluster in one
        # database and gpu_workload has no cluster column, so readers that find a workload's
        # user by namespace and name (lens.md §8) need that pair to be unique store-wide.
        self.names = names

    def add(self, ns: Namespace, kind: str, gpus: int, start: int, end: int | None,
            user: str | None, cls: str, base: float, app: str, name: str | None = None,
            amp: float = 0.0, may_fail: bool = False) -> Workload:
        rng = self.rng
        if name is None or (ns.name, name) in self.names:
            stem = name or app
            name = f"{stem}-{_suffix(rng)}"
            while (ns.name, name) in self.names:
                name = f"{stem}-{_suffix(rng)}"
        self.names.add((ns.name, name))
        w = Workload()
        w.uid, w.name, w.ns, w.kind, w.gpus = _uid(rng), name, ns.name, kind, gpus
        w.start = start
        w.end = end if end is not None and end <= self.end_min else None
        w.user, w.team, w.app, w.cls, w.base, w.amp = user, ns.team, app, cls, base, amp
        w.seed = rng.getrandbits(62)
        w.created = start
        if w.end is None:
            w.status = "Running"
        else:
            w.status = "Failed" if may_fail and rng.random() < 0.07 else "Done"
        w.pod_uid = _uid(rng)
        w.pod_name = {
            "PyTorchJob": f"{name}-master-0",
            "Notebook": f"{name}-0",
            "Deployment": f"{name}-{_suffix(rng, 10)}-{_suffix(rng)}",
            "Workload": f"{name}-worker-0",
        }.get(kind, f"{name}-{_suffix(rng)}")
        self.out.append(w)
        return w

    def user(self, ns: Namespace) -> str | None:
        """A user of the namespace; about 5% of workloads carry no user annotation."""
        return None if self.rng.random() < 0.05 else self.rng.choice(ns.users)

    def slot(self, ns: Namespace, slot: Slot) -> None:
        rng = self.rng
        for i in range(1, slot.count + 1):
            if slot.pattern == "always":
                base = self._base(slot.cls)
                amp = rng.uniform(10.0, 18.0) if slot.cls == INFER else 0.0
                name = slot.app if slot.count == 1 else f"{slot.app}-{i}"
                start = -rng.randrange(2, 60) * 1440 - rng.randrange(0, 288) * 5
                self.add(ns, slot.kind, slot.gpus, start, None, self.user(ns), slot.cls, base,
                         slot.app, name=name, amp=amp)
            elif slot.pattern == "chain":
                level = rng.uniform(76.0, 90.0)
                for s, e in self._chain(slot):
                    base = (level + rng.uniform(-2.0, 2.0) if slot.cls == TRAIN
                            else self._base(slot.cls))
                    self.add(ns, slot.kind, slot.gpus, s, e, self.user(ns), slot.cls, base,
                             slot.app, may_fail=True)
            else:  # workday
                for s, e in self._workdays():
                    self.add(ns, slot.kind, slot.gpus, s, e, self.user(ns), slot.cls,
                             self._base(slot.cls), slot.app)

    def _base(self, cls: str) -> float:
        return {TRAIN: lambda: self.rng.uniform(76.0, 90.0),
                INFER: lambda: self.rng.uniform(40.0, 48.0),
                DEV: lambda: self.rng.uniform(8.0, 16.0),
                IDLE: lambda: self.rng.uniform(0.8, 2.4)}[cls]()

    def _chain(self, slot: Slot) -> Iterable[tuple[int, int]]:
        rng = self.rng
        lo, hi = slot.hours
        t = -1440 - rng.randrange(0, hi * 12 + 1) * 5
        while t < self.end_min:
            dur = rng.randint(lo * 12, hi * 12) * 5
            if t + dur > 0:
                yield t, t + dur
            t += dur
            gap = rng.randint(1, 18) * 5
            if slot.weekend_quiet and weekday(t + gap) >= 5:
                gap = rng.randint(12, 72) * 5  # fewer jobs on weekends
            t += gap

    def _workdays(self) -> Iterable[tuple[int, int]]:
        rng = self.rng
        for day in range(-1, self.hours // 24 + 1):
            weekend = weekday(day * 1440) >= 5
            if weekend and rng.random() >= 0.08:
                continue
            s = day * 1440 + 8 * 60 + rng.randrange(0, 31) * 5
            e = s + rng.randrange(48, 121) * 5
            if e > 0 and s < self.end_min:
                yield s, e


def weekday(minute: int) -> int:
    """ISO weekday index (0 = Monday) of a minute offset; the span starts on a Monday."""
    return (minute // 1440) % 7


__all__ = ["Workload", "Builder", "mix", "weekday"]
