"""Which intent a question has: weighted cue words plus the question's structure.

Cues come from ``vocab_en``/``vocab_zh`` — both always applied, so mixed language works — and
are read on the question with periods, labels and names blanked out (``ml-team`` does not say
"team"; "user carol" is a name, not "by user"). Scores, not first match: word order does not
matter. Structure adds to the cues: two entities of a kind or two periods -> compare (with
"why": drill-down); a past period makes "realtime" unlikely.

Decisions:

* Confidence: ≥ 0.6 when a clear cue decides the intent (0.55 + 0.15 per cue weight, capped
  at 0.95; at most 0.55 when two intents nearly tie); exactly 0.6 for a bare request that
  needs a cluster; 0.55 for a follow-up fragment ("and last week?") whose intent is the
  previous turn's; 0.5 for names without a cue; 0.2 for nonsense; 0 for an empty question.
* Trend is the default reading of a question about GPU figures with no other cue.
* "a namespace"/"某个命名空间" asked for without a name -> ``Issue("missing", "namespace")``
  with the real namespaces as options.
* Ranking: what to rank (namespaces unless users/workloads are named), by what (idle
  GPU-hours unless the question says otherwise), how many (top N, 10 by default).
* Discovery: what to list; label values need the key named in the question
  ("team标签有哪些值").
"""

from __future__ import annotations

import re

from agent.periods import Period
from agent.understand import vocab_en as EN
from agent.understand import vocab_zh as ZH
from agent.understand.labels import label_key_in
from agent.understand.mentions import TOKEN
from agent.understand.model import INTENTS, Issue, Names, Understanding
from agent.understand.period_phrases import BASELINE_BEFORE, PeriodHit

# tie-break between equal intent scores: the more specific question wins
_PRIORITY = {"anomalies": 7, "drilldown": 6, "compare": 5, "ranking": 4, "realtime": 3, "freshness": 3,
             "discovery": 2, "help": 1, "trend": 0, "history": 0}

# English patterns use ASCII word boundaries so that "top5用户" or "trend这周" still match
_A = re.ASCII
_CUES = [(re.compile(p, _A), i, w) for p, i, w in EN.INTENT_CUES] + \
        [(re.compile(p), i, w) for p, i, w in ZH.INTENT_CUES]
_FOLLOW_UP = re.compile(f"{EN.FOLLOW_UP}|{ZH.FOLLOW_UP}", _A)
_METRIC = re.compile(f"{EN.METRIC_WORDS}|{ZH.METRIC_WORDS}", _A)
_SCOPE = re.compile(f"{EN.SCOPE_WORDS}|{ZH.SCOPE_WORDS}", _A)
_ALLOC = re.compile(f"{EN.ALLOCATION}|{ZH.ALLOCATION}", _A)
_ALLOC_RATE = re.compile(f"{EN.ALLOCATION_RATE}|{ZH.ALLOCATION_RATE}", _A)
_MISSING_EN = re.compile(EN.MISSING, _A)
_MISSING_ZH = re.compile(ZH.MISSING)
_KIND_NOUNS = [(re.compile(p, _A), k) for p, k in EN.KIND_NOUNS] + \
              [(re.compile(p), k) for p, k in ZH.KIND_NOUNS]
_DISCOVERY_CUE = re.compile(f"{EN.DISCOVERY_CUES}|{ZH.DISCOVERY_CUES}", _A)
_RANKING_BY = [(re.compile(p, _A), b) for p, b in EN.RANKING_BY] + \
              [(re.compile(p), b) for p, b in ZH.RANKING_BY]
_NUM_WORDS = "|".join(sorted((re.escape(w) for w in EN.NUMBER_WORDS if len(w) > 2), key=len, reverse=True))
_LIMIT_EN = re.compile(EN.LIMIT.replace("{words}", _NUM_WORDS), _A)
_LIMIT_ZH = re.compile(ZH.LIMIT)


def _cue_scores(low: str, whole: str) -> dict[str, float]:
    """Cue weights per intent on ``low`` (names and periods blanked); patterns anchored to the
    whole question ("^help$", "^hi$") are tried on ``whole`` so blanking cannot create them."""
    scores = {i: 0.0 for i in INTENTS}
    for rx, intent, weight in _CUES:
        if rx.search(whole if rx.pattern.startswith("^") else low):
            scores[intent] += weight
    return scores


def kind_nouns(low: str) -> list[tuple[int, str]]:
    """(position, kind) of the nouns naming a kind of thing ("users", "命名空间", "label keys")."""
    return sorted((m.start(), kind) for rx, kind in _KIND_NOUNS for m in rx.finditer(low))


def limit_of(low: str) -> int | None:
    """"top 5", "前五", "3 users": how many items a ranking asks for (1..1000)."""
    m = _LIMIT_EN.search(low)
    if m:
        word = next(g for g in m.groups() if g)
        n = int(word) if word.isdigit() else EN.NUMBER_WORDS.get(word)
        return n if n and 0 < n <= 1000 else None
    m = _LIMIT_ZH.search(low)
    if m:
        n = ZH.cn_number(next(g for g in m.groups() if g))
        return n if n and 0 < n <= 1000 else None
    return None


