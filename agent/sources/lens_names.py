"""Workload names over the Lens API, looked up per word instead of listed (lens.md §4.5).

``/workloads`` lists every top-level workload of a cluster — many pages on a real one — and
name resolution needs only the few names a question mentions. Per word, in the clusters asked,
until one step finds the word's name (exact, case- or separator-insensitive):

1. ``/workloads?name=<word>`` (SQL LIKE, case-sensitive; Kubernetes names are lower case) —
   the name and the longer names containing it;
2. the hourly stats with ``workload_name=<word>`` — a workload deleted since, whose rows are
   still in the window (``/workloads`` hides deleted ones);
3. ``/workloads?name=<its first letters>`` — near names to suggest: of one page of 1000
   (newest first; ``name`` is a substring filter), the names that begin with those letters.

Each step is one request per cluster and at most ``limit`` names; listings keep workloads
created before ``end`` and updated after ``start``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agent.names import NameIndex, lookup_prefix
from agent.periods import utc
from agent.sources.lens_client import PAGE_ROWS, LensClient, inclusive_end, rfc3339


def find(client: LensClient, clusters: list[str], start: datetime, end: datetime,
         words: Sequence[str], limit: int) -> dict[str, list[str]]:
    """Per word, the workload names it may mean."""
    return {word: _names_for(client, word, clusters, start, end, limit)
            for word in dict.fromkeys(words)}


def _names_for(client: LensClient, word: str, clusters: list[str], start: datetime,
               end: datetime, limit: int) -> list[str]:
    low = word.lower()
    found = _listed(client, low, clusters, start, end, limit)
    if NameIndex(found).match(word) is not None:
        return found
    s, e = utc(start), utc(end)
    for spelled in dict.fromkeys((low, word)):
        for name in clusters:
            page = client.get("/gpu-aggregation/workloads/hourly-stats", {
                "cluster": name, "workload_name": spelled, "start_time": rfc3339(s),
                "end_time": rfc3339(inclusive_end(e)), "page": 1, "page_size": PAGE_ROWS})
            rows = page.get("data") if isinstance(page, dict) else page
            if rows:
                return sorted({*found, spelled})
    prefix = lookup_prefix(word)
    if not prefix or prefix == low:
        return found
    near = _listed(client, prefix, clusters, start, end, PAGE_ROWS)
    return sorted({*found, *[n for n in near if n.lower().startswith(prefix)][:limit]})


def _listed(client: LensClient, text: str, clusters: list[str], start: datetime,
            end: datetime, limit: int) -> list[str]:
    """Names of top-level workloads containing ``text`` that lived in the window."""
    lo, hi = start.timestamp(), end.timestamp()
    names: set[str] = set()
    for name in clusters:
        items, _total = client.workloads_page({"cluster": name, "name": text}, 1, limit)
        for item in items:
            if _stamp(item.get("start_at"), 0) < hi and _stamp(item.get("end_at"), hi) >= lo:
                names.add(str(item.get("name")))
    return sorted(names)


def _stamp(value: Any, default: float) -> float:
    """A Unix-seconds field of ``/workloads`` (0 or missing: ``default``)."""
    try:
        return float(value) or default
    except (TypeError, ValueError):
        return default
