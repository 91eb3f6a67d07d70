"""The grounding guard: a language model's rephrasing of an answer is kept only if everything it
claims is in what gpureport computed. ``check(text, Evidence(...))`` returns a ``Verdict``; any
problem means the template answer is used instead (``agent.graph.synthesize``).

What grounds a claim (``Evidence``, read by ``agent.phrasing.grounds``): the figures the model
was shown (not the hourly series), the template answer (code wrote every number in it), the
periods of the answer, the names the answer is about, and the question (its numbers only for
counts and durations: "top 5", "last 3 days" — never a percentage or GPU-hours the user typed).

The four checks:

1. **numbers**, found anywhere (``agent.phrasing.scan``: after CJK text, glued to letters,
   full-width, with thousands separators, scales, signs and ranges): each must equal a figure
   rounded to the decimals written (0, 1, 2, ...), with a compatible unit — ``%`` a percentage,
   ``pp`` a percentage-point figure, ``GPU-hours``, ``GPUs``, ``workloads`` their own kind. Names
   from the data are blanked first (longest first), so the digits of ``user-a-train-w46-07`` are
   no claim; a name that is itself numeric-looking (``97``, ``2026-11``) is blanked only where
   the text presents it as a name (``namespace 97``, ``"97"``), so a figure "97%" must come from
   the figures, never from a namespace called 97. Ordinals (``2nd``, ``top 5``) need a list that
   long; a bare year must be a year of the period.
2. **dates**: dates, times, ISO weeks, months and years must fall in a period of the answer (in
   UTC or the period's zone) or be written in the template; a day name next to a date must be
   that date's weekday.
3. **direction**: a written sign, and a direction word (rose/fell/up/down/higher/lower/gained/
   lost/improved/dropped, 上升/下降/增加/减少/提高/降低/升/降 …; ``cues.directions``) associated
   with a grounded number, must agree with the sign of a figure that number matches. The
   association: the word and the number are in the same clause (clauses end at sentence marks,
   commas, semicolons, dashes and "and/but/while", 而/但) and the word is the nearest one at
   most 4 words/numbers/CJK characters before the number, else at most 3 after it. A number the
   words point at as a level ("fell to 61.4%", "从 78.1% 降至 61.4%") is not a change: instead a
   "from A to B" pair must move the way the word says. When the clause names an owner of
   figures (a contributor, a ranked item), only that owner's figures count; a compare's
   difference (``b − a``) is read from the side the clause puts first, so "ml-team was 8.7 pp
   lower than nlp-team" agrees with ``delta_pp = +8.7`` for nlp-team over ml-team. A direction
   word next to a plain level ("higher utilization (70.0%)") says nothing checkable and passes,
   unless the number is marked as the size of a change ("by", 了, a ``pp`` unit).
4. **entities**: every name the text presents (``cues.candidates``: Kubernetes-shaped tokens,
   ``user_…`` names, a word after a kind word — "workload X", "任务X" —, quoted text) must be a
   name in the figures, the answer's entities, the clusters, the template answer or the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.lazy_re import lazy
from agent.phrasing import cues, scan
from agent.phrasing.grounds import Evidence, Fact, Grounds, matches
from agent.phrasing.words import period_words
from agent.text import printable

__all__ = ["Evidence", "Problem", "Verdict", "check"]

REASONS = ("number", "date", "direction", "entity")  # a verdict's reason: the first of these
WINDOW_BEFORE, WINDOW_AFTER = 4, 3  # words/numbers/CJK characters between a direction and a number
_REFERENCE_BEFORE = lazy(r"(?:\bthan|\bcompared (?:with|to)|\bvs\.?|\bversus|\brelative to"
                         r"|\bagainst|比|较|相比)\s*(?:the\s+)?$", re.I)
_REFERENCE_AFTER = lazy(r"^\S*\s*(?:相比|比较|相较)")


@dataclass(frozen=True)
class Problem:
    kind: str  # number | date | direction | entity
    text: str  # the fragment of the phrasing
    detail: str = ""


@dataclass(frozen=True)
class Verdict:
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str | None:
        kinds = {p.kind for p in self.problems}
        return next((k for k in REASONS if k in kinds), None)

    def message(self) -> str:
        """One line for the answer's warnings."""
        what = {"number": "numbers not in the figures", "date": "dates that are not the answer's",
                "direction": "a direction the figures contradict",
                "entity": "names not in the data"}
        parts = []
        for kind in REASONS:
            found = [p for p in self.problems if p.kind == kind]
            if found:
                shown = ", ".join(dict.fromkeys(
                    _quote(p.text) + (f" ({printable(p.detail)})" if p.detail else "")
                    for p in found[:3]))
                parts.append(f"{what[kind]}: {shown}")
        return "LLM answer rejected, template answer used: " + "; ".join(parts)


