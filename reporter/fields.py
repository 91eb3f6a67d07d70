"""Field types that the files people write share — config, schedule files of every kind, alert
rules — checked once here so each file refuses the same values with the same words:

* ``ScheduleName`` / ``TimeZoneName``: a schedule's name and time zone (a digest in
  ``schedules.py``, a nudge in ``nudges/schedule.py``);
* ``OneOrMany[T]``: a list that may be written as one value (``recipients: a@x.org`` is
  ``[a@x.org]``). Only a single *string* is wrapped; a list stays as it is, and anything else
  (``None``, a number, a mapping) is left to the list type to refuse — so ``None`` is an error
  unless the field says ``OneOrMany[str] | None``, and an empty list is empty.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
T = TypeVar("T")


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


def one_or_many(v: Any) -> Any:
    """A single string as a one-item list; everything else unchanged (the list type judges)."""
    return [v] if isinstance(v, str) else v


ScheduleName = Annotated[str, AfterValidator(check_name)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
OneOrMany = Annotated[list[T], BeforeValidator(one_or_many)]
