"""Names mentioned in a question: found as words, resolved against the real names, or turned
into "did you mean" issues.

What counts as a possible name: Latin-letter tokens (so "ml-team这周的利用率" yields
``ml-team``), quoted strings, and joined neighbours ("the nlp team" -> nlp-team). A kind word
next to a name types it ("namespace X", "user X", "X集群", "任务X"); an untyped name is looked
up in every kind. Matching is ``agent.names.NameIndex`` (exact, case-, separator-insensitive);
a near miss is never replaced silently: it becomes ``Issue("unknown", kind, text,
suggestions)`` so the agent asks "did you mean ml-team?".

Workload names are not listed (a real cluster has hundreds of thousands): before resolving,
the resolver hands the question's candidate words to ``Names.workloads_near`` and indexes only
what comes back. Candidates are the words that could be a workload: not everyday words (those
only need an exact check), not names already known as a namespace, cluster or user.

Decisions:

* At most ``MAX_FUZZY`` distinct words are fuzzily looked up (and at most that many are sent
  to the workload lookup): a hostile question costs the same as a long one.
* SQL/HTML in a question is only text: it is never matched to a real name (a quoted
  ``namespace '; DROP TABLE x;--`` is an unknown namespace without suggestions).
* "X instead of Y" yields X first and Y as ``other``: the graph swaps Y for X in the previous
  turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.names import NameIndex, clean, normalize
from agent.understand import vocab_en as EN
from agent.understand import vocab_zh as ZH
from agent.understand.model import Issue, Names
from agent.understand.text import blank, clean_low

MAX_FUZZY = 25  # distinct words fuzzily looked up per question: bounds the cost of hostile input
KINDS = ("namespace", "cluster", "user", "workload")

@dataclass
class Tok:
    """A word (or quoted string) of the question that may be a name, with its position."""

    start: int
    end: int
    text: str
    quoted: bool = False
    possessive: bool = False
    kind: str | None = None  # typed by a marker

    @property
    def low(self) -> str:
        return self.text.lower()


@dataclass
class Mention:
    """A real name found in the question (``label``: a resolved ``key=value``)."""

    kind: str  # namespace | cluster | user | workload | label
    name: str
    pos: int
    label_type: str = "label"
    label_key: str | None = None
    label_value: str | None = None


TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.\-/@]*[A-Za-z0-9])?")
_EN_MARKER_RX = "|".join(sorted(EN.MARKERS, key=len, reverse=True))
# "namespace '<anything>'" (closing quote optional): whatever is quoted is the name asked for;
# an ASCII quote is closed by the same quote, so "namespace 'o"brien'" asks for o"brien, not o
_TYPED_QUOTE = re.compile(rf"\b({_EN_MARKER_RX})s?(?:\s*[:=]\s*|\s+)"
                          rf"(?:(['\"])(?!s\b)(?P<ascii>[^\n]{{0,200}}?)(?:\2|$)"
                          rf"|[“「『](?P<fancy>[^”」』\n]{{0,200}})(?:[”」』]|$))", re.IGNORECASE)
_ZH_TYPED_QUOTE = re.compile(r"(命名空间|集群|用户|任务|作业|工作负载)\s*[:：]?\s*(['\"“「『])([^'\"”」』\n]{0,200})"
                             r"(?:['\"”」』]|$)")
_QUOTED = re.compile(r"[\"“「『]([^\"”」』\n]{1,120})[\"”」』]|"
                     r"(?:(?<=[\s(:,，])|^)'([^'\n]{1,120})'(?=$|[\s?.,!;:)，。？！])")
_ZH_MARKERS = sorted(ZH.MARKERS, key=lambda m: len(m[0]), reverse=True)


def typed_quote_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` quotes a name after its kind ("namespace '...'", "命名空间「...」"): the
    quoted text is a name as written, whatever it looks like (``a=b`` in it is no label)."""
    return [m.span() for rx in (_TYPED_QUOTE, _ZH_TYPED_QUOTE) for m in rx.finditer(text)]


