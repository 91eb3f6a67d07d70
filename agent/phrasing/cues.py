"""The cue words of a phrasing, for the grounding guard: where clauses end, which words give a
number a direction, which words point at a level or at the size of a change, and which words
claim to be names. English and Chinese; offsets are into the text ``agent.phrasing.scan``
normalized (and blanked).

* ``clauses`` — sentences, and their parts between commas, semicolons, dashes and "and/but/
  while" (而/但): a direction word speaks of the numbers of its own clause.
* ``directions`` — rose/fell/up/down/higher/lower/gained/lost/improved/dropped …,
  上升/下降/增加/减少/提高/降低/升/降 …, with their sign; negated ones ("did not fall", 没有下降)
  are left out, as are "up to" (a bound) and 新增 ("newly added").
* ``tokens_between`` — words, numbers and CJK characters between two offsets (the association
  window is counted in these).
* ``word_before`` / ``marker_before`` — "fell **to** 61.4%" / "降**至**61.4%" point at a level,
  "fell **by** 16.7" / "下降**了**16.7" at the size of the change.
* ``candidates`` — words that claim to be names: Kubernetes-shaped tokens (lowercase with ``-`` or
  ``_``: ``crypto-miner-x``, ``user_zed``), a token right after a kind word ("workload X",
  "任务X"), quoted text; ordinary hyphenated English ("week-over-week", "7-day") is not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.lazy_re import lazy
from agent.phrasing.scan import EN_ONES, EN_TENS


# -- clauses, direction words, distances -----------------------------------------------------------
_CLAUSE_BREAK = lazy(r"[!?;。！？；，、\n—]|\.(?!\d)|(?<!\d),|,(?!\d{3}(?!\d))"
                     r"|\b(?:and|but|while|whereas|although|though)\b|而|但|同时", re.I)


def clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause: sentences, and their parts between commas, semicolons,
    dashes and conjunctions (a thousands separator is not a comma, a decimal point no full stop)."""
    out, start = [], 0
    for m in _CLAUSE_BREAK.finditer(text):
        if m.start() > start:
            out.append((start, m.start()))
        start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return out


@dataclass(frozen=True)
class Direction:
    start: int
    end: int
    word: str
    sign: int  # +1 up, -1 down


UP_EN = ("rose rise rises rising risen increase increased increases increasing up higher gain "
         "gained gains improved improve improves improvement grew grow grows growth climbed "
         "climb climbs jumped jump jumps surged surge soared spiked uptick upturn rebounded "
         "recovered expanded raised boosted").split()
DOWN_EN = ("fell fall falls falling fallen decrease decreased decreases decreasing down lower "
           "lost lose loses loss dropped drop drops dropping declined decline declines declining "
           "slipped slid sank shrank shrunk dipped dip reduced reduction plunged plummeted "
           "tumbled slumped slump downturn worsened contracted cut slashed sagged minus").split()
UP_ZH = "上升 增加 提高 增长 上涨 提升 升高 走高 回升 高出 多出 拉高 飙升 激增 反弹 增 升 涨".split()
DOWN_ZH = "下降 减少 降低 下滑 回落 下跌 走低 缩减 拉低 拖累 骤降 暴跌 下挫 缩水 减 降 跌".split()
_DIR_EN = lazy(r"\b(" + "|".join(sorted(UP_EN + DOWN_EN, key=len, reverse=True)) + r")\b",
               re.I)
_DIR_ZH = lazy("|".join(sorted(UP_ZH + DOWN_ZH, key=len, reverse=True))
               + r"|[高低](?=[了出]?\s*[-+−]?\d)|负(?=\s*[\d零一二三四五六七八九十])")
_NEGATION = lazy(r"(?:\b(?:not|never|no)\b|n't|没有|没|未|并未|不)\s*(?:[A-Za-z]+\s+)?$", re.I)


def directions(text: str) -> list[Direction]:
    """Direction words that are not negated ("did not fall" says nothing checkable), not
    "up to" (a bound), not 新增 ("newly added")."""
    out = []
    for m in [*_DIR_EN.finditer(text), *_DIR_ZH.finditer(text)]:
        word = m.group()
        low = word.lower()
        if low == "up" and re.match(r"\s+to\b", text[m.end():]):
            continue
        if word == "增" and text[max(0, m.start() - 1):m.start()] == "新":
            continue
        if _NEGATION.search(text[max(0, m.start() - 12):m.start()]):
            continue
        sign = 1 if (low in UP_EN or word in UP_ZH or word == "高") else -1  # 低, 负: down
        out.append(Direction(m.start(), m.end(), word, sign))
    return sorted(out, key=lambda d: d.start)


