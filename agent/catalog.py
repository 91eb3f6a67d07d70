"""The real names a question is resolved against: clusters, namespaces, users, workloads, label
keys and values (the seed's discovery tools), fetched once per question.

Every mention in a question is matched against these lists, so the parser never invents a
namespace; clarification offers them as options. Kept apart from the graph so that how the
lists are fetched (and cached) can change without touching the nodes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from agent.figures import run_concurrently
from agent.sources.base import Source
from agent.understand.model import Metadata

METADATA_DAYS = 35  # names active in the last five weeks resolve
OPTIONS_DAYS = 7  # clarification offers namespaces active in the last 7 days


def load_metadata(source: Source, now: datetime, record: list) -> Metadata:
    """Every catalogue of the last ``METADATA_DAYS`` days; appends what it asked to ``record``
    (the ``data_collected`` of the answer)."""
    start, end = now - timedelta(days=METADATA_DAYS), now
    src = source
    names = getattr(src, "workload_names", None)
    clusters, namespaces, users, workloads, label_keys, annotation_keys = run_concurrently(
        src.clusters,
        lambda: src.namespaces(None, start, end),
        lambda: src.users(None, start, end),
        (lambda: names(None, start, end)) if names else
        (lambda: sorted({w.name for w in src.workloads(None, start, end)})),
        lambda: src.dimension_keys(None, "label", start, end),
        lambda: src.dimension_keys(None, "annotation", start, end),
    )
    keys = {"label": label_keys, "annotation": annotation_keys}
    pairs = [(t, k) for t, ks in keys.items() for k in ks]
    found = run_concurrently(*[(lambda t=t, k=k: src.dimension_values(None, t, k, start, end))
                               for t, k in pairs]) if pairs else []
    values = {k: v for (_, k), v in zip(pairs, found)}
    record += [
        {"tool": "get_available_clusters", "args": {}, "rows": len(clusters)},
        {"tool": "get_available_namespaces", "args": {"days": METADATA_DAYS}, "rows": len(namespaces)},
        {"tool": "get_workload_metadata", "args": {"days": METADATA_DAYS}, "rows": len(workloads)},
        {"tool": "get_available_dimension_keys", "args": {"days": METADATA_DAYS},
         "rows": sum(len(v) for v in keys.values())},
    ]
    return Metadata(clusters=clusters, namespaces=namespaces, users=users,
                    workloads=workloads, label_keys=keys, label_values=values)


def clusters_with_namespace(source: Source, now: datetime, namespace: str) -> list[str]:
    """The clusters where ``namespace`` was active lately (names are unique only per cluster)."""
    start = now - timedelta(days=METADATA_DAYS)
    return [c for c in source.clusters() if namespace in source.namespaces(c, start, now)]
