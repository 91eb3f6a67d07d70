"""The fields every schedule file has, whatever its kind (a digest in ``schedules.py``, a nudge
in ``nudges/schedule.py``): its name and its time zone, checked once here so both kinds refuse
the same values with the same words."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_name(v: str) -> str:
    if len(v) > 52 or not NAME_RE.match(v):
        raise ValueError("must be lowercase letters, digits and '-', at most 52 characters "
                         "(it names files and Kubernetes CronJobs)")
    return v


def check_timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r} (use an IANA name such as "
                         f"'Europe/Berlin' or 'UTC')") from None
    return v


ScheduleName = Annotated[str, AfterValidator(check_name)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
