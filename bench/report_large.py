"""Benchmark: the weekly digest on the `large` demo profile — time, peak memory, share of SQL.

Builds (or reuses) the large profile at /tmp/gpureport-large.db with the same parameters as
``bench/aggregates.py`` (seed 7, now = Thursday 2026-11-19 12:00 UTC), so both benchmarks share
one file. Each case runs in a fresh process, so its peak RSS (``ru_maxrss``) is its own:

* ``html``: build the report (the agent's preset questions) and render the HTML;
* ``pdf``: the same, then WeasyPrint lays it out as a PDF.

"SQL time" is measured twice: the time inside ``cursor.execute`` during the run (SQLAlchemy
``before/after_cursor_execute``; on SQLite this misses rows stepped during ``fetchall``), and
the time to replay exactly the captured statements, one after the other, with ``fetchall`` on
a raw DBAPI connection — the time the queries themselves need. The report runs independent
queries concurrently, so its wall time can be below the sequential SQL time. One unmeasured
warm-up run precedes the measured one (``--warmup``), so both find the file in the page cache;
peak RSS covers both runs of the process.

    python bench/report_large.py [--db PATH] [--periods last-week,this-week] [--no-reuse]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.large_store import DEFAULT_DB, NOW, build  # noqa: E402


def one(url: str, fmt: str, period: str, warmup: int = 1) -> dict:
    """One measured run in this process (called in a child process)."""
    t_start = time.perf_counter()
    from sqlalchemy import event

    import importlib

    importlib.import_module("agent.graph")  # imports are timed apart from the run
    from agent.sources.sql import SqlSource
    from reporter.render.html import render_html
    from reporter.render.pdf import render_pdf
    from reporter.reports.build import build_report

    t_imported = time.perf_counter()
    src = SqlSource(url)
    src.clusters()
    eng = src._engine_for("", src.database_url)
    captured: list[tuple[str, object]] = []
    in_driver = [0.0]

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_t", []).append(time.perf_counter())
        captured.append((statement, parameters))

    def after(conn, cursor, statement, parameters, context, executemany):
        in_driver[0] += time.perf_counter() - conn.info["bench_t"].pop()

    # warm-up: the same report once, unmeasured, so the run and the replay below both find
    # the database file in the OS page cache (otherwise whichever goes first pays for it)
    for _ in range(warmup):
        build_report("weekly", src, NOW, period=period)
    event.listen(eng, "before_cursor_execute", before)
    event.listen(eng, "after_cursor_execute", after)
    t0 = time.perf_counter()
    ctx = build_report("weekly", src, NOW, period=period)
    t1 = time.perf_counter()
    html = render_html(ctx)
    t2 = time.perf_counter()
    pdf_s, pdf_bytes = None, None
    if fmt == "pdf":
        pdf = render_pdf(html)
        pdf_s, pdf_bytes = time.perf_counter() - t2, len(pdf)
    t_end = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    event.remove(eng, "before_cursor_execute", before)
    event.remove(eng, "after_cursor_execute", after)

    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        t = time.perf_counter()
        for stmt, params in captured:
            cur.execute(stmt, params)
            cur.fetchall()
        replay = time.perf_counter() - t
        cur.close()
    finally:
        raw.close()
    src.close()
    return {"fmt": fmt, "period": period, "imports_s": t_imported - t_start,
            "build_s": t1 - t0, "html_s": t2 - t1, "pdf_s": pdf_s, "total_s": t_end - t0,
            "sql_replay_s": replay, "sql_in_driver_s": in_driver[0], "statements": len(captured),
            "peak_rss_mb": rss, "html_bytes": len(html), "pdf_bytes": pdf_bytes,
            "sections": len(ctx.sections), "drops": len(ctx.dropped)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=DEFAULT_DB)
    ap.add_argument("--periods", default="last-week,this-week")
    ap.add_argument("--no-reuse", action="store_true")
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (default 1)")
    ap.add_argument("--one", nargs=2, metavar=("FORMAT", "PERIOD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    url = f"sqlite:///{args.db}"
    if args.one:
        print(json.dumps(one(url, *args.one, warmup=args.warmup)))
        return

    gen = build(url, not args.no_reuse)
    if gen:
        print(f"generated the large profile in {gen:.1f} s")
    rows = []
    for period in args.periods.split(","):
        for fmt in ("html", "pdf"):
            proc = subprocess.run([sys.executable, __file__, "--db", args.db, "--warmup",
                                   str(args.warmup), "--one", fmt, period],
                                  capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                sys.exit(f"{fmt} {period} failed:\n{proc.stderr}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"  {fmt} {period}: done", file=sys.stderr)

    head = (f"{'case':24} {'total s':>8} {'build s':>8} {'HTML s':>7} {'PDF s':>7} "
            f"{'SQL s':>7} {'in-drv s':>8} {'total/SQL':>9} {'stmts':>6} {'RSS MB':>7} {'imports s':>9}")
    print("\n" + head)
    for r in rows:
        print(f"{'weekly ' + r['fmt'].upper() + ' ' + r['period']:24} {r['total_s']:8.2f} "
              f"{r['build_s']:8.2f} {r['html_s']:7.2f} "
              f"{(r['pdf_s'] if r['pdf_s'] is not None else 0):7.2f} {r['sql_replay_s']:7.2f} "
              f"{r['sql_in_driver_s']:8.2f} {r['total_s'] / r['sql_replay_s']:9.2f} "
              f"{r['statements']:6} {r['peak_rss_mb']:7.0f} {r['imports_s']:9.2f}")
    print("\nSQL s = the captured statements replayed sequentially with fetchall; in-drv s = time "
          "inside cursor.execute during the run (summed over threads).")
    print("targets: weekly HTML total <= 2 x SQL s; PDF (WeasyPrint) < 15 s; peak RSS < 300 MB")


if __name__ == "__main__":
    main()
