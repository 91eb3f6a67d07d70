"""Preparing a question for the rule parser: one normal form, and positions that stay put.

Every later pass (periods, labels, names, cues) finds something, then *blanks* it out with
spaces so the next pass does not misread it. That only works if every transformation here keeps
the length of the text, so that a position found in the lower-cased text is the same position
in the original (whose spelling a name keeps).

Decisions:

* Only the first ``MAX_SCAN`` (2,000) characters are read: a 10,000-character paste costs the
  same as a long question, and nothing beyond the limit can change the answer.
* NFKC turns full-width letters, digits and punctuation (common in Chinese input methods) into
  ASCII, so ``ｍｌ－ｔｅａｍ`` is ``ml-team`` and ``７天`` is ``7天``.
* Terminal escape sequences and control characters are removed first (``agent.text.printable``;
  line breaks and tabs become spaces): a name pasted with its colour codes, ``ml-<ESC>[31mteam``,
  is read as ``ml-team`` instead of splitting into words that match nothing and are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from agent.text import printable

MAX_SCAN = 2000

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> Literal["en", "zh"]:
    """``zh`` when the text holds any CJK ideograph, else ``en``."""
    return "zh" if _CJK.search(text or "") else "en"


def prepare(question: str) -> str:
    """No control characters, NFKC (full-width letters, digits and punctuation -> ASCII),
    typographic apostrophes."""
    text = unicodedata.normalize("NFKC", printable(question[:MAX_SCAN]))
    return text.replace("’", "'").replace("‘", "'").replace("\u00a0", " ")


def lower(text: str) -> str:
    """Lower-case without changing length (so positions agree with the original)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def blank(text: str, start: int, end: int) -> str:
    """``text`` with ``[start, end)`` replaced by spaces: consumed, but positions unchanged."""
    return text[:start] + " " * (end - start) + text[end:]


def clean_low(text: str) -> str:
    """A word as compared with word lists: no surrounding blanks or quotes, lower case."""
    return text.strip().strip("'\"").lower()
