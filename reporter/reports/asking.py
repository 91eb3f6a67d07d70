"""Preset rows -> questions put to the agent, through the one entry point ``answer_preset``.

An ``Asker`` belongs to one report build: it knows the report's periods, language and kinds,
turns a preset row (``reporter.reports.presets``) plus a scope into an ``Understanding`` and
records the question as asked. Every figure a report shows comes back in an ``Answer``; the
source the agent reads is the build's memoizing source (``AgentDeps.source``), so presets
that need the same sums cost one query.
"""

from __future__ import annotations

from agent.answer import Answer
from agent.ask import answer_preset
from agent.deps import AgentDeps
from agent.errors import ReportError
from agent.periods import Period, baseline as baseline_of
from agent.understand.model import Understanding
from reporter.reports.presets import PRESET, limit_for


Label = tuple[str, str, str]  # (label | annotation, key, value): a label fan-out's team


def scope_words(cluster: str | None, namespace: str | None, user: str | None = None,
                label: Label | None = None) -> str:
    """``ml-team (gpu-east)``, ``team=cv (gpu-east)``, ``gpu-east`` or ``all clusters``: a
    scope in a question."""
    name = user or namespace or (f"{label[1]}={label[2]}" if label else None)
    if name and cluster:
        return f"{name} ({cluster})"
    return name or cluster or "all clusters"


class Asker:
    """Puts the preset questions of one report to the agent."""

    def __init__(self, deps: AgentDeps, lang: str, period: Period, base: Period,
                 kinds: tuple[str, ...]):
        self.deps, self.lang, self.kinds = deps, lang, kinds
        self.period, self.base = period, base
        self.questions: list[str] = []

    def ask(self, key: str, cluster: str | None = None, namespace: str | None = None,
            user: str | None = None, label: Label | None = None) -> Answer:
        """The answer to preset ``key`` about ``cluster`` (None: every cluster) and
        ``namespace``, ``user`` (a team digest per user) or ``label`` (a team digest per
        label value: its rows, its users and workloads). Raises ``ReportError`` when the
        agent would have to ask back."""
        p = PRESET[key]
        if p.period == "period":
            period, base = self.period, self.base
        elif p.period == "baseline":
            period, base = self.base, baseline_of(self.base)
        else:
            period = base = None
        if p.scope in ("cluster", "report"):
            namespace = user = label = None
        question = p.question.format(
            who=scope_words(cluster, namespace, user, label), name=namespace or "",
            cluster=cluster or "all clusters", period=self.period.label,
            baseline=self.base.label)
        breakdown = None
        if p.breakdown == "children":
            breakdown = "workload" if user else ("user" if namespace or label else "namespace")
        elif p.breakdown:  # a named child kind (the users of a cluster)
            breakdown = p.breakdown
        u = Understanding(
            question=question, language=self.lang,  # type: ignore[arg-type]
            intent=p.intent, confidence=1.0,  # type: ignore[arg-type]
            cluster=cluster, namespace=namespace, user=user, period=period, baseline=base,
            **({"label_type": label[0], "label_key": label[1], "label_value": label[2]}
               if label else {}),
            period_explicit=period is not None, breakdown=breakdown,  # type: ignore[arg-type]
            ranking_entity=p.ranking[0] if p.ranking else None,  # type: ignore[arg-type]
            ranking_by=p.ranking[1] if p.ranking else None,
            limit=limit_for(p, self.kinds), discovery_target=p.target)
        answer = answer_preset(u, self.deps)
        self.questions.append(question)
        if answer.needs_clarification:
            raise ReportError(f"preset question '{question}' could not be answered: "
                              f"{answer.question or 'clarification needed'}")
        return answer


__all__ = ["Asker", "Label", "scope_words"]
