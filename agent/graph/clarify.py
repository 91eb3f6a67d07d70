"""The ``clarify`` node: ask back with LangGraph's ``interrupt()``, continue with the choice.

One issue per run of the node (the first of ``understanding.issues``). The node interrupts with
``{"question", "options", "entity", "kind", "text"}``; the graph stops there and the thread
waits (in memory for a one-shot question, in the state database for a ``--session``). Resuming
with ``Command(resume=choice)`` runs the node again: ``interrupt()`` then returns the choice,
which may be an option's name, its 1-based number, or free text that resolves to a real name of
that kind. The choice is applied and the node returns the new understanding; if issues remain
(another one, or a choice that matched nothing: asked again with its own suggestions) the graph
comes back here, else it goes on to ``plan`` — an answer in the same thread.

Options are the real names (product.md §5): the close matches of an unknown name, else the
clusters, the namespaces active in the last 7 days, the label and annotation keys, or the
periods one can write.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from agent import phrasing
from agent.catalog import OPTIONS_DAYS
from agent.deps import AgentDeps
from agent.errors import PeriodError
from agent.graph.state import AgentState, deps_of
from agent.graph.understand import catalogue, names_of, settle
from agent.names import resolve_name, suggestions
from agent.period_parse import parse_period
from agent.periods import baseline as baseline_of
from agent.understand.model import Issue, Understanding

PERIOD_OPTIONS = ["today", "this-week", "last-week", "last-7d", "this-month"]


def clarify(state: AgentState, config: RunnableConfig) -> dict:
    deps = deps_of(config)
    u = state["understanding"]
    issue = u.issues[0]
    record: list[dict] = []
    options = options_for(issue, u, deps, record)
    suggested = bool(issue.suggestions) and (issue.kind == "unknown" or issue.entity == "label")
    question = phrasing.clarification(issue.kind, issue.entity, issue.text, options, u.language,
                                      suggested)
    choice = str(interrupt({"question": question, "options": options, "entity": issue.entity,
                            "kind": issue.kind, "text": issue.text}))
    return {
        "understanding": apply_choice(u, issue, choice, options, deps, state.get("clusters") or []),
        "clarifications": [*(state.get("clarifications") or []),
                           {"question": question, "answer": choice}],
        "data_collected": [*(state.get("data_collected") or []), *record],
    }


def options_for(issue: Issue, u: Understanding, deps: AgentDeps, record: list[dict]) -> list[str]:
    """What the person may choose from for ``issue``."""
    if issue.suggestions and (issue.kind == "unknown" or issue.entity in ("label", "cluster")):
        return list(issue.suggestions)  # close matches; the clusters holding a name
    source, now = deps.source, deps.now
    start = now - timedelta(days=OPTIONS_DAYS)
    entity = issue.entity
    if entity == "cluster":
        opts = source.clusters()
        record.append({"tool": "get_available_clusters", "args": {}, "rows": len(opts)})
    elif entity == "namespace":
        opts = source.namespaces(u.cluster, start, now)
        record.append({"tool": "get_available_namespaces",
                       "args": {"cluster": u.cluster, "days": OPTIONS_DAYS}, "rows": len(opts)})
    elif entity == "user":
        opts = source.users(u.cluster, start, now, namespace=u.namespace)
    elif entity == "workload":
        opts = [w.name for w in source.workloads(u.cluster, start, now, namespace=u.namespace)]
    elif entity == "label":
        opts = [f"{t}:{k}" for t in ("label", "annotation")
                for k in source.dimension_keys(u.cluster, t, start, now)]
        record.append({"tool": "get_available_dimension_keys", "args": {}, "rows": len(opts)})
    elif entity == "period":
        opts = [o for o in PERIOD_OPTIONS if _usable(o, now)]
    else:
        opts = []
    return opts


def _usable(period: str, now) -> bool:
    """Whether ``period`` means something at ``now`` ("this week" is empty at Monday 00:00)."""
    try:
        parse_period(period, now)
    except PeriodError:
        return False
    return True


def pick(choice: str, options: list[str]) -> str | None:
    """The option ``choice`` names: its 1-based number, or the option itself (any case)."""
    text = choice.strip()
    if text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1]
    return next((o for o in options if o.casefold() == text.casefold()), None)


def apply_choice(u: Understanding, issue: Issue, choice: str, options: list[str], deps: AgentDeps,
                 clusters: list[str]) -> Understanding:
    """A new understanding with ``choice`` settled for ``issue`` (or the issue restated for the
    choice, with its own suggestions, when it names nothing real)."""
    out = replace(u, issues=u.issues[1:])  # ``issue`` is the first
    value = pick(choice, options)
    if issue.entity == "period":
        return _apply_period(out, value or choice.strip(), deps)
    if issue.entity == "label":
        return _apply_label(out, value or choice.strip(), deps)
    if value is None:
        record: list[dict] = []
        meta = catalogue(deps, record)
        real = names_of(meta, issue.entity, choice.strip())
        value, sugg = resolve_name(choice.strip(), real)
        if value is None:
            out.issues.insert(0, Issue("unknown", issue.entity, choice.strip(), sugg))
            return out
    current = getattr(out, issue.entity, None)
    if out.intent == "compare" and out.other is None and current and current != value:
        out.other, out.other_kind = value, issue.entity  # the second of two names compared
    else:
        setattr(out, issue.entity, value)
    settle(out, deps, clusters)
    return out


def _apply_period(u: Understanding, text: str, deps: AgentDeps) -> Understanding:
    """The chosen period settles every question about the period."""
    u.issues = [i for i in u.issues if i.entity != "period"]
    try:
        period = parse_period(text, deps.now)
    except PeriodError as exc:
        u.issues.insert(0, Issue("ambiguous", "period", str(exc)))
        return u
    u.period, u.period_explicit = period, True
    if u.intent in ("drilldown", "compare") and u.other is None:
        try:
            u.baseline = baseline_of(period)
        except PeriodError as exc:
            u.issues.insert(0, Issue("ambiguous", "period", str(exc)))
    return u


def _apply_label(u: Understanding, text: str, deps: AgentDeps) -> Understanding:
    """``key=value`` (optionally ``label:``/``annotation:`` first) sets the label; a bare key
    asks next for one of its values."""
    ltype, _, rest = text.partition(":") if text.split(":", 1)[0] in ("label", "annotation") \
        else ("", "", text)
    key, _, value = rest.partition("=")
    key, value = key.strip(), value.strip()
    meta = catalogue(deps, [])
    types = [t for t, keys in meta.label_keys.items() if key in keys]
    if not key or not types:
        keys = [f"{t}:{k}" for t, ks in meta.label_keys.items() for k in ks]
        u.issues.insert(0, Issue("unknown", "label", text, suggestions(text, keys)))
        return u
    u.label_type, u.label_key = ltype or types[0], key
    values = meta.values_of(u.label_type, key)
    if not value:
        u.issues.insert(0, Issue("missing", "label", f"{key}=", [f"{key}={v}" for v in values]))
        return u
    match, sugg = resolve_name(value, values) if values else (value, [])
    if match is None:
        u.issues.insert(0, Issue("unknown", "label", f"{key}={value}", [f"{key}={v}" for v in sugg]))
        return u
    u.label_value = match
    return u
