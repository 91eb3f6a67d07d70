"""Benchmark: HTTP requests per question kind over the Lens API (issue 10 item 10).

Generates the small demo profile (or takes ``--db``), serves it with the fake Lens server of
the tests (``tests/fakes/lens_api.py``, which records every request), and asks one question
per kind through ``agent.ask.ask`` twice, each time with a *new* ``LensSource`` — as two
``gpureport ask`` processes would:

* cold: the name cache empty (first question after the TTL);
* warm: the name cache filled by the cold run (what the state database's cache gives the next
  process within the TTL).

    python bench/lens_requests.py [--db sqlite:////tmp/demo.db]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.ask import ask  # noqa: E402
from agent.cache import PROCESS_CACHE, CatalogCache  # noqa: E402
from agent.deps import AgentDeps  # noqa: E402
from agent.sources.lens import LensSource  # noqa: E402
from tests.fakes.lens_api import serve_lens  # noqa: E402

NOW = datetime(2026, 11, 19, 12, tzinfo=timezone.utc)
QUESTIONS = {
    "trend": "What is the GPU utilization trend of ml-team over the last 7 days?",
    "trend (all)": "What is the GPU utilization trend over the last 7 days?",
    "compare": "compare ml-team and cv-team last week",
    "drilldown": "Why is ml-team's utilization lower this week than last week?",
    "ranking": "which namespaces wasted the most GPUs last week",
    "realtime": "how many GPUs are in use right now on gpu-east",
    "realtime (all)": "how many GPUs are in use right now in all clusters",
    "discovery": "what namespaces are there",
    "workload": "how did the embedding-api workload do this week",
    "workload typo": "how did embeding-api do this week",
}


def count(server, question: str, cache: CatalogCache) -> tuple[int, float, dict, str]:
    """Requests of one question asked through a new ``LensSource`` (a new process)."""
    server.requests.clear()
    src = LensSource(server.url, cache=cache)
    t = time.perf_counter()
    answer = ask(question, AgentDeps(source=src, now=NOW, catalog=cache), use_llm=False)
    elapsed = time.perf_counter() - t
    src.close()
    paths = collections.Counter(r.path.removeprefix("/v1") for r in server.requests)
    return len(server.requests), elapsed, dict(paths), answer.headline


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", help="a demo store URL (default: generate the small profile)")
    ap.add_argument("-v", action="store_true", help="print the paths requested")
    args = ap.parse_args()
    url = args.db
    if url is None:
        from reporter.demo import generate

        path = Path(tempfile.mkdtemp()) / "demo.db"
        url = f"sqlite:///{path}"
        generate(url, seed=42, profile="small", now=NOW)
    print(f"{'question kind':16} {'cold':>5} {'warm':>5}   question")
    with serve_lens(url) as server:
        for kind, question in QUESTIONS.items():
            cache = PROCESS_CACHE  # what the graph's catalogue uses (until it takes deps.catalog)
            cache.clear()
            cold, _, cold_paths, _ = count(server, question, cache)
            warm, _, warm_paths, headline = count(server, question, cache)
            print(f"{kind:16} {cold:5d} {warm:5d}   {question}")
            if args.v:
                print(f"{'':16} cold {cold_paths}\n{'':16} warm {warm_paths}\n"
                      f"{'':16} -> {headline[:90]}")


if __name__ == "__main__":
    main()
