"""Benchmark: start-up of a rule-path ``gpureport ask`` against the import floor.

* floor: whole-process time of ``python -c "import langgraph.graph, sqlalchemy"`` — what any ask
  pays before it does anything (the graph and the database layer) — freezing its heap at exit
  as ``gpureport`` does, so that neither side pays a final collection the other skips;
* ask: whole-process time of ``gpureport ask --no-llm`` on the small demo store (SQLite),
  one question that resolves a namespace name and reads a week of figures;

medians of ``--repeat`` (5) runs each, in wall time and in CPU time (user + system: what
holds on a machine other work shares), then the imports the ask makes beyond the floor, by
cumulative time (``-X importtime``), so what is worth removing is visible. Target (issue 10
item 10): ask within 0.15 s of the floor.

    python bench/startup.py [--db sqlite:////tmp/demo.db] [--repeat 5] [--top 15]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 19, 12, 0, tzinfo=timezone.utc)
QUESTION = "How is ml-team doing this week?"
# the floor leaves its heap to the operating system at exit as ``gpureport`` does (gc.freeze,
# reporter/cli.py), so ask - floor is what the ask itself adds, not a teardown one side skips
FLOOR = [sys.executable, "-c",
         "import atexit, gc, langgraph.graph, sqlalchemy; atexit.register(gc.freeze)"]


def run(cmd: list[str], env: dict, check: bool = True) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one process. On a machine that other
    work shares, the CPU time holds where the wall time does not."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed: {done.stderr.strip()[-300:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imports(cmd: list[str], env: dict) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """(module -> (self µs, cumulative µs), module -> the module whose import imported it),
    from ``-X importtime`` (which prints a module after everything it imported)."""
    done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True,
                          text=True, cwd=ROOT)  # ``-m`` imports from the working directory
    times: dict[str, tuple[int, int]] = {}
    parent: dict[str, str] = {}
    pending: list[tuple[int, str]] = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        level, name = len(m[3]) // 2, m[4]
        times[name] = (int(m[1]), int(m[2]))
        while pending and pending[-1][0] > level:
            parent[pending.pop()[1]] = name
        pending.append((level, name))
    return times, parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", help="demo store URL (default: generate the small profile)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="gpureport-startup-")
    url = args.db
    if url is None:
        from reporter.demo import generate

        url = f"sqlite:///{Path(home) / 'demo.db'}"
        generate(url, seed=42, profile="small", now=NOW)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GPUREPORT_HOME": home,
           "GPUREPORT_DATABASE_URL": url, "GPUREPORT_SOURCE": "sql",
           "GPUREPORT_NOW": NOW.isoformat()}
    for name in ("LENS_API_URL", "LLM_API_KEY", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)  # bytecode: the warm-up run caches it, as an install has it
    ask = [sys.executable, "-m", "reporter.cli", "ask", "--no-llm", QUESTION]
    # the state database at head (as after any `run`, `doctor`, `serve`): the first ask fills
    # its name cache, the measured ones find it there (within source.catalog_ttl_s)
    run([sys.executable, "-m", "reporter.cli", "doctor"], env, check=False)
    run(ask, env)  # warm the file cache, the demo store and the name cache once
    floors, asks = [], []
    for _ in range(args.repeat):  # interleaved, so load changes hit both alike
        floors.append(run(FLOOR, env))
        asks.append(run(ask, env))
    for i, what in ((0, "wall"), (1, "CPU")):
        floor = statistics.median(t[i] for t in floors)
        total = statistics.median(t[i] for t in asks)
        print(f"{what:4} import floor   median of {args.repeat}: {floor:.3f} s  "
              f"({', '.join(f'{t[i]:.2f}' for t in floors)})")
        print(f"{what:4} rule-path ask  median of {args.repeat}: {total:.3f} s  "
              f"({', '.join(f'{t[i]:.2f}' for t in asks)})")
        print(f"{what:4} ask - floor: {total - floor:+.3f} s (target <= 0.150)")
    print(f"load average: {os.getloadavg()[0]:.2f}")

    (base, _), (mine, parent) = imports(FLOOR, env), imports(ask, env)
    extra = {m: v for m, v in mine.items() if m not in base}

    def root(m: str) -> str:  # the outermost import beyond the floor that pulled ``m`` in
        seen = {m}
        while parent.get(m) in extra and parent[m] not in seen:  # a name printed twice
            m = parent[m]
            seen.add(m)
        return m

    cost: dict[str, int] = {}
    for m, (own, _) in extra.items():
        cost[root(m)] = cost.get(root(m), 0) + own
    print(f"\nimports beyond the floor: {len(extra)} modules, "
          f"{sum(cost.values()) / 1e6:.3f} s; the top {args.top} (own time of what each pulled "
          "in that the floor does not have):")
    for m in sorted(cost, key=lambda m: -cost[m])[:args.top]:
        print(f"  {cost[m] / 1e3:8.1f} ms  {m}")


if __name__ == "__main__":
    main()
