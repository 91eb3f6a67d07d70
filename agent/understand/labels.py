"""Label and annotation filters in a question: ``team=nlp``, ``label team: nlp``,
``annotation primus-safe.user.name=alice``, ``标签 team=ml``.

The key is looked up among the label keys the source lists, under the type the marker word
asks for first ("annotation ..." prefers annotation keys); the value among that key's values.
Only the keys named in the question have their values fetched. An unknown key or value is an
``Issue("unknown", "label", ...)`` with the closest real ``key=value`` pairs as suggestions;
a key whose values the source cannot list takes the value as written.

``key: value`` without a marker word is not a label ("note: ml-team" is prose).
"""

from __future__ import annotations

import re

from agent.names import NameIndex
from agent.understand.mentions import Mention, typed_quote_spans
from agent.understand.model import Issue, Names
from agent.understand.text import blank

LABEL = re.compile(r"(?:(?P<marker>labels?|annotations?|标签|注解)\s*[:：]?\s*)?"
                   r"(?P<key>[A-Za-z][A-Za-z0-9_.\-/]*)\s*(?P<op>==?|:)\s*"
                   r"['\"“]?(?P<value>[A-Za-z0-9_.\-/@]+)['\"”]?", re.IGNORECASE)


def read_labels(text: str, names: Names) -> tuple[str, list[Mention], list[Issue]]:
    """(``text`` with the label phrases blanked, the labels found, the issues raised)."""
    mentions: list[Mention] = []
    issues: list[Issue] = []
    quoted = typed_quote_spans(text)
    for m in LABEL.finditer(text):
        marker, key, op, value = m["marker"], m["key"], m["op"], m["value"]
        if op == ":" and not marker:
            continue
        if any(start < m.end() and m.start() < end for start, end in quoted):
            continue  # part of a quoted name ("namespace 'a=b'")
        found = _label_key(names, key, (marker or "").lower())
        text = blank(text, *m.span())
        if found is None:
            keys = [k for ks in names.label_keys.values() for k in ks]
            sugg = [f"{k}={value}" for k, _ in NameIndex.of(keys).suggest(key)]
            issues.append(Issue("unknown", "label", f"{key}={value}", sugg))
            continue
        ltype, real_key = found
        values = names.values_of(ltype, real_key)
        real_value = value
        if values:
            idx = NameIndex.of(values)
            real_value = idx.match(value)
            if real_value is None:
                sugg = [f"{real_key}={v}" for v, _ in idx.suggest(value)]
                issues.append(Issue("unknown", "label", f"{real_key}={value}", sugg))
                continue
        mentions.append(Mention("label", f"{real_key}={real_value}", m.start(), ltype,
                                real_key, real_value))
    return text, mentions, issues


def _label_key(names: Names, key: str, marker: str) -> tuple[str, str] | None:
    types = list(names.label_keys.items())
    if marker.startswith("annotation") or marker == "注解":
        types.sort(key=lambda t: t[0] != "annotation")
    for ltype, keys in types:
        real = NameIndex.of(keys).match(key)
        if real is not None:
            return ltype, real
    return None


def label_key_in(names: Names, words: list[str]) -> tuple[str, str] | None:
    """The first of ``words`` that is a real label key, as (label type, key)."""
    for word in words:
        for ltype, keys in names.label_keys.items():
            real = NameIndex.of(keys).match(word)
            if real is not None:
                return ltype, real
    return None