def check(text: str, evidence: Evidence) -> Verdict:
    """Every problem of ``text`` against ``evidence``: names first (they are blanked, unknown
    ones reported), then dates, then numbers, then the directions of grounded numbers."""
    g = Grounds(evidence)
    t = scan.normalize(text)
    spans = g.name_spans(t, everywhere=False)
    work = scan.blank(t, [(s, e) for s, e, _ in spans]
                      + [m.span() for m in scan.GLUED_OK.finditer(t)])
    problems: list[Problem] = []
    found = cues.candidates(work)
    for c in found:
        if not g.known(c.text):
            problems.append(Problem("entity", c.text))
    work = scan.blank(work, [(c.start, c.end) for c in found
                             if not scan.UNIT_AFTER.match(work, c.end)])
    ms = scan.moments(work)
    problems += [Problem("date", m.text, why) for m in ms if (why := g.moment_problem(m))]
    work = scan.blank(work, [(m.start, m.end) for m in ms])
    matched: dict[scan.Number, list[Fact]] = {}
    for n in scan.numbers(work):
        matched[n] = [f for f in g.facts if matches(n, f)]
        if not matched[n] and not g.special(n):
            problems.append(Problem("number", n.text))
    problems += _direction_problems(t, work, matched, spans)
    return Verdict(tuple(problems))


# -- direction -------------------------------------------------------------------------------------
def _direction_problems(t: str, work: str, matched: dict[scan.Number, list[Fact]],
                        spans: list[tuple[int, int, str]]) -> list[Problem]:
    """``t`` is the text, ``work`` the same with names and dates blanked (same offsets)."""
    problems = []
    words_all = cues.directions(work)
    parts = cues.clauses(work)
    for i, (cs, ce) in enumerate(parts):
        nums = [n for n in matched if cs <= n.start < ce]
        words = [d for d in words_all if cs <= d.start < ce]
        mentioned = {name for s, _, name in spans if cs <= s < ce}
        # "rose, by 16.7 pp" / "rose, from 78.1% to 61.4%": after a comma, the size or the ends
        # of a change belong to the direction word just before the comma
        before = [d for d in words_all if parts[i - 1][0] <= d.start < cs] \
            if i and _soft(work[parts[i - 1][1]:cs]) else []
        clause = t[cs:ce]
        for n in nums:
            facts = matched[n]
            if not facts:
                continue  # already a number problem
            marker = cues.marker_before(work, n.start)
            word = _nearest(work, words, n)
            if word is None and marker == "change":
                word = _nearest(work, before, n)
            claims = [("sign", n.sign)] if n.sign else []
            # "fell to 61.4%": the word points at a level; "61.4% is lower" / "8.7 pp higher":
            # a word after the number speaks of the number itself
            if word and not (marker == "level" and word.end <= n.start):
                claims.append(("word", word.sign))
            for how, claim in claims:
                if not _agrees(n, claim, how, facts, mentioned, clause, marker):
                    problems.append(Problem("direction", _fragment(t, word, n, how),
                                            _figure_said(facts)))
        problems += _from_to(t, work, nums, words or before)
    return problems


