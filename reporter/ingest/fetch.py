"""Fetching one chunk of hours from Prometheus: every query of the chunk at once, in a thread
pool, values indexed by hour (``Data``); and the clock of time spent waiting on Prometheus.

The value at ``T = H + 1h`` of a one-hour-step ``query_range`` describes hour ``H``
(``reporter.ingest.promql``).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import datetime, timedelta, timezone
from typing import Callable

from agent.settings import PrometheusSettings
from reporter.ingest.client import PrometheusClient, Series
from reporter.ingest.promql import Dimension, PromQL

HOUR = timedelta(hours=1)

# query name -> hour -> [(labels, value)]
Data = dict[str, dict[datetime, list[tuple[dict[str, str], float]]]]


class QueryClock:
    """Wall-clock time during which at least one query was in flight."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active = 0
        self._since = 0.0
        self.total = 0.0

    def __enter__(self):
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1

    def __exit__(self, *exc):
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self.total += time.perf_counter() - self._since


def build_queries(p: PrometheusSettings, dims: list[Dimension], hours: int) -> dict[str, str]:
    """Every expression of one chunk of ``hours`` hours, by name (``cluster.util``, ...)."""
    promql = PromQL(p, hours)
    queries = {**promql.cluster_queries(), **promql.namespace_queries(),
               **promql.workload_queries(dims[0])}
    for i, dim in enumerate(dims):
        queries.update(promql.dimension_queries(i, dim))
    queries.update(promql.snapshot_queries(dims))
    return queries


def fetch(client: PrometheusClient, pool: ThreadPoolExecutor, clock: QueryClock,
           queries: dict[str, str], first: datetime, n: int,
           tick: Callable[[float], None] = lambda _f: None) -> Data:
    """Run every query for hours ``first .. first+n-1`` concurrently; index values by hour."""
    t0, t1 = first + HOUR, first + n * HOUR  # evaluation time of hour H is H + 1h
    answered = [0]
    lock = threading.Lock()

    def run(name: str) -> tuple[str, list[Series]]:
        with clock:
            out = name, client.query_range(queries[name], t0, t1, 3600,
                                           what=f"the {name} query")
        with lock:
            answered[0] += 1
            tick(answered[0] / len(queries))
        return out

    futures = [pool.submit(run, name) for name in queries]
    finished, pending = wait(futures, return_when=FIRST_EXCEPTION)
    failed = [f for f in finished if f.exception() is not None]
    if failed:
        for f in pending:
            f.cancel()
        wait(pending)  # let queries already running end before the caller gives up
        raise failed[0].exception()
    data: Data = {}
    for f in futures:
        name, series = f.result()
        per_hour: dict[datetime, list] = defaultdict(list)
        for s in series:
            for ts, v in s.values:
                hour = datetime.fromtimestamp(round(ts) - 3600, tz=timezone.utc)
                per_hour[hour].append((s.labels, v))
        data[name] = per_hour
    return data


__all__ = ["Data", "QueryClock", "build_queries", "fetch"]