def choose_intent(u: Understanding, low: str, masked_low: str, hits: list[PeriodHit],
                  good: list[PeriodHit], distinct: list[Period], pair_kind: str | None,
                  named: bool) -> tuple[str, bool]:
    """Sets ``u.intent`` and ``u.confidence``; returns (intent, bare request?).

    Cue weights per intent, plus structure: two entities of a kind or two periods (or one
    period after "than/since/比") make a comparison — or, with "why", a drill-down; a past
    period makes "realtime" unlikely and a strong "now" without one makes it likely. Trend is
    the default reading of a question about GPU figures with no other cue.
    """
    cues = _cue_scores(masked_low, low)
    after_marker = len(distinct) == 1 and any(BASELINE_BEFORE.search(low[:h.start]) for h in good)
    if pair_kind:
        cues["compare"] += 1.5
    if len(distinct) >= 2 or after_marker:
        cues["compare"] += 1.0
        if cues["drilldown"] >= 2.0:  # "why ... than last week": the periods serve the why
            cues["drilldown"] += 1.0
    if any(h.explicit and h.period.label != "today" for h in good):
        cues["realtime"] -= 1.5
    elif cues["realtime"] >= 1.5:
        cues["realtime"] += 1.0
    metric_words = bool(_METRIC.search(masked_low))
    totals = dict(cues)
    totals["trend"] += 0.2 + (0.3 if metric_words else 0.0)
    ranked = sorted(INTENTS, key=lambda i: (totals[i], _PRIORITY[i]), reverse=True)
    cue_best = max(cues.values())

    if cue_best >= 0.5 or named or hits:
        intent = ranked[0]
        if intent == "help" and cue_best < 1.0:
            intent = "trend"
    else:
        intent = "trend" if metric_words else "help"
    # "the whole cluster", "整个集群": the scope is given (all clusters), nothing to ask
    bare = (cue_best < 1.0 and not named and not hits and metric_words
            and not _SCOPE.search(masked_low))
    if cue_best >= 1.0:
        confidence = min(0.95, 0.55 + 0.15 * cue_best)
        if totals[ranked[0]] - totals[ranked[1]] < 0.5:  # two readings nearly tie
            confidence = min(confidence, 0.55)
    elif bare:
        confidence = 0.6  # understood: the agent must ask which cluster
    elif _FOLLOW_UP.search(low) and (named or hits):
        # "and last week?": the parts are clear but the intent is the previous turn's; staying
        # under 0.6 lets the graph keep that intent instead of switching to the default trend
        confidence = 0.55
    elif named or hits:
        confidence = 0.5
    else:
        confidence = 0.2 if intent == "help" else 0.4
    u.intent, u.confidence = intent, confidence  # type: ignore[assignment]
    return intent, bare



def missing_kinds(u: Understanding, low: str, meta: Names) -> None:
    """"trend for a namespace": the kind is asked for without a name -> a ``missing`` issue
    listing the real names of that kind."""
    asked = [("workload" if m[1] == "job" else m[1]) for m in _MISSING_EN.finditer(low)]
    asked += [ZH.MISSING_KIND[m[1]] for m in _MISSING_ZH.finditer(low)]
    for kind in dict.fromkeys(asked):
        if getattr(u, kind) is None and not any(i.entity == kind for i in u.issues):
            options = {"namespace": meta.namespaces, "user": meta.users, "workload": meta.workloads,
                       "cluster": meta.clusters}[kind]
            u.issues.append(Issue("missing", kind, "", list(options)))


_TARGET = {"cluster": "clusters", "namespace": "namespaces", "user": "users", "workload": "workloads",
           "label_keys": "label_keys", "label_values": "label_values"}


def discovery(u: Understanding, low: str, meta: Names) -> None:
    """What to list; label values need the key named in the question ("team标签有哪些值")."""
    nouns = kind_nouns(low)
    kinds = [k for _, k in nouns]
    # the label keys are fetched only when label values are asked for
    key = label_key_in(meta, [t[0] for t in TOKEN.finditer(low)]) if "label_values" in kinds \
        else None
    if "label_values" in kinds and key:
        u.discovery_target = "label_values"
        u.label_type, u.label_key = key
        return
    if "label_keys" in kinds:
        u.discovery_target = "label_keys"
        return
    entity_nouns = [(pos, k) for pos, k in nouns if k in ("cluster", "namespace", "user", "workload")]
    cue_ends = [m.end() for m in _DISCOVERY_CUE.finditer(low)]
    choice = None
    for end in cue_ends:
        after = [(pos, k) for pos, k in entity_nouns if pos >= end - 1]
        if after:
            choice = min(after)[1]
            break
    if choice is None and entity_nouns:
        choice = entity_nouns[0][1]
    u.discovery_target = _TARGET[choice or "cluster"]


def metric(u: Understanding, masked_low: str) -> None:
    """Utilization unless the question says allocation (a ranking: "allocation rate")."""
    if u.intent == "ranking":
        u.metric = "allocation" if _ALLOC_RATE.search(masked_low) else "utilization"
    else:
        u.metric = "allocation" if _ALLOC.search(masked_low) else "utilization"


def ranking_and_discovery(u: Understanding, masked_low: str, meta: Names) -> None:
    """What a ranking ranks, by what and how many; what a discovery lists."""
    if u.intent == "ranking":
        nouns = [k for _, k in kind_nouns(masked_low) if k in ("namespace", "user", "workload")]
        u.ranking_entity = nouns[0] if nouns else "namespace"  # type: ignore[assignment]
        if (u.idle_gpus and not nouns) or (u.namespace and u.ranking_entity == "namespace"):
            u.ranking_entity = "workload"  # idle GPUs are workloads; a namespace holds workloads
        u.ranking_by = next((b for rx, b in _RANKING_BY if rx.search(masked_low)), "idle")
        if u.idle_gpus:
            u.ranking_by = "idle"
        u.limit = limit_of(masked_low) or 10
    elif u.intent == "discovery":
        discovery(u, masked_low, meta)
