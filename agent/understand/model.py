"""What understanding a question produces, shared by the rule parser and the LLM extractor.

``Understanding`` is plain data: the graph decides from it whether to clarify or to plan.
``Names`` is what the parser resolves mentions against, so it never invents a namespace: the
real clusters, namespaces, users and label keys, and for workloads — far too many to list on a
real cluster — only the real names near the words of the question. ``Metadata`` is a fixed
set of names (tests, a caller that already has them); ``agent.catalog.Catalog`` fetches them
from the source on first use and caches them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, Sequence

from agent.periods import Period

Intent = Literal["trend", "compare", "drilldown", "realtime", "discovery", "ranking", "freshness",
                 "anomalies", "history", "help"]
INTENTS: tuple[str, ...] = ("trend", "compare", "drilldown", "realtime", "discovery", "ranking",
                            "freshness", "anomalies", "history", "help")
EntityKind = Literal["cluster", "namespace", "user", "workload", "label"]


class Names(Protocol):
    """The real names a question is resolved against.

    The lists are read only when the question needs them (a question without a ``key=value``
    never reads ``label_keys``), so an implementation may fetch each on first use.
    """

    @property
    def clusters(self) -> list[str]: ...

    @property
    def namespaces(self) -> list[str]: ...  # active in the recent window, every cluster

    @property
    def users(self) -> list[str]: ...

    @property
    def label_keys(self) -> dict[str, list[str]]: ...  # "label"/"annotation" -> keys

    @property
    def workloads(self) -> list[str]:
        """The workload names found by the last ``workloads_near`` (all of them, for a fixed
        list)."""
        ...

    def values_of(self, label_type: str, key: str) -> list[str]:
        """The values of one label key ([] when unknown: the value is then taken as written)."""
        ...

    def workloads_near(self, words: Sequence[str], exact: Sequence[str] = ()) -> list[str]:
        """Real workload names a person may mean by ``words`` (equal, ignoring case or
        separators, or close enough to suggest), plus those equal to one of ``exact``
        (everyday words, which are names only when spelled exactly)."""
        ...


@dataclass
class Metadata:
    """A fixed set of real names (``Names``), for resolution and for clarification options."""

    clusters: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)  # active in the recent window
    users: list[str] = field(default_factory=list)
    workloads: list[str] = field(default_factory=list)
    label_keys: dict[str, list[str]] = field(default_factory=dict)  # "label"/"annotation" -> keys
    label_values: dict[str, list[str]] = field(default_factory=dict)  # label key -> values

    def values_of(self, label_type: str, key: str) -> list[str]:
        return list(self.label_values.get(key, []))

    def workloads_near(self, words: Sequence[str], exact: Sequence[str] = ()) -> list[str]:
        return list(self.workloads)  # a fixed list is small enough to search whole


@dataclass
class Issue:
    """Something that stops the agent from answering without asking back.

    kind: ``unknown`` (a name that matches nothing; ``suggestions`` are the closest real ones),
    ``missing`` (e.g. which cluster, which namespace), ``ambiguous`` (e.g. a vague period),
    ``invalid`` (a period recognised but unusable: future, reversed, a holiday — never asked
    back, a usage error).
    ``entity`` is the entity kind concerned ("cluster", "namespace", "user", "workload",
    "label", "period").
    """

    kind: Literal["unknown", "missing", "ambiguous", "invalid"]
    entity: str
    text: str = ""
    suggestions: list[str] = field(default_factory=list)


@dataclass
class Understanding:
    question: str
    language: Literal["en", "zh"] = "en"
    intent: Intent = "help"
    confidence: float = 0.0  # 0..1; below ~0.6 the LLM (if configured) is asked
    cluster: str | None = None
    namespace: str | None = None
    user: str | None = None
    workload: str | None = None
    label_type: str = "label"  # label | annotation
    label_key: str | None = None
    label_value: str | None = None
    # compare of two entities: the second one (same kind as the first named)
    other_kind: EntityKind | None = None
    other: str | None = None
    metric: Literal["utilization", "allocation"] = "utilization"
    period: Period | None = None
    baseline: Period | None = None
    period_explicit: bool = False
    # ranking: which children and by what ("idle", "gpu_hours", "utilization_low",
    # "utilization_high")
    ranking_entity: Literal["namespace", "user", "workload"] | None = None
    ranking_by: str | None = None
    limit: int = 10
    # discovery: what to list ("clusters", "namespaces", "label_keys", "label_values",
    # "users", "workloads")
    discovery_target: str | None = None
    # compare of two periods: also every child of the scope (namespaces of a cluster, users of
    # a namespace) side by side — the week-over-week table of the digest
    breakdown: Literal["namespace", "user", "workload", "label"] | None = None
    # workload history: {kind, status, window, sort, limit} (agent.understand.history)
    history: dict | None = None
    # series granularity asked for ("daily utilization", "每天"): "day" | "hour" | None (auto)
    granularity: Literal["hour", "day"] | None = None
    # "idle GPUs": idle allocated workloads by idle GPU-hours plus the free count (answers.md §5)
    idle_gpus: bool = False
    # money asked for ("cost", "钱"): answered in GPU-hours with a note on the price
    money: bool = False
    issues: list[Issue] = field(default_factory=list)
    # which parts came from the rules vs the LLM, for the record
    source: Literal["rules", "llm"] = "rules"

    @property
    def subject_kind(self) -> EntityKind:
        """The most specific entity named: what the figures are about."""
        if self.workload:
            return "workload"
        if self.user:
            return "user"
        if self.label_key and self.label_value:
            return "label"
        if self.namespace:
            return "namespace"
        return "cluster"

    def entities_json(self) -> dict:
        """The ``entities`` object of ``ask --json`` (product.md §6)."""
        return {
            "cluster": self.cluster,
            "namespace": self.namespace,
            "user": self.user,
            "workload": self.workload,
            "label": f"{self.label_key}={self.label_value}" if self.label_key and self.label_value else None,
            "metric": self.metric,
            "period": self.period.as_dict() if self.period else None,
            "baseline": self.baseline.as_dict() if self.baseline else None,
            **({"compare_with": {"kind": self.other_kind, "name": self.other}} if self.other else {}),
            **({"ranking": {"entity": self.ranking_entity, "by": self.ranking_by}}
               if self.intent == "ranking" else {}),
            **({"history": dict(self.history)} if self.intent == "history" and self.history else {}),
            **({"granularity": self.granularity} if self.granularity else {}),
        }
