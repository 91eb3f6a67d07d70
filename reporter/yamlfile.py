"""Reading the YAML files users write (config, schedules, alert rules) with useful errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_yaml(path: Path, error: type[Exception]) -> Any:
    """Parse ``path``; unreadable or malformed YAML raises ``error`` naming the file and line."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark else ""
        raise error(f"{path}:{where} not valid YAML "
                    f"({getattr(exc, 'problem', None) or exc})") from None