_TOKEN = lazy(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*|[\u3400-\u9fff\uf900-\ufaff]")


def tokens_between(text: str, a: int, b: int) -> int:
    """How many words, numbers and CJK characters lie between offsets ``a`` and ``b``."""
    return len(_TOKEN.findall(text[a:b])) if b > a else 0


LEVEL_MARKERS = {"to", "from", "at", "than", "vs", "versus", "is", "was", "were", "are",
                 "averaged", "reached", "hit", "到", "至", "从", "由", "为", "是", "于", "达",
                 "达到", "在"}
FROM_MARKERS = {"from", "从", "由"}
TO_MARKERS = {"to", "到", "至"}
CHANGE_MARKERS = {"by", "了", "幅度"}
HEDGES = {"about", "around", "approximately", "roughly", "nearly", "almost", "just", "only",
          "some", "~", "约", "大约", "近"}
_WORD_BEFORE = lazy(r"([A-Za-z]+|达到|大约|幅度|[\u3400-\u9fff~])\s*$")


def word_before(text: str, start: int) -> str | None:
    """The word right before offset ``start``, past hedges ("about", "约") and a 了 that follows
    a level marker ("降到了61.4%" -> "到"); a 了 after a verb stays "了" ("下降了16.7")."""
    head = text[max(0, start - 40):start]
    for _ in range(4):
        m = _WORD_BEFORE.search(head)
        if not m:
            return None
        word = m.group(1).lower()
        before = head[:m.start()].rstrip()
        if word in HEDGES or (word == "了" and before.endswith(tuple(LEVEL_MARKERS))):
            head = before
            continue
        return word
    return None


def marker_before(text: str, start: int) -> str | None:
    """"level" when the number is a level the words point at ("fell to 61.4%", "降至61.4%"),
    "change" when it is the size of the change ("fell by 16.7", "下降了16.7"), else None."""
    word = word_before(text, start)
    return "level" if word in LEVEL_MARKERS else "change" if word in CHANGE_MARKERS else None


# -- names -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    text: str
    why: str  # shape | kind-word | quoted


KIND_WORDS_EN = r"namespace|workload|user|cluster|deployment|notebook|job|pod"
_SHAPED = lazy(r"(?<![A-Za-z0-9_.-])[a-z0-9]+(?:[-_.][a-z0-9]+)*[-_][a-z0-9]+"
               r"(?:[-_.][a-z0-9]+)*(?![A-Za-z0-9_-])")
_AFTER_KIND_EN = lazy(r"\b(?i:" + KIND_WORDS_EN + r")\s+([a-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]"
                      r"|[a-z0-9])(?![A-Za-z0-9_-])")
_AFTER_KIND_ZH = lazy(r"(?:命名空间|任务|用户|集群|工作负载|作业)\s*[“\"'‘「]?"
                      r"([A-Za-z0-9][A-Za-z0-9_.-]*)")
_QUOTED = lazy(r"[\"“「『`‘]([^\"”」』`’\n]{1,120})[\"”」』`’]"
               r"|(?<![A-Za-z0-9])'([^'\n]{1,120})'(?![A-Za-z0-9])")
KIND_WORD = lazy(r"(?:\b(?i:" + KIND_WORDS_EN + r")|命名空间|任务|用户|集群|工作负载)\s*[“\"'‘「]?$")
# English words that follow a kind word and are not names ("the namespace was", "user growth")
STOP_AFTER_KIND = set("""a an the this that these those its their his her our of in on at to for
from by with and or but is was were are be been has had have as than then it which who whose
what when where while if so also alone only each every all any both either more most less least
name names level levels count counts utilization usage share totals total data hours gpu gpus
list lists side view kind kinds type types owner owners group groups""".split())
PERIOD_WORDS = lazy(r"(?:last|this|next|past)-(?:week|month|day|\d+[dhw])")
# ordinary hyphenated English: a function word or a prefix in it ("week-over-week", "re-run",
# "under-used"), a number with a unit ("7-day", "top-5"), or one of a few common compounds
FUNCTION_PARTS = set("""over of to the in on by for and a an per vs up down out off at non re co
pre post sub multi self semi mid under well""".split())
NUMBER_PARTS = set("""day days hour hours week weeks month months year years point points fold x
gpu gpus node nodes pp percent top""".split()) | set(EN_ONES) | set(EN_TENS)
COMPOUNDS = set("""follow-up built-in on-demand gpu-hours gpu-hour idle-gpu-hours x-axis y-axis
e-mail rule-based short-lived long-running long-lived high-utilization low-utilization
real-time full-time part-time half-empty top-level one-off""".split())


def candidates(text: str) -> list[Candidate]:
    """Words the text presents as names of things: each must be a real name (the guard checks).
    Ordinary hyphenated English is not one; its digits ("7-day") stay numbers to check."""
    out: list[Candidate] = []
    for m in _SHAPED.finditer(text):
        word = m.group()
        if re.search(r"[a-z]", word) and not english_compound(word):
            out.append(Candidate(m.start(), m.end(), word, "shape"))
    for rx in (_AFTER_KIND_EN, _AFTER_KIND_ZH):
        for m in rx.finditer(text):
            word = m.group(1).rstrip(".")
            if not re.search(r"[a-z]", word):
                continue
            if rx is _AFTER_KIND_EN and (word.lower() in STOP_AFTER_KIND or
                                         re.search(r"(?:ed|ing|ly)$", word)):
                continue
            out.append(Candidate(m.start(1), m.start(1) + len(word), word, "kind-word"))
    for m in _QUOTED.finditer(text):
        g = 1 if m.group(1) is not None else 2
        word = m.group(g).strip()
        if word and re.search(r"[^\W_]", word):
            out.append(Candidate(m.start(g), m.end(g), word, "quoted"))
    return out


def english_compound(word: str) -> bool:
    if word in COMPOUNDS or PERIOD_WORDS.fullmatch(word):
        return True
    if "_" in word or "." in word:
        return False
    parts = word.split("-")
    words = [p for p in parts if not p.isdigit()]
    if len(words) < len(parts):  # "7-day", "top-5": every word part must be ordinary
        return bool(words) and all(p in NUMBER_PARTS for p in words)
    return all(p in NUMBER_PARTS for p in words) or any(p in FUNCTION_PARTS for p in words)
