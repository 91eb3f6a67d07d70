"""The ``synthesize`` node: the figures of the answer from the tool results, and its parts.

* ``figures`` — the artifact of the main call, joined with what other calls of the plan add
  (the children table of a compare with a breakdown, the namespace a cluster drill-down
  continued into); discovery lists the options found.
* the parts — ``headline`` and detail lines from the template phrasing, ``notes`` (context no
  table shows), ``tables`` built from the figures (``agent.phrasing.tables``).
* an LLM rephrasing of the headline is tried only when the question was understood by the LLM
  in the first place, and kept only when ``phrasing.guard`` finds it grounded: its numbers,
  dates, directions and names all in the figures, the periods, the template answer or the
  question. A rejected rephrasing leaves the template headline, a warning that says why, and
  ``Answer.llm_rejected`` (the reason: number | date | direction | entity), which the service
  counts in ``gpureport_llm_rejections_total{reason}``.
"""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig

from agent import phrasing
from agent.answer import Answer
from agent.coverage import ROLLING_B, early
from agent.phrasing.coverage import coverage_warnings as phrase_coverage
from agent.phrasing.coverage import early_warning
from agent.phrasing.words import period_words
from agent.errors import LLMError
from agent.graph.state import AgentState, ToolResult, deps_of
from agent.graph.understand import llm_settings
from agent.understand import llm as llm_mod
from agent.understand.model import Understanding


def synthesize(state: AgentState, config: RunnableConfig) -> dict:
    deps = deps_of(config)
    u = state["understanding"]
    figures = figures_of(u, state.get("results") or [])
    entities = u.entities_json()
    all_clusters = u.cluster is None and len(state.get("clusters") or []) > 1
    wording = {**entities, "all_clusters": True} if all_clusters else entities
    headline, details = phrasing.phrase(u.intent, figures, wording, u.language,
                                        u.period.label if u.period else None,
                                        u.baseline.label if u.baseline else None)
    notes = phrasing.notes(u.intent, figures, u.language,
                           all_clusters=all_clusters and u.subject_kind != "cluster")
    if u.idle_gpus:
        notes += [n for n in [phrasing.idle_gpus_note(figures, u.language)] if n]
    # money asked for without a price (answers.md §5); with prices configured the figures
    # carry the cost (agent.prices)
    if (u.money or u.intent == "cost") and u.intent != "help" \
            and not (deps.prices and deps.prices.configured):
        notes.append(phrasing.money_note(figures, u.language, None))
    warnings: list[str] = coverage_warnings(figures, u)
    if early(u.period) and isinstance(figures.get("rolling"), dict):
        # answers.md §3: the headline over the last 7 days, the exact figures after it — and
        # §2 holds for that headline too: its 7 days may be short of data (ingest stopped)
        warnings.append(early_warning(u.period.hours, u.period.label, u.language))
        warnings += [w for w in coverage_warnings(figures["rolling"], u, named=True)
                     if w not in warnings]
        # the exact figures go first among the notes, which are always shown: a table that
        # follows them is read as theirs, not as the rolling headline's
        notes = [headline, *notes]
        headline = phrasing.rolling_headline(figures["rolling"], wording, u.period.label,
                                             u.language)
    llm_calls = state.get("llm_calls") or 0
    rejected = None
    settings = llm_settings(state, deps)
    if settings is not None and u.source == "llm" and u.intent != "help":
        llm_calls += 1
        periods = tuple(p for p in (u.period, u.baseline) if p is not None)
        try:
            text = llm_mod.rephrase(settings, u.question, headline, [*details, *notes], figures,
                                    u.language, [{"label": p.label, **p.as_dict(),
                                                  "hours": p.hours} for p in periods])
        except LLMError as exc:
            warnings.append(f"LLM phrasing unavailable, template answer used: {exc}")
        else:
            verdict = phrasing.check(text, phrasing.Evidence(
                figures=figures, template="\n".join([headline, *details, *notes]),
                question=u.question, entities=entities,
                names=tuple(state.get("clusters") or ()), periods=periods))
            if not verdict.ok:
                warnings.append(verdict.message())
                rejected = verdict.reason
            elif text.strip():
                headline = text.strip()
    answer = Answer(headline=headline, intent=u.intent, language=u.language, insights=details,
                    notes=notes, tables=phrasing.tables(u.intent, figures, u.language),
                    entities=entities, figures=figures, llm_rejected=rejected)
    return {"answer": answer, "llm_calls": llm_calls,
            "warnings": [*(state.get("warnings") or []), *warnings]}


def coverage_warnings(figures: dict, u: Understanding, named: bool = False) -> list[str]:
    """One line per cluster below 95 % coverage (answers.md §2), from the coverage the figures
    carry: the period's, or each side's of a comparison (the earlier side names its period;
    ``named``: both do — the rolling 7 days of an early period are not the period asked)."""
    if figures.get("coverage"):
        return phrase_coverage(figures["coverage"], u.period.as_dict()["start"] if u.period else None,
                               u.language)
    out: list[str] = []
    for side, earlier in (("b", False), ("after", False), ("a", True), ("before", True)):
        block = figures.get(side)
        if not isinstance(block, dict) or not block.get("coverage"):
            continue
        same = (figures.get("kind") == "entities")
        label = period_words(block.get("label"), u.language) \
            if (earlier or named) and not same else None
        for line in phrase_coverage(block["coverage"], block.get("start"), u.language, label):
            if line not in out:
                out.append(line)
    return out


def figures_of(u: Understanding, results: list[ToolResult]) -> dict:
    """The figures of the answer (product.md §6) from the results of the plan."""
    if u.intent == "discovery":
        opts: list[str] = []
        for r in results:
            a = r["artifact"] or {}
            if "options" in a:
                prefix = f"{a['dimension_type']}:" if "dimension_type" in a and len(results) > 1 else ""
                opts += [f"{prefix}{o}" for o in a["options"]]
            elif "workloads" in a:
                key = "user" if u.discovery_target == "users" else "name"
                opts += sorted({w[key] for w in a["workloads"]})
        return {"options": opts, "target": u.discovery_target or "namespaces"}
    if not results:
        return {}
    # the rolling call exists only for an early period (plan), whose own label is never "last
    # 7 days": a question asked over the last 7 days is the question, not its rolling headline
    rolling = next((r["artifact"] for r in results if ROLLING_B in (
        r["args"].get("b_label"), (r["args"].get("period") or {}).get("label"))),
                   None) if early(u.period) else None
    results = [r for r in results if r["artifact"] is not rolling]
    main = dict(results[0]["artifact"])
    if rolling is not None:
        main["rolling"] = rolling
    if u.intent == "compare" and u.breakdown:
        main = dict(next(r["artifact"] for r in results if r["tool"] == "compare_usage"))
        main["children"] = next((r["artifact"]["rows"] for r in results
                                 if r["tool"] == "compare_children"), [])
        main["child"] = u.breakdown
    if u.intent == "drilldown" and len(results) > 1:
        main = dict(main)
        main["namespace_drilldown"] = {**results[1]["artifact"],
                                       "namespace": results[1]["args"]["scope"]["namespace"]}
    return main
