"""Durations in schedule and rule files: ``90s``, ``15m``, ``4h``, ``1d``, ``1h30m``, ``0``.

One syntax for every file that takes a duration — the alert rules (``for``, ``repeat_interval``,
``stale_after``, ``window``, ``max_age``, ``alert_ttl``) and the nudge schedules
(``repeat_after``, ``stale_after``) — parsed into ``timedelta`` when the file is validated, and
written back short (``1d4h``) in alert texts and ``alerts list``.

Decision on bare numbers: a bare ``0`` is zero (``for: 0``, "fire at the first check"); any
other bare number is refused with a one-line error asking for a unit. ``repeat_after: 24``
could mean hours or seconds, and read as seconds it would turn a daily reminder into one every
run; Prometheus and Alertmanager ask for a unit for the same reason. (Alert rule files used to
read a bare number as seconds; a file that relied on it now fails when loaded, naming the
field, rather than behaving differently.)
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, field_validator

_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_NUMBER_RE = re.compile(r"^[+-]?\d+(?:\.\d*)?$")


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``15m``, ``4h``, ``1d``, ``1h30m`` or a bare ``0`` -> ``timedelta``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 4h or 1d")
    text = str(value).strip().lower()
    if isinstance(value, (int, float)) or _NUMBER_RE.match(text):
        if float(text) == 0:
            return timedelta(0)
        raise ValueError(f"{value!r} has no unit (write e.g. {text}s, {text}m or {text}h)")
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
