"""The ``plan`` node: the tool calls that answer the intent, as steps of independent calls.

A plan is a list of steps; the calls of one step do not depend on each other, so ``execute``
runs them concurrently. ``follow_up`` is how a finished step can add the next one: a cluster
drill-down continues into the namespace that moved the most in the same direction.
"""

from __future__ import annotations

from datetime import timedelta

from langchain_core.runnables import RunnableConfig

from agent.catalog import OPTIONS_DAYS
from agent.coverage import ROLLING_A, ROLLING_B, early, rolling
from agent.graph.state import AgentState, ToolCall, ToolResult, deps_of
from agent.periods import Period
from agent.tools import PeriodArgs, ScopeArgs
from agent.understand.model import Understanding


# the tools whose figures carry money when prices are configured (agent.prices)
PRICED_TOOLS = frozenset({"query_gpu_usage_trend", "compare_usage", "rank_entities",
                          "cost_of_gpus", "recommend_savings"})


def plan(state: AgentState, config: RunnableConfig) -> dict:
    deps = deps_of(config)
    u = state["understanding"]
    calls = calls_for(u, deps.now)
    if calls and u.intent in ("trend", "compare", "drilldown", "ranking") and early(u.period):
        calls.append(rolling_call(u))
    calls = with_prices(calls, deps.prices)
    return {"plan": [calls] if calls else [], "step": 0, "results": []}


def with_prices(calls: list[ToolCall], prices) -> list[ToolCall]:
    """The calls, with the configured prices in the arguments of the tools that use them (no
    prices configured: unchanged, and no figure carries a currency)."""
    if prices is None or not prices.configured:
        return calls
    dumped = prices.model_dump()
    return [{**c, "args": {**c["args"], "prices": dumped}} if c["tool"] in PRICED_TOOLS else c
            for c in calls]


def scope_args(u: Understanding) -> dict:
    return ScopeArgs(kind=u.subject_kind, cluster=u.cluster, namespace=u.namespace, user=u.user,
                     workload=u.workload, label_type=u.label_type, label_key=u.label_key,
                     label_value=u.label_value).model_dump()


def calls_for(u: Understanding, now) -> list[ToolCall]:
    """The first step of the plan for ``u``."""
    scope = scope_args(u)
    period = PeriodArgs.of(u.period).model_dump() if u.period else None
    base = PeriodArgs.of(u.baseline).model_dump() if u.baseline else None
    if u.intent == "trend":
        if u.workload:
            return [{"tool": "analyze_workload_history",
                     "args": {"workload": u.workload, "namespace": u.namespace,
                              "cluster": u.cluster, "period": period}}]
        return [{"tool": "query_gpu_usage_trend",
                 "args": {"scope": scope, "period": period, "metric": u.metric,
                          "granularity": u.granularity}}]
    if u.intent == "history":
        h = u.history or {}
        return [{"tool": "list_workload_history", "args": {
            "cluster": u.cluster, "namespace": u.namespace, "user": u.user, "kind": h.get("kind"),
            "status": h.get("status"), "window": h.get("window", "ran"), "sort": h.get("sort"),
            "limit": h.get("limit", 20), "period": period}}]
    if u.intent == "compare":
        if u.other:
            if u.other_kind == "cluster" and scope["kind"] != "cluster":
                # "cv-team on gpu-east with cv-team on gpu-west": the same entity elsewhere
                other = dict(scope, cluster=u.other)
            else:
                other = dict(scope, kind=u.other_kind, **{u.other_kind: u.other})
            la, lb = entity_label(scope), entity_label(other)
            if la == lb:  # answers.md §4: the same name in two clusters is two things
                la, lb = f"{scope.get('cluster')}/{la}", f"{other.get('cluster')}/{lb}"
            return [{"tool": "compare_usage", "args": {
                "a_scope": scope, "a_period": period, "a_label": la,
                "b_scope": other, "b_period": period, "b_label": lb}}]
        calls: list[ToolCall] = [{"tool": "compare_usage", "args": {
            "a_scope": scope, "a_period": base, "a_label": u.baseline.label,
            "b_scope": scope, "b_period": period, "b_label": u.period.label}}]
        if u.breakdown:
            calls.append({"tool": "compare_children", "args": {
                "scope": scope, "child": u.breakdown, "period": period, "baseline": base}})
        return calls
    if u.intent == "drilldown":
        return [{"tool": "drilldown_change", "args": {"scope": scope, "period": period,
                                                      "baseline": base}}]
    if u.intent == "realtime":
        return [{"tool": "get_latest_snapshot", "args": {"cluster": u.cluster}}]
    if u.intent == "freshness":
        return [{"tool": "get_data_freshness", "args": {"cluster": u.cluster}}]
    if u.intent == "ranking":
        return [{"tool": "find_idle_gpus" if u.idle_gpus else "rank_entities", "args": {
            "scope": scope, "entity": u.ranking_entity or "namespace", "by": u.ranking_by or "idle",
            "period": period, "limit": u.limit}}]
    if u.intent == "discovery":
        return _discovery(u, now)
    if u.intent == "anomalies":
        return [{"tool": "find_anomalies", "args": {"scope": scope, "period": period}}]
    if u.intent == "cost":
        return [{"tool": "cost_of_gpus", "args": {"scope": scope, "period": period,
                                                  "focus": u.cost_focus or "total"}}]
    if u.intent == "recommend":
        return [{"tool": "recommend_savings", "args": {"scope": scope}}]
    return []


