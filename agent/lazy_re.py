"""Regular expressions compiled on first use, for modules whose patterns most runs never touch.

The grounding guard (``agent.phrasing.scan``, ``cues``, ``grounds``, ``guard``) holds a few
dozen large patterns (number words, dates, direction words) that only an LLM's phrasing is
checked against; compiling them at import cost every rule-path ``gpureport ask`` ~10 ms of
start-up. ``lazy(pattern, flags)`` stands in for ``re.compile`` there: the pattern is compiled
the first time one of its attributes (``search``, ``finditer``, ``pattern``…) is read, then
kept.
"""

from __future__ import annotations

import re
import threading
from typing import Any

_lock = threading.Lock()


class LazyPattern:
    __slots__ = ("_source", "_flags", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source, self._flags = pattern, flags
        self._compiled: re.Pattern | None = None

    def compiled(self) -> re.Pattern:
        if self._compiled is None:
            with _lock:
                if self._compiled is None:
                    self._compiled = re.compile(self._source, self._flags)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled(), name)

    def __repr__(self) -> str:
        return f"lazy({self._source!r})"


def lazy(pattern: str, flags: int = 0) -> LazyPattern:
    """A pattern like ``re.compile(pattern, flags)``, compiled when first used."""
    return LazyPattern(pattern, flags)


__all__ = ["LazyPattern", "lazy"]
