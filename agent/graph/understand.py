"""The ``understand`` node: what the question asks, resolved against the source's real names.

Rules first (``agent.understand.rules``); the LLM only when the rules are unsure, a key is
configured and the caller allows it — and its proposal is validated like any mention (a name
must exist). A session's previous turn fills in what a follow-up leaves out ("and last week?",
"what about cv-team instead of ml-team?"). A preset question (reports, alerts) skips all of
that: its understanding is given.

``settle`` finishes an understanding wherever one changes (here, and in ``clarify`` after a
choice): a namespace that lives in one cluster gets that cluster, an unknown cluster becomes an
issue, and the default periods of product.md §4 fill what the question left open.

The catalogue of real names is read through ``catalogue`` and ``home_clusters`` only, so how
names are fetched and cached (``agent.catalog``) can change in one place.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from langchain_core.runnables import RunnableConfig

from agent import catalog, workers
from agent.catalog import OPTIONS_DAYS
from agent.deps import AgentDeps
from agent import phrasing
from agent.errors import LLMError, PeriodError, UnknownName
from agent.graph.state import AgentState, deps_of
from agent.names import resolve_name
from agent.periods import baseline as baseline_of, last_days, this_week
from agent.understand import llm as llm_mod
from agent.understand.model import Issue, Names, Understanding
from agent.understand.rules import detect_language, understand as rule_understand

FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|same for|instead|then|also|那|那么|还有|换成|再看)"
                       r"|(instead of|呢[？?]?\s*$|\?\s*$)", re.I)
INSTEAD = re.compile(r"instead of\s+['\"]?([\w.\-/]+)|而不是\s*([\w.\-/]+)|替换\s*([\w.\-/]+)", re.I)


def understand(state: AgentState, config: RunnableConfig) -> dict:
    deps = deps_of(config)
    preset = state.get("preset")
    if preset is not None:
        u = replace(preset, issues=list(preset.issues))
        defaults(u, deps)
        return {"understanding": u, "clusters": []}
    question = (state.get("question") or "").strip()
    record: list[dict] = []
    with workers.parallel_calls(deps.source):
        meta = catalogue(deps, record)
    warnings: list[str] = []
    llm_calls = 0
    forced = state.get("cluster")
    u = rule_understand(question, deps.now, meta, default_cluster=forced or deps.default_cluster)
    last = state.get("last")
    follow_up = last is not None and is_follow_up(question, u)
    if follow_up:
        u = merge_follow_up(u, last)
    settings = llm_settings(state, deps)
    if settings is not None and question and u.confidence < 0.6:
        llm_calls += 1
        try:
            u = validated(llm_mod.extract(settings, question, meta, deps.now), u, meta)
        except LLMError as exc:
            warnings.append(f"LLM unavailable, answered with the rules: {exc}")
    if forced:
        u.cluster = forced
        u.issues = [i for i in u.issues if i.entity != "cluster"]
    if state.get("language") in ("en", "zh"):
        u.language = state["language"]
    else:
        u.language = detect_language(question) if question else "en"
    settle(u, deps, meta.clusters, ask_cluster=not follow_up)  # a session fixes the scope
    refuse(u, meta)
    return {
        "understanding": u,
        "clusters": list(meta.clusters),
        "data_collected": [*(state.get("data_collected") or []), *record],
        "llm_calls": (state.get("llm_calls") or 0) + llm_calls,
        "warnings": [*(state.get("warnings") or []), *warnings],
    }


# -- the names a question is resolved against -------------------------------------------------------
def catalogue(deps: AgentDeps, record: list[dict]) -> Names:
    """The real names of the source, fetched as the question needs them and kept in
    ``deps.catalog`` (appends what it fetched to ``record``)."""
    return catalog.load_metadata(deps.source, deps.now, record, cache=deps.catalog)


def home_clusters(deps: AgentDeps, namespace: str) -> list[str]:
    """The clusters where ``namespace`` was active lately."""
    return catalog.clusters_with_namespace(deps.source, deps.now, namespace, cache=deps.catalog)


def llm_settings(state: AgentState, deps: AgentDeps):
    """The LLM settings when this turn may call a model, else None (rules only, no network)."""
    if not state.get("use_llm", True) or deps.llm is None or not deps.llm.enabled:
        return None
    return deps.llm


# -- finishing an understanding -----------------------------------------------------------------------
def settle(u: Understanding, deps: AgentDeps, clusters: list[str], *, ask_cluster: bool = True) -> None:
    """Cluster of a one-cluster namespace, unknown cluster → issue, which cluster when none is
    named and nothing else is asked first, default periods (in place). An unknown cluster
    leaves ``u.cluster`` empty: entities hold what is known (answers.md §1), the word is the
    issue's, and a namespace's home cluster does not stand in for the one being asked about."""
    if u.cluster is not None and clusters and u.cluster not in clusters:
        match, sugg = resolve_name(u.cluster, clusters)
        if match:
            u.cluster = match
        else:
            if not any(i.entity == "cluster" for i in u.issues):
                u.issues.append(Issue("unknown", "cluster", u.cluster, sugg))
            u.cluster = None
    asking_cluster = any(i.entity == "cluster" for i in u.issues)
    if u.cluster is None and u.namespace and len(clusters) > 1 and not asking_cluster:
        homes = home_clusters(deps, u.namespace)
        if len(homes) == 1:
            u.cluster = homes[0]
    if ask_cluster and not u.issues and not deps.default_cluster:
        which_cluster(u, u.question, deps, clusters)
    defaults(u, deps)


def defaults(u: Understanding, deps: AgentDeps) -> None:
    """Default periods of product.md §4 for what the question left open (in place)."""
    try:
        if u.intent == "drilldown" and u.period is None:
            u.period = this_week(deps.now)
        if u.period is None and (u.intent in ("trend", "compare", "ranking", "anomalies", "cost")
                                 or (u.intent == "history"
                                     and (u.history or {}).get("window") != "now")):
            u.period = last_days(deps.now, 7)
        if u.intent == "drilldown" and u.baseline is None and u.period is not None:
            u.baseline = baseline_of(u.period)
        if (u.intent == "compare" and u.other is None and u.baseline is None
                and u.period is not None):
            u.baseline = baseline_of(u.period)
    except PeriodError as exc:
        if not any(i.entity == "period" for i in u.issues):  # asked once, whatever the cause
            u.issues.append(Issue("ambiguous", "period", str(exc)))


ALL_CLUSTERS = re.compile(
    r"\b(?:all|every|each|whole|entire|both)\s+(?:(?:the|of the|our|my)\s+)?clusters?\b|\bin total\b|"
    r"\btotal\b|\boverall\b|\bacross\b|\bfleet\b|\bcombined\b|\beverywhere\b|\bcluster[- ]wide\b|"
    r"\b(?:per|each|by)\s+cluster\b|\bclusters\b|"
    r"所有|全部|整个|总共|一共|合计|总计|全集群|各个?集群|每个集群|两个集群|分别|整体", re.I)
NEEDS_SCOPE = ("trend", "compare", "drilldown", "ranking", "realtime", "history")


def which_cluster(u: Understanding, question: str, deps: AgentDeps, clusters: list[str]) -> None:
    """No cluster named while several exist: ask which (answers.md §1), unless the question
    says all/every/total. A user or workload found in one cluster fixes it; a name found in
    several makes the options the clusters holding it."""
    if (u.cluster is not None or len(clusters) < 2 or u.intent not in NEEDS_SCOPE
            or ALL_CLUSTERS.search(question) or any(i.entity == "cluster" for i in u.issues)):
        return
    homes = list(clusters)
    if u.namespace:
        homes = home_clusters(deps, u.namespace) or homes
    elif u.user or u.workload:
        since = deps.now - timedelta(days=OPTIONS_DAYS)
        found = {w.cluster for w in deps.source.workloads(None, since, deps.now, namespace=u.namespace,
                                                          user=u.user, workload=u.workload) if w.cluster}
        homes = sorted(found) or homes
    if len(homes) == 1:
        u.cluster = homes[0]
        return
    u.issues.append(Issue("missing", "cluster", "", homes))


def refuse(u: Understanding, meta: Names) -> None:
    """What cannot be asked back (answers.md §1, §5), in this order: a question out of scope is
    help whatever else it says; a period recognised but unusable is a usage error (exit 2); a name
    with no close real name is an error naming the word and a few real names (exit 1). A close
    miss stays an issue: ``clarify`` asks "did you mean"."""
    if u.intent == "help":
        u.issues = []
        return
    bad = next((i for i in u.issues if i.kind == "invalid"), None)
    if bad is not None:
        raise PeriodError(phrasing.unsupported_period(bad.text, u.language))
    lost = next((i for i in u.issues if i.kind == "unknown" and not i.suggestions), None)
    if lost is not None:
        examples = {"cluster": lambda: meta.clusters, "namespace": lambda: meta.namespaces,
                    "user": lambda: meta.users,
                    "any": lambda: [*meta.clusters, *meta.namespaces[:max(3, 8 - len(meta.clusters))]],
                    "label": lambda: _label_examples(meta, lost.text)}.get(lost.entity, list)()
        examples = list(examples)
        raise UnknownName(phrasing.unknown_name(lost.entity, lost.text, examples, u.language),
                          kind=lost.entity, name=lost.text, suggestions=examples[:8])


def _label_examples(meta: Names, text: str) -> list[str]:
    key = text.partition("=")[0]
    for ltype, keys in meta.label_keys.items():
        if key in keys:
            return [f"{key}={v}" for v in meta.values_of(ltype, key)]
    return [f"{k}=…" for ks in meta.label_keys.values() for k in ks]


# -- follow-ups in a session ---------------------------------------------------------------------------
def is_follow_up(question: str, u: Understanding) -> bool:
    """A short question that says "and/what about…", or names nothing, or is unsure."""
    names = [u.namespace, u.user, u.workload, u.label_key, u.cluster]
    return len(question) <= 60 and (bool(FOLLOW_UP.search(question)) or not any(names)
                                    or u.confidence < 0.6)


def merge_follow_up(u: Understanding, prev: Understanding) -> Understanding:
    """Fill what a follow-up leaves out from the previous turn (same entities, periods)."""
    merged = replace(prev, question=u.question, issues=list(u.issues), source=u.source,
                     confidence=max(u.confidence, prev.confidence), language=u.language)
    if u.intent != prev.intent and u.confidence >= 0.6 and u.intent not in ("help",):
        merged.intent = u.intent
    new_names = [(k, getattr(u, k)) for k in ("namespace", "user", "workload", "cluster")
                 if getattr(u, k)]
    instead = INSTEAD.search(u.question)
    replaced = instead and next(g for g in instead.groups() if g)
    for kind, value in new_names:
        if replaced and value == replaced:
            continue
        if kind == "namespace" and prev.other_kind == "namespace" and prev.other and replaced == prev.other:
            merged.other = value
        elif kind == "namespace" and prev.other_kind == "namespace" and prev.other and replaced == prev.namespace:
            merged.namespace = value
        elif kind == "user" and prev.namespace and not u.namespace:
            merged.user = value  # "show me user_a's workloads" after a namespace question
        else:
            setattr(merged, kind, value)
            if kind == "namespace":
                merged.user = merged.workload = None if not u.user else merged.user
    if u.other and not replaced:
        merged.other, merged.other_kind = u.other, u.other_kind
    if u.label_key:
        merged.label_key, merged.label_value, merged.label_type = u.label_key, u.label_value, u.label_type
    if u.period_explicit and u.period is not None:
        merged.period, merged.period_explicit = u.period, True
        merged.baseline = u.baseline if u.baseline is not None and prev.intent != "trend" else None
        if merged.intent in ("drilldown", "compare") and merged.other is None:
            merged.baseline = u.baseline or baseline_of(u.period)
    if u.metric != "utilization":
        merged.metric = u.metric
    if u.intent == "ranking":
        merged.intent, merged.ranking_entity, merged.ranking_by = "ranking", u.ranking_entity, u.ranking_by
    if u.user and re.search(r"workload|job|任务|作业", u.question, re.I) and prev.intent == "drilldown":
        merged.intent = "drilldown"  # "show me user_a's workloads": same periods, one level down
    # drop issues the previous turn already settled
    merged.issues = [i for i in merged.issues if not (i.kind == "missing" and getattr(merged, i.entity, None))]
    return merged


def names_of(meta: Names, kind: str, text: str) -> list[str]:
    """The real names of ``kind`` that ``text`` is resolved against (for a workload: those the
    catalogue finds near ``text``; fetched only for the kind asked)."""
    if kind == "workload":
        return meta.workloads_near([text])
    if kind == "namespace":
        return meta.namespaces
    if kind == "user":
        return meta.users
    return meta.clusters


# -- the LLM's proposal ------------------------------------------------------------------------------------
def validated(extracted: Understanding, rules: Understanding, meta: Names) -> Understanding:
    """LLM output is a proposal: names must exist in the metadata like any other mention
    (workload names are looked up for the name proposed: they are not listed)."""
    extracted.question = rules.question
    extracted.issues = [i for i in rules.issues if i.kind in ("ambiguous", "invalid")]
    for kind in ("namespace", "user", "workload", "cluster"):
        value = getattr(extracted, kind)
        if value:
            options = names_of(meta, kind, value)
            match, sugg = resolve_name(value, options)
            if match:
                setattr(extracted, kind, match)
            else:
                setattr(extracted, kind, None)
                extracted.issues.append(Issue("unknown", kind, value, sugg))
    if extracted.other and extracted.other_kind == "namespace":
        match, sugg = resolve_name(extracted.other, meta.namespaces)
        if match:
            extracted.other = match
        else:
            extracted.issues.append(Issue("unknown", "namespace", extracted.other, sugg))
    extracted.source = "llm"
    return extracted