def rolling_call(u: Understanding) -> ToolCall:
    """answers.md §3: the same question over the last 7 days vs the 7 days before, for a
    current calendar period that has barely started (``agent.coverage.early``)."""
    a, b = rolling(u.period)
    scope = scope_args(u)
    if u.intent == "ranking":  # "top …": the same ranking over the last 7 days
        [call] = calls_for(u, u.period.end)
        return {"tool": call["tool"], "args": {**call["args"],
                                               "period": PeriodArgs.of(b).model_dump()}}
    if u.intent == "drilldown":  # "why …": the attribution over the 7 days, too
        return {"tool": "drilldown_change", "args": {
            "scope": scope, "period": PeriodArgs.of(b).model_dump(),
            "baseline": PeriodArgs.of(a).model_dump()}}
    return {"tool": "compare_usage", "args": {
        "a_scope": scope, "a_period": PeriodArgs.of(a).model_dump(), "a_label": ROLLING_A,
        "b_scope": scope, "b_period": PeriodArgs.of(b).model_dump(), "b_label": ROLLING_B}}


def _discovery(u: Understanding, now) -> list[ToolCall]:
    window = PeriodArgs.of(Period(now - timedelta(days=OPTIONS_DAYS), now,
                                  f"last {OPTIONS_DAYS} days")).model_dump()
    target = u.discovery_target or "namespaces"
    if target == "clusters":
        return [{"tool": "get_available_clusters", "args": {}}]
    if target == "label_keys":
        return [{"tool": "get_available_dimension_keys",
                 "args": {"cluster": u.cluster, "dimension_type": t, "period": window}}
                for t in ("label", "annotation")]
    if target == "label_values" and u.label_key:
        return [{"tool": "get_available_dimension_values",
                 "args": {"cluster": u.cluster, "dimension_type": u.label_type,
                          "key": u.label_key, "period": window}}]
    if target in ("workloads", "users"):
        return [{"tool": "get_workload_metadata",
                 "args": {"cluster": u.cluster, "namespace": u.namespace, "user": u.user,
                          "period": window}}]
    return [{"tool": "get_available_namespaces", "args": {"cluster": u.cluster, "period": window}}]


def follow_up(u: Understanding, plan: list[list[ToolCall]],
              results: list[ToolResult]) -> list[list[ToolCall]]:
    """Steps to add once the plan so far has run: a cluster drill-down continues into the
    namespace that moved the most in the direction of the total."""
    if u.intent != "drilldown" or u.subject_kind != "cluster" or len(plan) > 1:
        return []
    art = next((r["artifact"] for r in results if r["tool"] == "drilldown_change"), None)
    if not art or not art.get("contributors"):
        return []
    total = art.get("total_delta_pp") or 0.0
    same = [c for c in art["contributors"] if c["kind"] == "namespace" and c["impact_pp"] * total > 0]
    if not same:
        return []
    scope = ScopeArgs(kind="namespace", cluster=u.cluster, namespace=same[0]["name"]).model_dump()
    return [[{"tool": "drilldown_change",
              "args": {"scope": scope, "period": PeriodArgs.of(u.period).model_dump(),
                       "baseline": PeriodArgs.of(u.baseline).model_dump()}}]]


def entity_label(scope: dict) -> str:
    kind = scope["kind"]
    if kind == "cluster":
        return scope.get("cluster") or "all clusters"
    if kind == "label":
        return f"{scope['label_key']}={scope['label_value']}"
    return scope.get(kind) or kind
