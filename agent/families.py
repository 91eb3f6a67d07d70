"""Workload families (answers.md §7): periodic jobs renamed every run, counted as one.

A training job that runs weekly is ``user-b-finetune-w47-01`` this week and
``user-b-finetune-w48-01`` the next; a Deployment's pods are ``chat-api-1-gn8ct``. Ranked or
attributed one name at a time, such a job looks like a new workload and a gone one that cancel
each other ("+1.9 pp new", "−1.9 pp gone"), and a ranking fills with near-identical names. So
the workloads of one cluster + namespace + user + kind whose names differ only by a trailing run
token — digits, an ISO week like ``w48``, a 5-character pod hash, a date — are one **family**,
written ``user-b-finetune-w*`` (``segment-train-*`` for hashes and numbers) with its members.
A workload alone under its stem keeps its own name.

The grouping is done here once; ``agent.figures`` groups the workload rows of rankings,
drill-downs and the children table with it, so the digest's tables group the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable

from agent.sources.base import PeriodStats

# one trailing token: "-w48", "-01", "-20261116", "-gn8ct" (Kubernetes' pod-hash alphabet: no
# vowels, so a word such as "-train" is never taken for a hash)
_WEEK = re.compile(r"^(.+?)[-_.](w\d{1,2})$", re.IGNORECASE)
_DIGITS = re.compile(r"^(.+?)[-_.](\d+)$")
_HASH = re.compile(r"^(.+?)[-_.]([bcdfghjklmnpqrstvwxz2456789]{5})$")
_DATE = re.compile(r"^(.+?)[-_.](\d{4}-\d{2}-\d{2})$")
_MAX_TOKENS = 3


@dataclass(frozen=True)
class Stem:
    """A name without its run tokens: ``stem`` and how a family of it is written."""

    stem: str
    display: str


def stem_of(name: str) -> Stem | None:
    """The family stem of a workload name, or None when it ends in no run token.

    >>> stem_of("user-b-finetune-w47-01").display
    'user-b-finetune-w*'
    >>> stem_of("segment-train-x7k2q").display
    'segment-train-*'
    """
    rest, week, stripped = name, False, 0
    while stripped < _MAX_TOKENS:
        for pattern in (_DATE, _WEEK, _DIGITS, _HASH):
            m = pattern.match(rest)
            if m and any(ch.isalpha() for ch in m.group(1)):
                rest, week = m.group(1), pattern is _WEEK
                stripped += 1
                break
        else:
            break
    if not stripped:
        return None
    return Stem(rest, f"{rest}-w*" if week else f"{rest}-*")


def _key(st: PeriodStats) -> tuple:
    return (st.cluster or "", st.namespace or "", st.user or "", st.kind or "")


def family_names(rows: Iterable[PeriodStats]) -> dict[tuple, str]:
    """(cluster, namespace, user, kind, name) → the name to show: the family's when at least
    two distinct names share a stem there, else the workload's own. ``rows`` may hold the same
    workload several times (two periods): a family is judged over all of them, so a job that
    renamed itself between the periods is one family."""
    rows = list(rows)
    members: dict[tuple, set[str]] = {}
    stems: dict[str, Stem | None] = {}
    for st in rows:
        if st.name not in stems:
            stems[st.name] = stem_of(st.name)
        s = stems[st.name]
        if s is not None:
            members.setdefault((*_key(st), s.display), set()).add(st.name)
    out = {}
    for st in rows:
        s = stems[st.name]
        grouped = s is not None and len(members[(*_key(st), s.display)]) >= 2
        out[(*_key(st), st.name)] = s.display if grouped else st.name
    return out


def group(rows: Iterable[PeriodStats], names: dict[tuple, str] | None = None
          ) -> list[tuple[PeriodStats, list[str]]]:
    """Workload rows summed per family: (sums under the family's name, member names). A
    workload that is not in a family is itself with ``[]`` members. ``names`` from
    ``family_names`` (over more rows, e.g. both periods of a comparison) or computed here."""
    rows = list(rows)
    names = names if names is not None else family_names(rows)
    out: dict[tuple, tuple[PeriodStats, list[str]]] = {}
    for st in rows:
        shown = names.get((*_key(st), st.name), st.name)
        k = (*_key(st), shown)
        if k not in out:
            out[k] = (replace(st, name=shown), [st.name] if shown != st.name else [])
        else:
            total, mem = out[k]
            out[k] = (total.add(st), mem + [st.name])
    return [(st, sorted(set(mem))) for st, mem in out.values()]


def members_of(rows: Iterable[PeriodStats], names: dict[tuple, str]) -> dict[tuple, list[str]]:
    """(cluster, namespace, user, kind, shown name) → the member names behind it."""
    out: dict[tuple, set[str]] = {}
    for st in rows:
        shown = names.get((*_key(st), st.name), st.name)
        if shown != st.name:
            out.setdefault((*_key(st), shown), set()).add(st.name)
    return {k: sorted(v) for k, v in out.items()}
