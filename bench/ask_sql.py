"""Benchmark: a rule-path ``gpureport ask`` on the `sql` source vs the SQL it runs.

For each question kind, ``gpureport ask --no-llm --json`` runs as its own process (median of
``--repeat``) against the large demo profile in PostgreSQL; inside that process SQLAlchemy's
cursor events time every statement. Printed per kind:

* ask: whole-process wall time;
* floor: the whole-process time of ``python -c "import langgraph.graph, sqlalchemy"`` (what any
  ask pays before doing anything);
* sql: the time spent executing the statements the ask sent to the data source (and their
  count; the state database's name cache is not counted: it is part of the overhead);
* ratio: (ask − floor) / sql — the target (issue 10 item 10) is ≤ 1.5: the rest of gpureport
  costs at most half as much again as the database work that answers the question;
* CPU−floor: the ask's CPU time (user + system) less the floor's — gpureport's own work, a
  figure that holds when other work shares the machine (wall times then do not).

The state database is brought to head first (``gpureport doctor``), so the catalogue's name
cache works as it does for a user: the median run finds the names the first one cached.

    python bench/ask_sql.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/gr_large
    (builds the large profile there first unless it already holds it; ``--build`` forces it)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.large_store import NOW, build  # noqa: E402

# each names its scope: a question without a cluster is asked back (answers.md §1), which
# would measure the clarification, not the figures
QUESTIONS = {
    "trend": "What is the GPU utilization trend of gpu-east over the last 7 days?",
    "trend (namespace)": "How is ml-team doing this week?",
    "compare": "compare ml-team and cv-team last week",
    "drilldown": "Why is ml-team's utilization lower this week than last week?",
    "ranking": "which namespaces wasted the most GPUs last week across all clusters",
    "realtime": "how many GPUs are in use right now in gpu-east?",
    "discovery": "what namespaces are there",
}

# Runs inside the measured process: time every statement, then run the CLI.
CHILD = r"""
import atexit, json, os, sys, time
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
source_db = make_url(os.environ["GPUREPORT_DATABASE_URL"]).database
spent = {"sql_s": 0.0, "statements": 0}
def before(conn, cursor, statement, params, context, many):
    conn.info.setdefault("t", []).append(time.perf_counter())
def after(conn, cursor, statement, params, context, many):
    took = time.perf_counter() - conn.info["t"].pop()
    if conn.engine.url.database == source_db:  # the data source, not the state database
        spent["sql_s"] += took
        spent["statements"] += 1
event.listen(Engine, "before_cursor_execute", before)
event.listen(Engine, "after_cursor_execute", after)
report = sys.argv[1]
atexit.register(lambda: open(report, "w").write(json.dumps(spent)))
sys.argv = ["gpureport"] + sys.argv[2:]
from reporter.cli import main
main()
"""


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process."""
    t, cpu = time.perf_counter(), child_cpu()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   cwd=ROOT)
    return time.perf_counter() - t, child_cpu() - cpu


def floor(env: dict, repeat: int) -> tuple[float, float]:
    # freezing its heap at exit as ``gpureport`` does (reporter/cli.py): like for like
    cmd = [sys.executable, "-c",
           "import atexit, gc, langgraph.graph, sqlalchemy; atexit.register(gc.freeze)"]
    runs = [wall(cmd, env) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def ask(question: str, env: dict, repeat: int) -> tuple[float, float, float, int, str]:
    """(wall s, CPU s, SQL s, statements, answer) of the median run (by wall time)."""
    times, cpus, sql, answer = [], [], [], ""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sql.json"
        for _ in range(repeat):
            cmd = [sys.executable, "-c", CHILD, str(out), "ask", "--no-llm", "--json", question]
            t, cpu = time.perf_counter(), child_cpu()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
            times.append(time.perf_counter() - t)
            cpus.append(child_cpu() - cpu)
            if done.returncode not in (0, 3):
                raise SystemExit(f"ask failed ({done.returncode}): {done.stderr.strip()}")
            answer = json.loads(done.stdout).get("answer", "")
            sql.append(json.loads(out.read_text()))
    mid = sorted(range(repeat), key=lambda i: times[i])[repeat // 2]
    return times[mid], cpus[mid], sql[mid]["sql_s"], sql[mid]["statements"], answer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", required=True, help="PostgreSQL URL holding (or to hold) the large profile")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--build", action="store_true", help="regenerate the profile")
    args = ap.parse_args()
    build(args.pg, reuse=not args.build)
    home = tempfile.mkdtemp(prefix="gpureport-bench-")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GPUREPORT_HOME": home,
           "GPUREPORT_DATABASE_URL": args.pg, "GPUREPORT_SOURCE": "sql",
           "GPUREPORT_NOW": NOW.isoformat()}
    for name in ("LENS_API_URL", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)  # bytecode: the first run caches it, as an install has it
    # the state database at head (as after any `run`, `doctor`, `serve`), so the name cache
    # works: each question's first run fills it, the median run finds it there
    subprocess.run([sys.executable, "-m", "reporter.cli", "doctor"], env=env, cwd=ROOT,
                   capture_output=True)
    base, base_cpu = floor(env, max(5, args.repeat))
    print(f"import floor (median): {base:.2f} s, {base_cpu:.2f} s of CPU; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'question kind':18} {'ask s':>6} {'-floor':>7} {'sql s':>6} {'stmts':>5} {'ratio':>6}"
          f" {'CPU-floor':>9}")
    for kind, question in QUESTIONS.items():
        total, cpu, sql_s, n, answer = ask(question, env, args.repeat)
        ratio = (total - base) / sql_s if sql_s else float("inf")
        print(f"{kind:18} {total:6.2f} {total - base:7.2f} {sql_s:6.2f} {n:5d} {ratio:6.2f}"
              f" {cpu - base_cpu:9.2f}   {answer[:50]}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
