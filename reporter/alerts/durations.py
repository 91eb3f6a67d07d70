"""Durations in rule files: ``90s``, ``15m``, ``4h``, ``1d``, ``1h30m`` or a number of seconds.

Parsed into ``timedelta`` when a rule file is validated (``Duration`` fields), and written back
short (``1d4h``) in alert texts and ``alerts list``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, field_validator

_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``15m``, ``4h``, ``1d``, ``1h30m`` or a number of seconds -> ``timedelta``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 4h or 1d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    text = str(value).strip().lower()
    m = _DURATION_RE.match(text)
    if not text or not m or not any(m.groups()):
        raise ValueError(f"{value!r} is not a duration (use e.g. 30m, 4h, 1d, 1h30m)")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


def format_duration(td: timedelta) -> str:
    """``timedelta`` -> ``1d4h``, ``2h30m``, ``45m``, ``0s`` (for messages and ``alerts list``)."""
    total = int(td.total_seconds())
    if total <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts[:2])


Duration = Annotated[timedelta, Field(json_schema_extra={"format": "duration"})]


def duration_validator(*fields: str):
    """A Pydantic ``before`` validator that parses ``fields`` as durations (None stays None)."""
    return field_validator(*fields, mode="before")(lambda cls, v: parse_duration(v)
                                                   if v is not None else v)


__all__ = ["Duration", "parse_duration", "format_duration", "duration_validator"]
