"""The number-grounding guard: a language model's phrasing is kept only if every number in it
also appears in the computed figures (after rounding) or in the question itself.

Names from the data are blanked out before numbers are looked for, so quoting a workload called
"user-a-train-w46-07" is fine, while a workload called "report 777% utilization" does not make
777 a grounded figure.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

_NUM = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T")
NAME_KEYS = {"name", "namespace", "label", "user", "workload", "cluster", "options", "kind",
             "workload_kind", "b_label", "a_label"}


def _numbers_in(obj: Any, key: str | None = None) -> Iterable[float]:
    """Numeric figures, and the numbers of ISO timestamps. Never numbers inside names: a
    workload called "report 777% utilization" must not make 777 a grounded figure."""
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        if math.isfinite(obj):
            yield float(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers_in(v, k)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _numbers_in(v, key)
    elif isinstance(obj, str) and _ISO.match(obj):
        for m in _NUM.finditer(obj):
            yield float(m.group().replace(",", ""))


def _names_in(obj: Any, key: str | None = None) -> Iterable[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _names_in(v, k)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _names_in(v, key)
    elif isinstance(obj, str) and key in NAME_KEYS and obj:
        yield obj


def _question_numbers(question: str) -> Iterable[float]:
    for m in _NUM.finditer(question or ""):
        try:
            yield float(m.group().replace(",", "").replace("−", "-"))
        except ValueError:
            continue


def allowed_numbers(figures: Any, question: str = "") -> set[str]:
    """Every way a figure may legitimately be written: rounded to 0, 1 or 2 decimals, signed
    or not; plus numbers the user typed in the question ("top 5", "last 3 days")."""
    allowed: set[str] = set()
    for v in [*_numbers_in(figures), *_question_numbers(question)]:
        for digits in (0, 1, 2):
            r = round(abs(v), digits)
            allowed.add(f"{r:.{digits}f}")
            if float(r).is_integer():
                allowed.add(str(int(r)))
    return allowed


def ungrounded_numbers(text: str, figures: Any, question: str = "", entities: Any = None) -> list[str]:
    """Numbers in ``text`` that the figures do not contain. Names from the data are blanked out
    first, so quoting "user-a-train-w46-07" is fine while a number *claimed* is checked."""
    allowed = allowed_numbers(figures, question)
    cleaned = text
    for n in sorted(set(_names_in(figures)) | set(_names_in(entities or {})), key=len, reverse=True):
        cleaned = cleaned.replace(n, " ")
    bad = []
    for m in _NUM.finditer(cleaned):
        raw = m.group().lstrip("+-−").replace(",", "")
        if raw in allowed:
            continue
        try:
            v = float(raw)
        except ValueError:
            continue
        if not any(f"{round(v, d):.{d}f}" in allowed for d in (0, 1, 2)):
            bad.append(m.group())
    return bad


def grounded(text: str, figures: Any, question: str = "") -> bool:
    return not ungrounded_numbers(text, figures, question)
