"""The one place the agent's real names come from: clusters, namespaces, users, label keys and
values, workloads.

A mention in a question is only ever resolved against names the source really has, so the
parser never invents a namespace and clarification can offer the real ones. Fetching every
list before every question does not scale (a large cluster has ~170,000 workload names in five
weeks, and over the Lens API the workload list alone is many pages), so:

* **small catalogues** — clusters, the namespaces of each cluster, users (the user
  annotation's values), label keys, the values of one label key — are fetched only when the
  question needs them (``Catalog`` is lazy: the parser touches ``label_keys`` only for a
  ``key=value``) and kept in a ``CatalogCache`` for ``ttl_s`` seconds (default 300, config
  ``source.catalog_ttl_s``, env ``GPUREPORT_CATALOG_TTL``). An entry older than its TTL is
  fetched again, never served. The CLI hands the agent a cache in the state database
  (``AppContext.agent_deps``), so consecutive ``gpureport ask`` processes share it; without
  one (tests, library use) a per-process memory cache serves;
* **workload names** are *looked up*: the parser hands over the question's candidate words
  and the source answers with the real names equal or near to them
  (``Source.find_workload_names``); each word's answer is cached like a catalogue.

Cache keys hold where the names come from (``Source.describe()``, credentials masked), what
was asked, and the hour of "now" the five-week window ends in: two stores, or two ``--now``
values, never share an entry.

Every catalogue a question uses is appended to ``record`` — the ``data_collected`` of the
answer — whether it was fetched or cached, so one question reads the same whatever the cache
held. A cache that fails (state database unreachable) is skipped with a warning in the log:
the names are then fetched, the question still answered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from agent.cache import PROCESS_CACHE, CatalogCache, fresh, fresh_many, keep, keep_many, utcnow
from agent.figures import run_concurrently
from agent.periods import floor_hour, iso
from agent.sources.base import Source

METADATA_DAYS = 35  # names active in the last five weeks resolve
OPTIONS_DAYS = 7  # clarification offers namespaces active in the last 7 days

__all__ = ["Catalog", "CatalogCache", "load_metadata", "clusters_with_namespace",
           "METADATA_DAYS", "OPTIONS_DAYS"]


class Catalog:
    """The real names of one source at one "now" (``understand.model.Names``), fetched on first
    use, cached, and memoised for the life of this object (one question, or one session turn)."""

    def __init__(self, source: Source, now: datetime, *, cache: CatalogCache | None = None,
                 record: list | None = None, clock: Callable[[], datetime] = utcnow):
        self.source = source
        self.now = now
        self.cache: CatalogCache = cache if cache is not None else PROCESS_CACHE
        self.record = record if record is not None else []
        self.clock = clock
        self.start, self.end = now - timedelta(days=METADATA_DAYS), now
        self._scope = f"{source.describe()}|{iso(floor_hour(now))}"
        self._memo: dict[str, Any] = {}
        self._workloads: list[str] = []

    # -- the cache ----------------------------------------------------------------------------
    def _cached(self, key: str, fetch: Callable[[], Any], tool: str, args: dict) -> Any:
        if key in self._memo:
            return self._memo[key]
        full = f"{self._scope}|{key}"
        value = self._read(full)
        if value is None:
            value = fetch()
            self._write(full, value)
        self._memo[key] = value
        self.record.append({"tool": tool, "args": args, "rows": _rows(value)})
        return value

    def _read(self, key: str) -> Any | None:
        return fresh(self.cache, key, self.clock)

    def _write(self, key: str, value: Any) -> None:
        keep(self.cache, key, value, self.clock)

    # -- small catalogues ---------------------------------------------------------------------
    @property
    def clusters(self) -> list[str]:
        return self._cached("clusters", self.source.clusters, "get_available_clusters", {})

    def _namespaces(self) -> dict[str, list[str]]:
        return self._cached("namespaces_by_cluster",
                            lambda: self.source.namespaces_by_cluster(self.start, self.end),
                            "get_available_namespaces", {"days": METADATA_DAYS})

    def namespaces_in(self, cluster: str) -> list[str]:
        """Namespaces with rows in ``cluster`` in the last ``METADATA_DAYS`` days."""
        return list(self._namespaces().get(cluster, []))

    @property
    def namespaces(self) -> list[str]:
        return sorted({ns for names in self._namespaces().values() for ns in names})

    def clusters_with(self, namespace: str) -> list[str]:
        """The clusters where ``namespace`` was active lately (names are unique only per
        cluster)."""
        known = set(self.clusters)
        return [c for c, names in self._namespaces().items() if c in known and namespace in names]

    @property
    def users(self) -> list[str]:
        return self._cached("users", lambda: self.source.users(None, self.start, self.end),
                            "get_available_users", {"days": METADATA_DAYS})

    @property
    def label_keys(self) -> dict[str, list[str]]:
        def fetch() -> dict[str, list[str]]:
            label, annotation = run_concurrently(
                lambda: self.source.dimension_keys(None, "label", self.start, self.end),
                lambda: self.source.dimension_keys(None, "annotation", self.start, self.end))
            return {"label": label, "annotation": annotation}

        return self._cached("label_keys", fetch, "get_available_dimension_keys",
                            {"days": METADATA_DAYS})

    def values_of(self, label_type: str, key: str) -> list[str]:
        return self._cached(
            f"values:{label_type}:{key}",
            lambda: self.source.dimension_values(None, label_type, key, self.start, self.end),
            "get_available_dimension_values",
            {"dimension_type": label_type, "key": key, "days": METADATA_DAYS})

    # -- workloads: looked up per word --------------------------------------------------------
    @property
    def workloads(self) -> list[str]:
        return list(self._workloads)

    def workloads_near(self, words: Sequence[str], exact: Sequence[str] = ()) -> list[str]:
        """Real workload names for the question's ``words`` (exact, case- or separator-
        insensitive matches and near names to suggest) and ``exact`` words (equal names only);
        one source lookup for every word not yet cached."""
        keys = {**{w: f"workloads~{w}" for w in words},
                **{w: f"workloads={w}" for w in exact if w not in words}}
        found: dict[str, list[str]] = {}
        todo: dict[str, str] = {}
        cached = fresh_many(self.cache, [f"{self._scope}|{k}" for k in keys.values()
                                         if k not in self._memo], self.clock)
        for word, key in keys.items():
            full = f"{self._scope}|{key}"
            if key in self._memo:
                found[word] = self._memo[key]
            elif full in cached:
                found[word] = self._memo[key] = cached[full]
            else:
                todo[word] = key
        if todo:
            near = [w for w in todo if w in words]
            only = [w for w in todo if w not in words]
            looked = self.source.find_workload_names(None, self.start, self.end, near, only)
            for word, key in todo.items():
                found[word] = self._memo[key] = sorted(set(looked.get(word, [])))
            keep_many(self.cache, {f"{self._scope}|{k}": found[w] for w, k in todo.items()},
                      self.clock)
        if keys:
            self.record.append({"tool": "find_workload_names",
                                "args": {"words": list(words), "exact": [w for w in exact
                                                                          if w not in words],
                                         "days": METADATA_DAYS},
                                "rows": len({n for names in found.values() for n in names})})
        self._workloads = sorted({n for names in found.values() for n in names})
        return list(self._workloads)


def _rows(value: Any) -> int:
    if isinstance(value, dict):
        return sum(len(v) for v in value.values())
    return len(value)


def load_metadata(source: Source, now: datetime, record: list, *,
                  cache: CatalogCache | None = None) -> Catalog:
    """The names the understand node resolves a question against: a lazy ``Catalog`` that
    fetches (and caches) only what the question needs; what it used is appended to ``record``."""
    return Catalog(source, now, cache=cache, record=record)


def clusters_with_namespace(source: Source, now: datetime, namespace: str, *,
                            cache: CatalogCache | None = None) -> list[str]:
    """The clusters where ``namespace`` was active lately (``Catalog.clusters_with``)."""
    return Catalog(source, now, cache=cache).clusters_with(namespace)
