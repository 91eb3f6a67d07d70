"""Understanding a question without a language model: intent, entities, periods.

The parser works in passes over the question, each one blanking out what it consumed so the
next does not misread it (every pass has its own module):

1. **text** (``understand.text``): NFKC, the first 2,000 characters, language;
2. **periods** (``understand.period_phrases``, English and Chinese): "last 3 days", "上周",
   "过去七天", "2026-11-01..2026-11-07", "since Monday", "the week before";
3. **labels** (``understand.labels``): ``key=value`` (``team=nlp``, ``annotation
   primus-safe.user.name=alice``), the key mapped to the label type the source lists it under;
4. **names** (``understand.mentions``): words, quoted strings and joined neighbours, resolved
   against the real names (``understand.model.Names``); a near miss becomes a "did you mean"
   issue, never a silent replacement;
5. **intent** (``understand.intent``): weighted cues plus structure, then the details of the
   intent (metric, ranking, discovery target).

This module only runs the passes in order and fills the ``Understanding``:

* Cluster scope: a question that names no cluster is about *all* clusters (``cluster=None``),
  as questions.md expects for "What's the GPU utilization trend over the past few days?". Only
  a *bare* request — no intent cue of its own, no entity, no period ("I want to check GPU
  usage", "我想看看GPU使用情况") — with several clusters and no ``default_cluster`` gets
  ``Issue("missing", "cluster")``. A namespace in a single cluster gets that cluster from the
  graph (it knows where each namespace lives; ``Names`` only lists names).
* Two entities of one kind: the first is the subject, the second ``other`` (a comparison).
* Empty input is ``help`` with confidence 0; nonsense is ``help`` with confidence 0.2. The
  parser never raises on input.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from agent.understand import intent as I
from agent.understand import vocab_en as EN
from agent.understand import vocab_zh as ZH
from agent.understand.history import read_history
from agent.understand.labels import read_labels
from agent.understand.mentions import Mention, Resolver
from agent.understand.model import Issue, Names, Understanding
from agent.understand.period_phrases import WOW, assign_periods, distinct_periods, find_periods
from agent.understand.text import MAX_SCAN, blank, detect_language, lower, prepare

__all__ = ["MAX_SCAN", "detect_language", "understand"]

OUT_OF_SCOPE = re.compile(f"{EN.OUT_OF_SCOPE}|{ZH.OUT_OF_SCOPE}", re.ASCII)


def understand(question: str, now: datetime, meta: Names, *, default_cluster: str | None = None,
               tz: tzinfo | None = None) -> Understanding:
    """Intent, entities and periods of ``question`` from rules alone (never raises on input)."""
    question = question if isinstance(question, str) else ""
    u = Understanding(question=question, source="rules")
    if not question.strip():
        u.intent, u.confidence, u.language = "help", 0.0, "en"
        return u
    text = prepare(question)
    u.language = detect_language(text)
    low = lower(text)
    if OUT_OF_SCOPE.search(low):  # not about GPU usage: help, whatever else it says
        u.intent, u.confidence = "help", 0.9
        return u

    # 1. periods
    hits = find_periods(low, now, tz)
    masked = text
    for h in hits:
        masked = blank(masked, h.start, h.end)
    # 2. labels, 3. names
    res = Resolver(meta)
    masked, labels, label_issues = read_labels(masked, meta)
    res.mentions += labels
    for issue in label_issues:
        res.add_issue(issue)
    res.names(masked)
    # cue words are read without the names and the kind words bound to them: "user carol"
    # is a name, not "by user"; "ml-team" does not say "team"
    for start, end in res.name_spans + res.bound_markers:
        masked = blank(masked, start, end)
    masked_low = lower(masked)
    by_kind: dict[str, list[Mention]] = {}
    for m in sorted(res.mentions, key=lambda m: m.pos):
        if all(x.name != m.name for x in by_kind.get(m.kind, [])):
            by_kind.setdefault(m.kind, []).append(m)

    # 4. intent
    good = [h for h in hits if h.period is not None]
    distinct = distinct_periods([h.period for h in good])
    pair_kind = next((k for k in ("workload", "user", "label", "namespace", "cluster")
                      if len(by_kind.get(k, [])) >= 2), None)
    named = bool(by_kind) or any(i.kind == "unknown" for i in res.issues)
    intent, bare = I.choose_intent(u, low, masked_low, hits, good, distinct, pair_kind, named)
    history = read_history(masked_low) if intent not in ("compare", "drilldown", "anomalies", "help") else None
    if history is not None:  # which workloads failed / are pending / ran (agent.understand.history)
        intent, bare, u.history = "history", False, history
        u.intent, u.confidence = "history", max(u.confidence, 0.85)
    if intent in ("ranking", "discovery") and TOTAL.search(masked_low) and not WHICH.search(masked_low):
        intent = u.intent = "trend"  # "how many GPU-hours did we burn in total": one figure, no list
    u.granularity = granularity(low)
    u.money = bool(MONEY.search(low))
    if intent in ("trend", "ranking", "realtime") and IDLE_GPUS.search(low) and not (
            intent == "realtime" and HOW_MANY.search(low)):
        intent = u.intent = "ranking"  # ranking_and_discovery: workloads by idle GPU-hours
        u.idle_gpus = True

    # entities
    _assign_entities(u, by_kind, pair_kind)
    u.issues.extend(res.issues)
    if u.cluster is None and default_cluster:
        u.cluster = default_cluster
    if u.cluster is None and len(meta.clusters) == 1:
        u.cluster = meta.clusters[0]
    if bare and u.cluster is None and len(meta.clusters) > 1:
        u.issues.append(Issue("missing", "cluster", "", list(meta.clusters)))
    if intent not in ("ranking", "discovery", "help"):
        I.missing_kinds(u, masked_low, meta)

    I.metric(u, masked_low)
    assign_periods(u, hits, distinct, bool(WOW.search(low)), low, now, tz)
    u.issues = _dedupe(u.issues)
    I.ranking_and_discovery(u, masked_low, meta)
    return u


DAILY = re.compile(r"\b(?:daily|per\s+day|each\s+day|every\s+day|by\s+day|day\s+by\s+day)\b|每天|每日|按天|逐日|日均",
                   re.ASCII)
HOURLY = re.compile(r"\b(?:hourly|per\s+hour|each\s+hour|every\s+hour|by\s+hour|hour\s+by\s+hour)\b|每小时|按小时|逐小时",
                    re.ASCII)


IDLE_GPUS = re.compile(
    r"\bidle\s+(?:gpus?|cards?|accelerators?)\b(?![- ]?hours?)|\bgpus?\s+(?:are\s+|sitting\s+|sat\s+|"
    r"standing\s+)?idle\b(?![- ]?hours?)|\bunused\s+gpus?\b(?![- ]?hours?)|"
    r"(?:闲置|空闲|闲着)的?(?:卡|gpu|显卡)(?!\s*(?:小时|时|-?hours?))|(?:卡|gpu|显卡)\S{0,3}(?:闲置|空闲|闲着)", re.ASCII)
TOTAL = re.compile(r"\bhow\s+(?:many|much)\s+(?:gpu[- ]?hours?|gpus?|compute)\b.*\b(?:in\s+total|total|altogether|combined)\b|"
                   r"(?:一共|总共|合计|总计)\S{0,6}(?:多少|几)", re.ASCII)
WHICH = re.compile(r"\bwhich\b|\bwho\b|\btop\b|\brank|\bmost\b|哪|谁|排名|最多", re.ASCII)
HOW_MANY = re.compile(r"\bhow\s+many\b|多少块|几块|多少张|几张", re.ASCII)
MONEY = re.compile(r"\bmoney\b|\bcosts?\b|\bcosting\b|\bdollars?\b|\$|\bspen[dt]\b|\bprices?\b|"
                   r"\bbill(?:ed|ing)?\b|\busd\b|\bbudget\b|钱|成本|费用|花费|美元|人民币", re.ASCII)


def granularity(low: str) -> str | None:
    """The series step a question asks for ("daily utilization", "每天"): day, hour or None."""
    if DAILY.search(low):
        return "day"
    if HOURLY.search(low):
        return "hour"
    return None


def _dedupe(issues: list[Issue]) -> list[Issue]:
    out: list[Issue] = []
    for i in issues:
        if all((i.kind, i.entity, i.text) != (o.kind, o.entity, o.text) for o in out):
            out.append(i)
    return out


def _assign_entities(u: Understanding, by_kind: dict[str, list[Mention]], pair_kind: str | None) -> None:
    first = {k: v[0] for k, v in by_kind.items()}
    if "namespace" in first:
        u.namespace = first["namespace"].name
    if "cluster" in first:
        u.cluster = first["cluster"].name
    if "user" in first:
        u.user = first["user"].name
    if "workload" in first:
        u.workload = first["workload"].name
    if "label" in first:
        lab = first["label"]
        u.label_type, u.label_key, u.label_value = lab.label_type, lab.label_key, lab.label_value
    if pair_kind:
        u.other_kind = pair_kind  # type: ignore[assignment]
        u.other = by_kind[pair_kind][1].name
