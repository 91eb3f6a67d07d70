"""Hourly rows of the Lens API, added up the way ``sql.py`` adds them in SQL.

The API serves *rows*, not sums, so the `lens` source sums them here. Every figure mirrors one
query of ``sql_queries.py`` (same row sets, same distinct keys, see ``base.py``) so that `sql`
and `lens` agree to 1e-9; sums use ``math.fsum`` so the order rows arrive in does not matter.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

from agent.errors import SourceError
from agent.sources.base import UNKNOWN_USER, PeriodStats


class Row(NamedTuple):
    cluster: str  # the cluster we asked for (a real Lens row carries its writer's name)
    hour: datetime
    data: dict


def row_user(row: dict, annotation: str) -> str:
    """base.py's user chain as far as the API allows: annotation, owner_name, ``(unknown)``."""
    ann = row.get("annotations")
    if isinstance(ann, str):
        try:
            ann = json.loads(ann)
        except ValueError:
            ann = None
    value = ann.get(annotation) if isinstance(ann, dict) else None
    if value is not None and not isinstance(value, (dict, list)):
        # PostgreSQL's ->> (what sql.py reads) renders numbers and booleans as JSON text
        text = value if isinstance(value, str) else json.dumps(value)
        if text:
            return text
    owner = row.get("owner_name")
    if isinstance(owner, str) and owner:
        return owner
    return UNKNOWN_USER


def num(row: dict, key: str) -> float:
    value = row.get(key)
    if value is None:
        return 0.0
    try:
        return float(value)  # JSON may print 8.0 as 8
    except (TypeError, ValueError):
        raise SourceError(f"Lens API returned a non-numeric {key}: {value!r}") from None


class Sums:
    """Σ allocated, Σ allocated·util, Σ util, row count — the additive parts of PeriodStats."""

    __slots__ = ("alloc", "weighted", "util", "rows")

    def __init__(self) -> None:
        self.alloc: list[float] = []
        self.weighted: list[float] = []
        self.util: list[float] = []
        self.rows = 0

    def add(self, row: dict) -> None:
        a, u = num(row, "allocated_gpu_count"), num(row, "avg_utilization")
        self.alloc.append(a)
        self.weighted.append(a * u)
        self.util.append(u)
        self.rows += 1

    def stats(self, name: str, capacity: float, **extra) -> PeriodStats:
        return PeriodStats(name=name, gpu_hours=math.fsum(self.alloc),
                           utilized_gpu_hours=math.fsum(self.weighted) / 100.0,
                           utilization_sum=math.fsum(self.util), rows=self.rows,
                           capacity_gpu_hours=capacity, **extra)


def sums(rows: Iterable[Row]) -> Sums:
    s = Sums()
    for r in rows:
        s.add(r.data)
    return s


def total_capacity(rows: Iterable[Row]) -> float:
    """Σ total_gpu_capacity of cluster rows."""
    return math.fsum(num(r.data, "total_gpu_capacity") for r in rows)


def grouped(rows: Iterable[Row], key) -> Iterator[tuple[Any, list[Row]]]:
    groups: dict[Any, list[Row]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return iter(groups.items())


def workload_key(r: Row) -> tuple[str, str]:
    return str(r.data.get("namespace")), str(r.data.get("workload_name"))


class RowMemo:
    """Rows of one window read shortly before, so a question does not fetch them twice.

    A trend asks for the series and the period sums of one scope, a comparison for the
    capacity rows of one period twice: the same hourly-stats pages. Reads of one key wait for
    each other (the figures of a question run concurrently), entries live ``ttl_s`` seconds
    (the newest hour keeps changing) and at most ``max_rows`` rows are kept, oldest dropped.
    """

    def __init__(self, ttl_s: float = 60.0, max_rows: int = 200_000):
        self.ttl_s, self.max_rows = ttl_s, max_rows
        self._items: dict[tuple, tuple[float, list[Row]]] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: tuple, read: Callable[[], list[Row]]) -> list[Row]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._items.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
                return hit[1]
            rows = read()
            with self._guard:
                self._items[key] = (time.monotonic(), rows)
                self._trim()
            return rows

    def _trim(self) -> None:
        total = sum(len(rows) for _, rows in self._items.values())
        for key in sorted(self._items, key=lambda k: self._items[k][0]):
            if total <= self.max_rows:
                break
            total -= len(self._items.pop(key)[1])
            self._locks.pop(key, None)
