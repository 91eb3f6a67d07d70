"""The `large` demo profile shared by the benchmarks: built once, reused while it is there."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOW = datetime(2026, 11, 19, 12, 0, tzinfo=timezone.utc)
MIN_ROWS = 1_500_000
DEFAULT_DB = "/tmp/gpureport-large.db"


def build(url: str, reuse: bool) -> float:
    """Generate the large profile at ``url`` unless it already holds it; seconds spent."""
    from sqlalchemy import create_engine, func, select

    from agent.sources import schema
    from reporter.demo import generate

    eng = create_engine(url)
    try:
        with eng.connect() as c:
            n = c.execute(select(func.count()).select_from(schema.workload_hourly)).scalar()
    except Exception:  # noqa: BLE001 - no tables yet
        n = 0
    eng.dispose()
    if reuse and n and n >= MIN_ROWS:
        print(f"reusing {url} ({n:,} workload rows)")
        return 0.0
    t = time.perf_counter()
    generate(url, seed=7, profile="large", now=NOW, reset=True,
             progress=lambda m: print("  " + m, file=sys.stderr))
    return time.perf_counter() - t