def _agrees(n: scan.Number, claim: int, how: str, facts: list[Fact], mentioned: set[str],
            clause: str, marker: str | None) -> bool:
    # the figures' own differences first (they know their owner and a compare's sides); a sign
    # the template wrote only when no figure matches
    changes = [f for f in facts if f.change and f.source == "figure"] or \
        [f for f in facts if f.change and f.source == "template"]
    changes = [f for f in changes if f.owner in mentioned] or changes
    if any(f.value == 0 or _sign(f.value) * _orientation(clause, f.pair) == claim for f in changes):
        return True
    levels = [f for f in facts if f.source == "figure" and not f.change]
    if how == "sign":  # "+61.4%" next to a positive level is harmless; "−61.4%" is not
        return claim > 0 and bool(levels)
    # a direction word next to a level ("higher utilization (70.0%)") says nothing about its sign,
    # unless the number is written as the size of the change
    return not (marker == "change" or n.unit == "pp") and (bool(levels) or not changes)


def _orientation(clause: str, pair: tuple[str, str] | None) -> int:
    """+1 when the clause reads a compare's difference as ``b − a`` (b is the subject, a the
    reference), −1 when it puts a first ("ml-team was lower than nlp-team")."""
    if pair is None:
        return 1
    low = clause.lower()
    pos = {side: _find_label(low, label) for side, label in zip("ab", pair)}
    for side, where in pos.items():
        if where is not None and (_REFERENCE_BEFORE.search(low[:where[0]])
                                  or _REFERENCE_AFTER.match(low[where[1]:])):
            return 1 if side == "a" else -1
    if pos["a"] is not None and (pos["b"] is None or pos["a"][0] < pos["b"][0]):
        return -1
    return 1


def _find_label(low: str, label: str) -> tuple[int, int] | None:
    for alias in sorted({label.lower(), period_words(label, "zh").lower()}, key=len, reverse=True):
        i = low.find(scan.normalize(alias))
        if alias and i >= 0:
            return i, i + len(alias)
    return None


def _nearest(work: str, words: list[cues.Direction], n: scan.Number) -> cues.Direction | None:
    before = [d for d in words
              if d.end <= n.start and cues.tokens_between(work, d.end, n.start) <= WINDOW_BEFORE]
    if before:
        return before[-1]
    after = [d for d in words
             if d.start >= n.end and cues.tokens_between(work, n.end, d.start) <= WINDOW_AFTER]
    return after[0] if after else None


def _soft(separator: str) -> bool:
    return separator.strip() in (",", "，", "、", "—")


def _from_to(t: str, work: str, nums: list[scan.Number],
             words: list[cues.Direction]) -> list[Problem]:
    """"fell from 78.1% to 61.4%": the pair must move the way the word says."""
    src = next((n for n in nums if cues.word_before(work, n.start) in cues.FROM_MARKERS), None)
    dst = next((n for n in nums if cues.word_before(work, n.start) in cues.TO_MARKERS), None)
    if src is None or dst is None:
        return []
    word = _nearest(work, words, dst) or _nearest(work, words, src)
    a, b = src.value * src.scale, dst.value * dst.scale
    if word is None or a == b or _sign(b - a) == word.sign:
        return []
    lo, hi = min(word.start, src.start, dst.start), max(word.end, src.end, dst.end)
    return [Problem("direction", " ".join(t[lo:hi].split()),
                    f"{src.text} → {dst.text} is {'a rise' if b > a else 'a fall'}")]


def _sign(v: float) -> int:
    return 1 if v > 0 else -1 if v < 0 else 0


def _fragment(t: str, word: cues.Direction | None, n: scan.Number, how: str) -> str:
    if how == "word" and word is not None:
        lo, hi = min(word.start, n.start), max(word.end, n.end)
        return " ".join(t[lo:hi].split())
    return n.text


def _figure_said(facts: list[Fact]) -> str:
    f = next((f for f in facts if f.source == "figure" and f.change), None)
    if f is None:
        return "a level, not a change"
    said = f"{'+' if f.value > 0 else '−' if f.value < 0 else ''}{abs(f.value):.1f}"
    return f"the figure is {f.pair[1]} − {f.pair[0]} = {said}" if f.pair else \
        f"the figure is {said}"


def _quote(text: str) -> str:
    s = printable(text).strip()
    return f"'{s if len(s) <= 60 else s[:59] + '…'}'"
