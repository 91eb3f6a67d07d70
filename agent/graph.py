"""The agent as a LangGraph ``StateGraph`` (product.md §5).

    understand ─┬─> clarify ──> END
                └─> plan ──> execute ⇄ tools
                               └──> synthesize ──> respond ──> END

* understand: rules first; the LLM only when the rules are unsure and a key is configured.
  Names are resolved against the source's real metadata; a session's previous turn fills in
  what a follow-up leaves out ("and last week?").
* plan: the tool calls that answer the intent, as steps of independent calls.
* execute ⇄ tools: each step goes to the ``ToolNode``, which runs its calls concurrently; a
  step may add another (a cluster drill-down continues into the namespace that moved most).
* synthesize: template answer from the figures; an LLM rephrasing is kept only if every number
  in it is grounded in the figures.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from agent import phrasing
from agent.catalog import OPTIONS_DAYS, clusters_with_namespace, load_metadata
from agent.errors import LLMError, PeriodError, SourceError
from agent.names import resolve_name
from agent.periods import Period, baseline as baseline_of, last_days, this_week
from agent.sources.base import Source
from agent.state import (
    AgentState,
    period_to_dict,
    understanding_from_dict,
    understanding_to_dict,
)
from agent.tools import PeriodArgs, ScopeArgs, make_tools, rows_of
from agent.understand import llm as llm_mod
from agent.understand.model import Issue, Metadata, Understanding
from agent.understand.rules import detect_language, understand as rule_understand

log = logging.getLogger("gpureport.agent")

FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|same for|instead|then|also|那|那么|还有|换成|再看)"
                       r"|(instead of|呢[？?]?\s*$|\?\s*$)", re.I)


class Agent:
    """One agent bound to a data source, a fixed "now" and (optionally) an LLM."""

    def __init__(self, source: Source, now: datetime, llm_settings=None, checkpointer=None,
                 default_cluster: str | None = None):
        self.source = source
        self.now = now
        self.llm = llm_settings if (llm_settings is not None and llm_settings.enabled) else None
        self.default_cluster = default_cluster
        self._meta: Metadata | None = None
        self.tools = make_tools(source, now)
        self.graph = self._build(checkpointer)

    # -- graph ------------------------------------------------------------------------------
    def _build(self, checkpointer):
        from langgraph.graph import END, START, StateGraph
        from langgraph.prebuilt import ToolNode

        g = StateGraph(AgentState)
        g.add_node("understand", self.understand)
        g.add_node("clarify", self.clarify)
        g.add_node("plan", self.plan)
        g.add_node("execute", self.execute)
        g.add_node("tools", ToolNode(self.tools, handle_tool_errors=False))
        g.add_node("synthesize", self.synthesize)
        g.add_node("respond", self.respond)
        g.add_edge(START, "understand")
        g.add_conditional_edges("understand", lambda s: "clarify" if s.get("needs_clarification") else "plan",
                                ["clarify", "plan"])
        g.add_edge("clarify", END)
        g.add_edge("plan", "execute")
        g.add_conditional_edges("execute", self._after_execute, ["tools", "synthesize"])
        g.add_edge("tools", "execute")
        g.add_edge("synthesize", "respond")
        g.add_edge("respond", END)
        return g.compile(checkpointer=checkpointer)

    def answer(self, understanding: Understanding) -> dict:
        """Answer a preset question whose understanding is already known (reports, alerts):
        the same plan → tools → figures → phrasing path as a typed question, no parsing."""
        return self.ask(understanding.question, preset=understanding, language=understanding.language,
                        use_llm=False)

    def ask(self, question: str, *, session: str | None = None, language: str | None = None,
            cluster: str | None = None, overrides: dict | None = None, use_llm: bool = True,
            preset: Understanding | None = None) -> dict:
        turn: AgentState = {
            "preset": understanding_to_dict(preset) if preset is not None else None,
            "question": question, "now": self.now.isoformat(), "language": language,
            "cluster": cluster, "overrides": overrides or {}, "use_llm": use_llm,
            "plan": [], "step": 0, "results": {}, "data_collected": [], "figures": {},
            "answer": "", "insights": [], "needs_clarification": False, "options": [],
            "clarify_question": None, "llm_calls": 0, "intent": "help", "warnings": [],
        }
        config = {"configurable": {"thread_id": session or f"oneshot-{uuid.uuid4().hex}"},
                  "recursion_limit": 40}
        final = self.graph.invoke(turn, config)
        return self.output(final, session)

    # -- metadata ---------------------------------------------------------------------------
    def metadata(self, record: list) -> Metadata:
        if self._meta is None:
            self._meta = load_metadata(self.source, self.now, record)
        return self._meta

    # -- nodes --------------------------------------------------------------------------------
    def understand(self, state: AgentState) -> dict:
        question = (state.get("question") or "").strip()
        if state.get("preset"):
            u = understanding_from_dict(state["preset"])
            self._defaults(u)
            return {"understanding": understanding_to_dict(u), "intent": u.intent,
                    "needs_clarification": bool(u.issues), "llm_calls": 0}
        record: list = []
        meta = self.metadata(record)
        warnings: list[str] = []
        llm_calls = 0
        u = rule_understand(question, self.now, meta, default_cluster=state.get("cluster") or self.default_cluster)
        if state.get("last") and self._is_follow_up(question, u):
            u = self._merge_follow_up(u, understanding_from_dict(state["last"]), meta)
        if self.llm is not None and state.get("use_llm", True) and question and u.confidence < 0.6:
            llm_calls += 1
            try:
                extracted = llm_mod.extract(self.llm, question, meta, self.now)
                u = self._validated(extracted, u, meta)
            except LLMError as exc:
                warnings.append(f"LLM unavailable, answered with the rules: {exc}")
        if state.get("cluster"):
            u.cluster = state["cluster"]
            u.issues = [i for i in u.issues if i.entity != "cluster"]
        self._apply_overrides(u, state.get("overrides") or {}, meta)
        if u.cluster is None and u.namespace and len(meta.clusters) > 1:
            homes = self._clusters_with_namespace(u.namespace)
            if len(homes) == 1:
                u.cluster = homes[0]
        if u.cluster is not None and meta.clusters and u.cluster not in meta.clusters:
            match, sugg = resolve_name(u.cluster, meta.clusters)
            if match:
                u.cluster = match
            else:
                u.issues.append(Issue("unknown", "cluster", u.cluster, sugg))
        if state.get("language") in ("en", "zh"):
            u.language = state["language"]
        elif not question:
            u.language = "en"
        else:
            u.language = detect_language(question)
        self._defaults(u)
        return {
            "understanding": understanding_to_dict(u),
            "intent": u.intent,
            "needs_clarification": bool(u.issues),
            "data_collected": (state.get("data_collected") or []) + record,
            "llm_calls": llm_calls,
            "warnings": (state.get("warnings") or []) + warnings,
        }

    def _clusters_with_namespace(self, namespace: str) -> list[str]:
        return clusters_with_namespace(self.source, self.now, namespace)

    def _defaults(self, u: Understanding) -> None:
        """Default periods of product.md §4 for what the question left open."""
        try:
            if u.intent == "drilldown" and u.period is None:
                u.period = this_week(self.now)
            if u.period is None and u.intent in ("trend", "compare", "ranking"):
                u.period = last_days(self.now, 7)
            if u.intent == "drilldown" and u.baseline is None and u.period is not None:
                u.baseline = baseline_of(u.period)
            if (u.intent == "compare" and u.other is None and u.baseline is None
                    and u.period is not None):
                u.baseline = baseline_of(u.period)
        except PeriodError as exc:
            u.issues.append(Issue("ambiguous", "period", str(exc)))

    @staticmethod
    def _is_follow_up(question: str, u: Understanding) -> bool:
        """A short question that says "and/what about…", or names nothing, or is unsure."""
        names = [u.namespace, u.user, u.workload, u.label_key, u.cluster]
        return len(question) <= 60 and (bool(FOLLOW_UP.search(question)) or not any(names)
                                        or u.confidence < 0.6)

    @staticmethod
    def _merge_follow_up(u: Understanding, prev: Understanding, meta: Metadata) -> Understanding:
        """Fill what a follow-up leaves out from the previous turn (same entities, periods)."""
        merged = replace(prev, question=u.question, issues=list(u.issues), source=u.source,
                         confidence=max(u.confidence, prev.confidence), language=u.language)
        if u.intent != prev.intent and u.confidence >= 0.6 and u.intent not in ("help",):
            merged.intent = u.intent
        new_names = [(k, getattr(u, k)) for k in ("namespace", "user", "workload", "cluster")
                     if getattr(u, k)]
        instead = re.search(r"instead of\s+['\"]?([\w.\-/]+)|而不是\s*([\w.\-/]+)|替换\s*([\w.\-/]+)", u.question, re.I)
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

    def _validated(self, extracted: Understanding, rules: Understanding, meta: Metadata) -> Understanding:
        """LLM output is a proposal: names must exist in the metadata like any other mention."""
        extracted.question = rules.question
        extracted.issues = [i for i in rules.issues if i.kind == "ambiguous"]
        for kind, options in (("namespace", meta.namespaces), ("user", meta.users),
                              ("workload", meta.workloads), ("cluster", meta.clusters)):
            value = getattr(extracted, kind)
            if value:
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

    @staticmethod
    def _apply_overrides(u: Understanding, overrides: dict, meta: Metadata) -> None:
        for kind, value in overrides.items():
            if kind == "period":
                continue
            if kind == "label" and "=" in str(value):
                u.label_key, u.label_value = str(value).split("=", 1)
            elif kind in ("cluster", "namespace", "user", "workload"):
                setattr(u, kind, value)
            u.issues = [i for i in u.issues if i.entity != kind]

    def clarify(self, state: AgentState) -> dict:
        u = understanding_from_dict(state["understanding"])
        issue = u.issues[0]
        zh = u.language == "zh"
        record: list = []
        if issue.kind == "unknown" and issue.suggestions:
            options = issue.suggestions
            q = (f"没有找到{_zh_kind(issue.entity)}“{phrasing.name(issue.text)}”。您是指：{'、'.join(options)}？" if zh else
                 f"I don't know the {issue.entity} '{phrasing.name(issue.text)}'. Did you mean: "
                 f"{', '.join(options)}?")
        else:
            options = self._options(issue.entity, u, record)
            if issue.kind == "unknown":
                q = (f"没有找到{_zh_kind(issue.entity)}“{phrasing.name(issue.text)}”。可选：" if zh else
                     f"I don't know the {issue.entity} '{phrasing.name(issue.text)}'. Choose one of: ")
            elif issue.kind == "ambiguous":
                q = (f"时间范围不明确（{issue.text}）。请选择：" if zh else
                     f"The period is unclear ({issue.text}). Choose one of: ")
            else:
                q = (f"请选择{_zh_kind(issue.entity)}：" if zh else f"Which {issue.entity}? Choose one of: ")
            q += ("、" if zh else ", ").join(options) if options else ("（无可选项）" if zh else "(none available)")
        return {"needs_clarification": True, "options": options, "clarify_question": q,
                "answer": q, "data_collected": (state.get("data_collected") or []) + record,
                "figures": {"issue": {"kind": issue.kind, "entity": issue.entity, "text": issue.text}}}

    def _options(self, entity: str, u: Understanding, record: list) -> list[str]:
        start = self.now - timedelta(days=OPTIONS_DAYS)
        if entity == "cluster":
            opts = self.source.clusters()
            record.append({"tool": "get_available_clusters", "args": {}, "rows": len(opts)})
        elif entity == "namespace":
            opts = self.source.namespaces(u.cluster, start, self.now)
            record.append({"tool": "get_available_namespaces",
                           "args": {"cluster": u.cluster, "days": OPTIONS_DAYS}, "rows": len(opts)})
        elif entity == "user":
            opts = self.source.users(u.cluster, start, self.now, namespace=u.namespace)
        elif entity == "workload":
            opts = [w.name for w in self.source.workloads(u.cluster, start, self.now, namespace=u.namespace)]
        elif entity == "label":
            opts = [f"{t}:{k}" for t in ("label", "annotation")
                    for k in self.source.dimension_keys(u.cluster, t, start, self.now)]
            record.append({"tool": "get_available_dimension_keys", "args": {}, "rows": len(opts)})
        elif entity == "period":
            opts = ["today", "this-week", "last-week", "last-7d", "this-month"]
        else:
            opts = []
        return opts

    def plan(self, state: AgentState) -> dict:
        u = understanding_from_dict(state["understanding"])
        scope = ScopeArgs(kind=u.subject_kind, cluster=u.cluster, namespace=u.namespace, user=u.user,
                          workload=u.workload, label_type=u.label_type, label_key=u.label_key,
                          label_value=u.label_value).model_dump()
        period = PeriodArgs.of(u.period).model_dump() if u.period else None
        base = PeriodArgs.of(u.baseline).model_dump() if u.baseline else None
        calls: list[dict] = []
        if u.intent == "trend":
            if u.workload:
                calls.append({"tool": "analyze_workload_history",
                              "args": {"workload": u.workload, "namespace": u.namespace,
                                       "cluster": u.cluster, "period": period}})
            else:
                calls.append({"tool": "query_gpu_usage_trend",
                              "args": {"scope": scope, "period": period, "metric": u.metric}})
        elif u.intent == "compare":
            if u.other:
                other = dict(scope, kind=u.other_kind, **{u.other_kind: u.other})
                calls.append({"tool": "compare_usage", "args": {
                    "a_scope": scope, "a_period": period, "a_label": _entity_label(scope),
                    "b_scope": other, "b_period": period, "b_label": _entity_label(other)}})
            else:
                calls.append({"tool": "compare_usage", "args": {
                    "a_scope": scope, "a_period": base, "a_label": u.baseline.label,
                    "b_scope": scope, "b_period": period, "b_label": u.period.label}})
                if u.breakdown:
                    calls.append({"tool": "compare_children", "args": {
                        "scope": scope, "child": u.breakdown, "period": period, "baseline": base}})
        elif u.intent == "drilldown":
            calls.append({"tool": "drilldown_change",
                          "args": {"scope": scope, "period": period, "baseline": base}})
        elif u.intent == "realtime":
            calls.append({"tool": "get_latest_snapshot", "args": {"cluster": u.cluster}})
        elif u.intent == "freshness":
            calls.append({"tool": "get_data_freshness", "args": {"cluster": u.cluster}})
        elif u.intent == "ranking":
            calls.append({"tool": "rank_entities", "args": {
                "scope": scope, "entity": u.ranking_entity or "namespace", "by": u.ranking_by or "idle",
                "period": period, "limit": u.limit}})
        elif u.intent == "discovery":
            window = PeriodArgs.of(Period(self.now - timedelta(days=OPTIONS_DAYS), self.now,
                                          f"last {OPTIONS_DAYS} days")).model_dump()
            target = u.discovery_target or "namespaces"
            if target == "clusters":
                calls.append({"tool": "get_available_clusters", "args": {}})
            elif target == "label_keys":
                calls += [{"tool": "get_available_dimension_keys",
                           "args": {"cluster": u.cluster, "dimension_type": t, "period": window}}
                          for t in ("label", "annotation")]
            elif target == "label_values" and u.label_key:
                calls.append({"tool": "get_available_dimension_values",
                              "args": {"cluster": u.cluster, "dimension_type": u.label_type,
                                       "key": u.label_key, "period": window}})
            elif target in ("workloads", "users"):
                calls.append({"tool": "get_workload_metadata",
                              "args": {"cluster": u.cluster, "namespace": u.namespace,
                                       "user": u.user, "period": window}})
            else:
                calls.append({"tool": "get_available_namespaces",
                              "args": {"cluster": u.cluster, "period": window}})
        for c in calls:
            c["id"] = f"call_{uuid.uuid4().hex[:12]}"
        return {"plan": [calls] if calls else [], "step": 0}

    def execute(self, state: AgentState) -> dict:
        from langchain_core.messages import AIMessage, ToolMessage

        results = dict(state.get("results") or {})
        plan = list(state.get("plan") or [])
        step = state.get("step", 0)
        collected: list = []
        pending_ids = {c["id"] for s in plan for c in s} - set(results)
        for msg in reversed(state.get("messages") or []):
            if not isinstance(msg, ToolMessage):
                break
            if msg.tool_call_id in pending_ids:
                call = next(c for s in plan for c in s if c["id"] == msg.tool_call_id)
                results[msg.tool_call_id] = {"tool": call["tool"], "args": call["args"],
                                             "artifact": msg.artifact}
                collected.append({"tool": call["tool"], "args": call["args"],
                                  "rows": rows_of(msg.artifact)})
        if step < len(plan) and all(c["id"] in results for c in plan[step]):
            step += 1
            plan += self._follow_ups(state, results, plan)
        update: dict[str, Any] = {"results": results, "plan": plan, "step": step,
                                  "data_collected": (state.get("data_collected") or []) + collected}
        if step < len(plan):
            update["messages"] = [AIMessage(content="", tool_calls=[
                {"name": c["tool"], "args": c["args"], "id": c["id"], "type": "tool_call"}
                for c in plan[step]])]
        return update

    def _follow_ups(self, state: AgentState, results: dict, plan: list) -> list:
        """A cluster drill-down continues into the namespace that moved the most."""
        u = understanding_from_dict(state["understanding"])
        if u.intent != "drilldown" or u.subject_kind != "cluster" or len(plan) > 1:
            return []
        art = next((r["artifact"] for r in results.values() if r["tool"] == "drilldown_change"), None)
        if not art or not art.get("contributors"):
            return []
        total = art.get("total_delta_pp") or 0.0
        same = [c for c in art["contributors"] if c["kind"] == "namespace" and c["impact_pp"] * total > 0]
        if not same:
            return []
        scope = ScopeArgs(kind="namespace", cluster=u.cluster, namespace=same[0]["name"]).model_dump()
        return [[{"tool": "drilldown_change", "id": f"call_{uuid.uuid4().hex[:12]}",
                  "args": {"scope": scope, "period": PeriodArgs.of(u.period).model_dump(),
                           "baseline": PeriodArgs.of(u.baseline).model_dump()}}]]

    def _after_execute(self, state: AgentState) -> str:
        plan = state.get("plan") or []
        return "tools" if state.get("step", 0) < len(plan) else "synthesize"

    def synthesize(self, state: AgentState) -> dict:
        u = understanding_from_dict(state["understanding"])
        figures = self._figures(u, state)
        entities = u.entities_json()
        if u.cluster is None and len(self._meta.clusters if self._meta else []) > 1:
            entities["all_clusters"] = True  # for the wording only; not part of the JSON output
        answer, insights = phrasing.phrase(u.intent, figures, entities, u.language,
                                           u.period.label if u.period else None,
                                           u.baseline.label if u.baseline else None)
        insights = insights + self._data_notes(u, figures)
        llm_calls = state.get("llm_calls", 0)
        warnings: list[str] = []
        if self.llm is not None and state.get("use_llm", True) and u.source == "llm" and u.intent != "help":
            llm_calls += 1
            try:
                text = llm_mod.rephrase(self.llm, u.question, answer, insights, figures, u.language)
                periods = [p for p in (u.period, u.baseline) if p is not None]
                bad = phrasing.ungrounded_numbers(text, {"figures": figures, "periods": [
                    {**p.as_dict(), "days": p.hours / 24, "hours": p.hours} for p in periods]},
                    u.question, entities)
                if bad:
                    warnings.append(f"LLM answer rejected: numbers not in the figures ({', '.join(bad[:5])})")
                elif text.strip():
                    answer = text.strip()
            except LLMError as exc:
                warnings.append(f"LLM phrasing unavailable, template answer used: {exc}")
        return {"figures": figures, "answer": answer, "insights": insights, "llm_calls": llm_calls,
                "warnings": (state.get("warnings") or []) + warnings}

    def _figures(self, u: Understanding, state: AgentState) -> dict:
        arts = [r for r in (state.get("results") or {}).values()]
        if u.intent == "discovery":
            opts: list = []
            for r in arts:
                a = r["artifact"] or {}
                if "options" in a:
                    prefix = f"{a['dimension_type']}:" if "dimension_type" in a and len(arts) > 1 else ""
                    opts += [f"{prefix}{o}" for o in a["options"]]
                elif "workloads" in a:
                    key = "user" if u.discovery_target == "users" else "name"
                    opts += sorted({w[key] for w in a["workloads"]})
            return {"options": opts, "target": u.discovery_target or "namespaces"}
        if not arts:
            return {}
        main = arts[0]["artifact"]
        if u.intent == "compare" and u.breakdown:
            main = dict(next(r["artifact"] for r in arts if r["tool"] == "compare_usage"))
            main["children"] = next((r["artifact"]["rows"] for r in arts
                                     if r["tool"] == "compare_children"), [])
            main["child"] = u.breakdown
        if u.intent == "drilldown" and len(arts) > 1:
            main = dict(main)
            main["namespace_drilldown"] = arts[1]["artifact"]
            main["namespace_drilldown"]["namespace"] = arts[1]["args"]["scope"]["namespace"]
        return main

    def _data_notes(self, u: Understanding, figures: dict) -> list[str]:
        notes = []
        if u.intent == "drilldown" and figures.get("namespace_drilldown"):
            nd = figures["namespace_drilldown"]
            tops = phrasing.top_contributors(nd)
            if tops:
                lead = ("在 {ns} 内：" if u.language == "zh" else "Inside {ns}: ").format(ns=phrasing.name(nd["namespace"]))
                notes.append(lead + "; ".join(phrasing._contrib_line(c, u.language) for c in tops))
        if u.cluster is None and u.subject_kind != "cluster" and len(self._meta.clusters if self._meta else []) > 1:
            notes.append("所有集群合计。" if u.language == "zh" else "Figures cover all clusters.")
        return notes

    def respond(self, state: AgentState) -> dict:
        return {"last": state["understanding"]}

    # -- output ---------------------------------------------------------------------------------
    def output(self, final: dict, session: str | None) -> dict:
        u = understanding_from_dict(final["understanding"])
        clar = bool(final.get("needs_clarification"))
        return {
            "answer": final.get("answer") or "",
            "insights": final.get("insights") or [],
            "language": u.language,
            "intent": u.intent,
            "entities": u.entities_json(),
            "figures": final.get("figures") or {},
            "needs_clarification": clar,
            "options": final.get("options") or [],
            "question": final.get("clarify_question") if clar else None,
            "data_collected": final.get("data_collected") or [],
            "llm_calls": final.get("llm_calls", 0),
            "session_id": session,
            "warnings": final.get("warnings") or [],
        }


def _zh_kind(entity: str) -> str:
    return {"cluster": "集群", "namespace": "命名空间", "user": "用户", "workload": "任务",
            "label": "标签", "period": "时间范围"}.get(entity, entity)


def _entity_label(scope: dict) -> str:
    kind = scope["kind"]
    if kind == "cluster":
        return scope.get("cluster") or "all clusters"
    if kind == "label":
        return f"{scope['label_key']}={scope['label_value']}"
    return scope.get(kind) or kind


__all__ = ["Agent", "SourceError", "period_to_dict"]
