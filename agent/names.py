"""The one "did you mean": match a name someone typed against the real names, or suggest some.

Used wherever a person names something that must exist: entities in a question (clusters,
namespaces, users, workloads, label keys), ``--cluster``/``--namespace`` of a report, a
cluster a source does not know, a schedule name on the command line.

Matching goes from strict to loose, and only the strict steps *resolve* a name:

1. exact (``ml-team``);
2. case-insensitive (``ML-Team``);
3. separator-insensitive (``cvteam``, ``nlp_team``, ``"data eng"``): the same letters and
   digits in the same order, ignoring case and ``- _ . / space``. This is not a guess — no two
   real names differ only in punctuation — so it resolves, but only when exactly one name fits;
4. fuzzy (rapidfuzz ``fuzz.ratio`` over the separator-free forms): never resolves, only
   suggests. A typo such as ``ml-teem`` must be confirmed by the person ("did you mean
   ml-team?"): silently answering about another team would be worse than asking.

Suggestions are the names scoring at least ``cutoff`` (default 60), at most three, and no more
than 15 points behind the best one, so a clear winner is not diluted by distant names.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Sequence

SUGGEST_CUTOFF = 60.0
MAX_SUGGESTIONS = 3
_SPREAD = 15.0
_STRIP = "'\"“”‘’`「」『』《》 \t"
_SEP = re.compile(r"[\s\-_./]+")


def lookup_prefix(word: str, n: int = 4) -> str:
    """The beginning a lookup by prefix starts from: the first ``n`` letters/digits of the
    lower-cased word's first run of them (``"ResNet_trian"`` -> ``"resn"``), so separator
    variants and typos after it are still found and scored; the word's start otherwise."""
    low = word.lower()
    run = re.match(r"[^\W_]+", low)
    return (run.group(0) if run else low)[:n]


def normalize(name: str) -> str:
    """Case- and separator-free form used for step 3 and for fuzzy scores."""
    return _SEP.sub("", name.casefold())


def clean(text: str) -> str:
    """Strip quotes and a possessive ending from a mention (``'ml-team's'`` -> ``ml-team``)."""
    t = text.strip(_STRIP)
    t = re.sub(r"(?:'|’)s?$", "", t)
    return t.strip(_STRIP)


class NameIndex:
    """The names of one kind, indexed for steps 1–3 and scored for step 4.

    Built once per question so that scanning a long question does not re-normalize every
    real name for every word.
    """

    def __init__(self, options: Iterable[str]):
        self.names: list[str] = list(dict.fromkeys(o for o in options if o))
        self._exact = set(self.names)
        self._folded: dict[str, list[str]] = {}
        self._norm: dict[str, list[str]] = {}
        self._choices: dict[str, str] = {}
        for o in self.names:
            n = normalize(o)
            self._choices[o] = n
            self._folded.setdefault(o.casefold(), []).append(o)
            self._norm.setdefault(n, []).append(o)

    @staticmethod
    def of(options: Sequence[str]) -> "NameIndex":
        """A shared index for this exact list of names (metadata is the same for every question
        of a run, so a long workload list is indexed once, not per question)."""
        return _cached_index(tuple(options))

    def match(self, text: str) -> str | None:
        """Steps 1–3 only: the real name ``text`` denotes, or None."""
        t = clean(text)
        if not t:
            return None
        if t in self._exact:
            return t
        ci = self._folded.get(t.casefold(), [])
        if len(ci) == 1:
            return ci[0]
        if ci:  # names that differ only in case: only the exact spelling decides
            return None
        n = normalize(t)
        same = self._norm.get(n, []) if n else []
        return same[0] if len(same) == 1 else None

    def suggest(self, text: str, cutoff: float = SUGGEST_CUTOFF) -> list[tuple[str, float]]:
        """Near names with their 0–100 score, best first.

        Ties (``gpu-weast`` is as close to gpu-east as to gpu-west) go to the name sharing the
        longer beginning (Jaro–Winkler), since people rarely mistype the start of a name.
        """
        from rapidfuzz import fuzz, process  # only for a name that did not match
        from rapidfuzz.distance import JaroWinkler

        n = normalize(clean(text))
        if not n or not self._choices:
            return []
        hits = process.extract(n, self._choices, scorer=fuzz.ratio, score_cutoff=cutoff,
                               limit=MAX_SUGGESTIONS + 5)
        ranked = sorted(((key, float(score)) for _norm, score, key in hits),
                        key=lambda h: (-round(h[1], 6), -JaroWinkler.similarity(n, self._choices[h[0]]),
                                       h[0]))
        if not ranked:
            return []
        best = ranked[0][1]
        return [h for h in ranked if h[1] >= best - _SPREAD][:MAX_SUGGESTIONS]


@lru_cache(maxsize=32)
def _cached_index(options: tuple[str, ...]) -> NameIndex:
    return NameIndex(options)


def resolve_name(text: str, options: Sequence[str]) -> tuple[str | None, list[str]]:
    """``(real name, [])`` when ``text`` denotes one; else ``(None, closest real names)``.

    >>> resolve_name("ML-Team", ["ml-team", "cv-team"])
    ('ml-team', [])
    >>> resolve_name("ml-teem", ["ml-team", "cv-team"])
    (None, ['ml-team'])
    """
    index = NameIndex.of(options)
    match = index.match(text)
    if match is not None:
        return match, []
    return None, [name for name, _ in index.suggest(text)]


def suggestions(text: str, options: Iterable[str]) -> list[str]:
    """The closest real names for ``text`` (at most three, best first), for "did you mean"."""
    return [name for name, _ in NameIndex.of(list(options)).suggest(text)]