class Resolver:
    """Resolves tokens to real names; collects mentions and issues.

    The name lists are indexed on first use, so a question whose words need no namespace
    never makes the ``Names`` fetch them; workloads are indexed from ``workloads_near``.
    """

    def __init__(self, meta: Names):
        self.meta = meta
        self._indexes: dict[str, NameIndex] = {}
        self.mentions: list[Mention] = []
        self.issues: list[Issue] = []
        self.bound_markers: list[tuple[int, int]] = []
        self.name_spans: list[tuple[int, int]] = []  # names found (resolved or not)
        self._suggested: dict[tuple[str, str], list[tuple[str, float]]] = {}

    def index(self, kind: str) -> NameIndex:
        if kind not in self._indexes:
            names = {"namespace": lambda: self.meta.namespaces, "cluster": lambda: self.meta.clusters,
                     "user": lambda: self.meta.users, "workload": lambda: self.meta.workloads}[kind]()
            self._indexes[kind] = NameIndex.of(names)
        return self._indexes[kind]

    def suggest(self, kind: str, text: str) -> list[tuple[str, float]]:
        """Fuzzy suggestions, memoised per word and limited to ``MAX_FUZZY`` distinct words."""
        key = (kind, normalize(text))
        if key not in self._suggested:
            if len({t for _, t in self._suggested}) >= MAX_FUZZY and \
                    all(t != key[1] for _, t in self._suggested):
                return []
            self._suggested[key] = self.index(kind).suggest(text)
        return self._suggested[key]

    def add_issue(self, issue: Issue) -> None:
        if all((i.kind, i.entity, i.text) != (issue.kind, issue.entity, issue.text) for i in self.issues):
            self.issues.append(issue)

    # -- tokens ---------------------------------------------------------------------------
    def tokens(self, text: str) -> list[Tok]:
        toks: list[Tok] = []
        for rx in (_TYPED_QUOTE, _ZH_TYPED_QUOTE):
            for m in rx.finditer(text):
                marker = m[1].lower()
                kind = EN.MARKERS.get(marker) or dict(ZH.MARKERS).get(m[1])
                g = 3 if rx is _ZH_TYPED_QUOTE else ("ascii" if m["ascii"] is not None else "fancy")
                toks.append(Tok(m.start(g), m.end(g), m[g], quoted=True, kind=kind))
                self.bound_markers.append(m.span(1))
                text = blank(text, *m.span())
        for m in _QUOTED.finditer(text):
            content = m[1] if m[1] is not None else m[2]
            g = 1 if m[1] is not None else 2
            toks.append(Tok(m.start(g), m.end(g), content, quoted=True))
            text = blank(text, *m.span())
        for m in TOKEN.finditer(text):
            if m[0] in ("s", "S") and text[m.start() - 1:m.start()] == "'":
                continue  # the "s" of a possessive
            after = text[m.end():m.end() + 2]
            toks.append(Tok(m.start(), m.end(), m[0], possessive=after.startswith("'")))
        toks.sort(key=lambda t: t.start)
        self._text = text
        return toks

    def _is_common(self, low: str) -> bool:
        if _common_word(low) or low in EN.MARKERS:
            return True
        parts = [p for p in re.split(r"[-_./]", low) if p]
        return len(parts) > 1 and all(_common_word(p) or p.isdigit() for p in parts)

    def _exact_any(self, text: str) -> tuple[str, str] | None:
        if clean_low(text) in EN.GENERIC_NAMES:
            return None
        for kind in KINDS:
            hit = self.index(kind).match(text)
            if hit is not None:
                return kind, hit
        return None

    def _gap_is_space(self, a: Tok, b: Tok) -> bool:
        return b.start >= a.end and self._text[a.end:b.start].strip(" :") == ""

    def _typed(self, toks: list[Tok], i: int) -> tuple[str | None, tuple[int, int] | None]:
        """The kind a neighbouring marker word gives token ``i`` (and the marker's span)."""
        tok = toks[i]
        if tok.kind:
            return tok.kind, None
        # English marker before: "namespace X", "user called X"
        j = i - 1
        if j >= 0 and toks[j].low in ("called", "named") and self._gap_is_space(toks[j], tok):
            j -= 1
        if j >= 0 and toks[j].low in EN.MARKERS and not toks[j].quoted and \
                self._text[toks[j].end:toks[j + 1].start].strip(" :=") == "":
            return EN.MARKERS[toks[j].low], (toks[j].start, toks[j].end)
        # Chinese marker right before: "命名空间ml-team", "用户 alice"
        prev_end = toks[i - 1].end if i > 0 else 0
        gap = self._text[prev_end:tok.start].rstrip(" :：")
        for word, kind in _ZH_MARKERS:
            if gap.endswith(word):
                end = prev_end + len(gap)
                return kind, (end - len(word), end)
        # English marker after: "the ml-team namespace", "the payments team" (unless it types
        # the next name)
        k = i + 1
        after_marker = {**EN.MARKERS, "team": "namespace"}
        if k < len(toks) and toks[k].low in after_marker and self._text[tok.end:toks[k].start].strip() == "":
            nxt = toks[k + 1] if k + 1 < len(toks) else None
            if not (nxt and self._text[toks[k].end:nxt.start].strip(" :=") == ""
                    and self._candidate(nxt)):
                return after_marker[toks[k].low], (toks[k].start, toks[k].end)
        # Chinese marker after: "gpu-east集群", "research这个命名空间"
        after = self._text[tok.end:tok.end + 12].lstrip(" ")
        offset = tok.end + (len(self._text[tok.end:tok.end + 12]) - len(after))
        for filler in ZH.MARKER_FILLERS:
            if after.startswith(filler):
                after, offset = after[len(filler):], offset + len(filler)
                break
        for word, kind in _ZH_MARKERS:
            if after.startswith(word):
                return kind, (offset, offset + len(word))
        return None, None

    def _candidate(self, tok: Tok) -> bool:
        if tok.quoted:
            return True
        low = tok.low
        if not re.search(r"[a-z]", low):
            return False
        if self._is_common(low):
            return self._exact_any(tok.text) is not None and low not in EN.MARKERS
        return True

    # -- workloads: looked up, not listed ---------------------------------------------------
    def _known_elsewhere(self, word: str) -> bool:
        return any(self.index(kind).match(word) is not None
                   for kind in ("namespace", "cluster", "user"))

    def _after_workload_marker(self, toks: list[Tok], i: int) -> bool:
        """"job X", "任务X", "X任务": the word is meant as a workload, whatever else it is."""
        if i > 0 and EN.MARKERS.get(toks[i - 1].low) == "workload":
            return True
        before = self._text[toks[i - 1].end if i else 0:toks[i].start].rstrip(" :：")
        after = self._text[toks[i].end:toks[i].end + 6].lstrip(" ")
        return any(kind == "workload" and (before.endswith(word) or after.startswith(word))
                   for word, kind in _ZH_MARKERS)

    def _adjacent(self, group: list[Tok]) -> bool:
        return all(self._text[a.end:b.start].strip() == "" and b.start > a.end
                   for a, b in zip(group, group[1:]))

    def lookup_workloads(self, toks: list[Tok]) -> None:
        """Index the real workload names near the question's words.

        ``near`` words (not everyday words, or quoted) are looked up with their neighbours for
        suggestions; everyday words and joined neighbours ("model train" -> model-train) only
        need an exact check. Words that already name a namespace, cluster or user are not
        looked up unless a kind word makes them a workload ("job ml-team"): the untyped
        resolution tries those kinds first anyway.
        """
        near: dict[str, None] = {}
        exact: dict[str, None] = {}
        for i, tok in enumerate(toks):
            word = clean(tok.text)
            if not re.search(r"[A-Za-z]", word):
                continue
            typed = tok.kind == "workload" or self._after_workload_marker(toks, i)
            if not typed and self._known_elsewhere(word):
                continue
            if tok.quoted or not self._is_common(word.lower()):
                near[word] = None
            else:
                exact[word] = None
        for n in (2, 3):
            for i in range(len(toks) - n + 1):
                group = toks[i:i + n]
                if not any(t.quoted for t in group) and self._adjacent(group):
                    exact["-".join(t.text for t in group)] = None
        words = list(near)[:MAX_FUZZY]
        found = self.meta.workloads_near(words, [w for w in exact if w not in near])
        self._indexes["workload"] = NameIndex.of(found)

    def names(self, text: str) -> None:
        toks = self.tokens(text)
        self.lookup_workloads(toks)
        used: set[int] = set()
        # joined neighbours first: "nlp team" -> nlp-team, "data eng" -> data-eng
        for n in (3, 2):
            for i in range(len(toks) - n + 1):
                group = toks[i:i + n]
                if any(k in used for k in range(i, i + n)) or any(t.quoted for t in group):
                    continue
                if not self._adjacent(group):
                    continue
                if all(self._exact_any(t.text) for t in group):
                    continue
                joined = "-".join(t.text for t in group)
                hit = self._exact_any(joined)
                if hit and normalize(joined) == normalize(hit[1]):
                    self.mentions.append(Mention(hit[0], hit[1], group[0].start))
                    self.name_spans.append((group[0].start, group[-1].end))
                    used.update(range(i, i + n))
        for i, tok in enumerate(toks):
            if i in used or not self._candidate(tok):
                continue
            kind, marker_span = self._typed(toks, i)
            if kind:
                self._resolve_typed(tok, kind, marker_span)
            else:
                self._resolve_untyped(tok)

    def _resolve_typed(self, tok: Tok, kind: str, marker_span) -> None:
        n_before = len(self.mentions) + len(self.issues)
        self._resolve_typed_(tok, kind, marker_span)
        if len(self.mentions) + len(self.issues) > n_before:
            self.name_spans.append((tok.start, tok.end))

    def _resolve_typed_(self, tok: Tok, kind: str, marker_span) -> None:
        hit = self.index(kind).match(tok.text)
        if hit is None and kind == "namespace":  # "ml团队" / "the ml team" -> ml-team
            hit = self.index(kind).match(tok.text + "-team")
        if hit is not None:
            self.mentions.append(Mention(kind, hit, tok.start))
            if marker_span:
                self.bound_markers.append(marker_span)
            return
        other = self._exact_any(tok.text)
        if other is not None:  # "ml-team jobs": the marker was about something else
            self.mentions.append(Mention(other[0], other[1], tok.start))
            return
        if not tok.quoted and self._is_common(tok.low):
            return
        if marker_span:
            self.bound_markers.append(marker_span)
        text = tok.text.strip()
        self.add_issue(Issue("unknown", kind, text, [n for n, _ in self.suggest(kind, text)]))

    def _resolve_untyped(self, tok: Tok) -> None:
        n_before = len(self.mentions) + len(self.issues)
        self._resolve_untyped_(tok)
        if len(self.mentions) + len(self.issues) > n_before:
            self.name_spans.append((tok.start, tok.end))

    def _resolve_untyped_(self, tok: Tok) -> None:
        hit = self._exact_any(tok.text)
        if hit is not None:
            self.mentions.append(Mention(hit[0], hit[1], tok.start))
            return
        low = tok.low
        ident = bool(re.search(r"[-_\d.]", low))
        if not (tok.quoted or tok.possessive or ident or len(low) >= 4) or len(low) < 3:
            return
        cutoff = 80.0 if (ident or tok.possessive or tok.quoted) else 85.0
        best: tuple[str, list[tuple[str, float]]] | None = None
        for kind in KINDS:
            sugg = self.suggest(kind, tok.text)
            if sugg and sugg[0][1] >= cutoff and (best is None or sugg[0][1] > best[1][0][1]):
                best = (kind, sugg)
        if best is not None:
            self.add_issue(Issue("unknown", best[0], tok.text.strip(), [n for n, _ in best[1]]))
        elif tok.quoted or tok.possessive:
            # a name the person clearly meant ("'foo's usage'") that matches nothing
            self.add_issue(Issue("unknown", "namespace", tok.text.strip(), []))
        elif _name_shaped(low) and not self._is_common(low):
            # "fraud-detection": written like a name, matches none of any kind (never dropped)
            self.add_issue(Issue("unknown", "any", tok.text.strip(), []))


def _name_shaped(low: str) -> bool:
    """Written like a Kubernetes name: letters joined by "-" or "_" ("fraud-detection")."""
    return bool(re.fullmatch(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)+", low)) and len(low) >= 5 \
        and len(re.findall(r"[a-z]", low)) >= 4


_SUFFIXES = ("'s", "ies", "es", "s", "ed", "d", "ing", "ly", "er", "est")


def _common_word(low: str) -> bool:
    """An everyday word, also inflected: "uses", "wasted", "holding" (light stemming)."""
    if low in EN.COMMON_WORDS:
        return True
    for suffix in _SUFFIXES:
        if low.endswith(suffix) and len(low) - len(suffix) >= 3:
            stem = low[: -len(suffix)]
            if stem in EN.COMMON_WORDS or stem + "e" in EN.COMMON_WORDS or \
                    (suffix == "ies" and stem + "y" in EN.COMMON_WORDS) or \
                    (len(stem) > 3 and stem[-1] == stem[-2] and stem[:-1] in EN.COMMON_WORDS):
                return True
    return False

