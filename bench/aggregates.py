"""Benchmark: period aggregates of the `sql` source vs the raw SQL they execute.

Builds (or reuses) the `large` demo profile, then for each aggregate records the SQL statements
the source sends (SQLAlchemy ``before_cursor_execute``), replays exactly those statements on the
raw DBAPI connection, and prints both timings: the difference is gpureport's own overhead.

    python bench/aggregates.py [--db /tmp/gpureport-large.db] [--pg URL] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, func, select  # noqa: E402

from agent.periods import last_week, this_week  # noqa: E402
from agent.sources import schema  # noqa: E402
from agent.sources.base import Scope  # noqa: E402
from agent.sources.sql import SqlSource  # noqa: E402

from bench.large_store import DEFAULT_DB, NOW, build  # noqa: E402


def capture(source: SqlSource):
    statements: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    eng = source._engine_for("", source.database_url)
    event.listen(eng, "before_cursor_execute", listener)
    return eng, statements, listener


def replay(eng, statements) -> tuple[float, int]:
    raw = eng.raw_connection()
    rows = 0
    try:
        cur = raw.cursor()
        t = time.perf_counter()
        for stmt, params in statements:
            cur.execute(stmt, params)
            rows += len(cur.fetchall())
        elapsed = time.perf_counter() - t
        cur.close()
    finally:
        raw.close()
    return elapsed, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=DEFAULT_DB)
    ap.add_argument("--pg", help="PostgreSQL URL to benchmark instead of SQLite")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-reuse", action="store_true")
    args = ap.parse_args()
    url = args.pg or f"sqlite:///{args.db}"
    gen = build(url, not args.no_reuse)
    if gen:
        print(f"generated the large profile in {gen:.1f} s")

    src = SqlSource(url)
    cur, base = this_week(NOW), last_week(NOW)
    cluster = "gpu-east"
    cases = [
        ("cluster period stats", lambda: src.period_stats(Scope("cluster", cluster), cur.start, cur.end)),
        ("all clusters period stats", lambda: src.period_stats(Scope("cluster"), base.start, base.end)),
        ("namespaces of cluster", lambda: src.children_stats(Scope("cluster", cluster), "namespace", base.start, base.end)),
        ("namespace period stats", lambda: src.period_stats(Scope("namespace", cluster, namespace="ml-team"), base.start, base.end)),
        ("users of namespace", lambda: src.children_stats(Scope("namespace", cluster, namespace="ml-team"), "user", base.start, base.end)),
        ("workloads of namespace", lambda: src.children_stats(Scope("namespace", cluster, namespace="ml-team"), "workload", base.start, base.end)),
        ("users of cluster (annotation)", lambda: src.children_stats(Scope("cluster", cluster), "user", base.start, base.end)),
        ("user period stats", lambda: src.period_stats(Scope("user", cluster, user="user_a"), base.start, base.end)),
        ("workloads of cluster (idle ranking)", lambda: src.children_stats(Scope("cluster", cluster), "workload", base.start, base.end)),
        ("hourly series cluster, 1 week", lambda: src.hourly_series(Scope("cluster", cluster), base.start, base.end)),
        ("hourly series namespace, 4 weeks", lambda: src.hourly_series(Scope("namespace", cluster, namespace="ml-team"), base.start - timedelta(weeks=3), base.end)),
    ]
    src.clusters()  # warm the cluster list cache (one tiny query)
    eng, statements, listener = capture(src)
    print(f"\n{'aggregate':38} {'gpureport s':>12} {'raw SQL s':>10} {'overhead':>9} {'result rows':>12} {'stmts':>6}")
    totals = [0.0, 0.0]
    for name, fn in cases:
        fn()  # warm caches (page cache, statement compilation)
        api_times, raw_times = [], []
        for _ in range(args.repeat):
            statements.clear()
            t = time.perf_counter()
            result = fn()
            api_times.append(time.perf_counter() - t)
            captured = list(statements)
            raw_t, _ = replay(eng, captured)
            raw_times.append(raw_t)
        n = len(result) if isinstance(result, list) else 1
        a, r = statistics.median(api_times), statistics.median(raw_times)
        totals[0] += a
        totals[1] += r
        print(f"{name:38} {a:12.3f} {r:10.3f} {(a - r) / r * 100 if r else 0:8.1f}% {n:12,} {len(captured):6}")
    event.remove(eng, "before_cursor_execute", listener)
    with eng.connect() as c:
        wrows = c.execute(select(func.count()).select_from(schema.workload_hourly)).scalar()
    print(f"{'total':38} {totals[0]:12.3f} {totals[1]:10.3f} {(totals[0] - totals[1]) / totals[1] * 100:8.1f}%")
    print(f"\nworkload-hour rows in store: {wrows:,}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
