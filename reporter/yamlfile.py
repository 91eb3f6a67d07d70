"""Reading the YAML files users write (config, schedules, alert rules) with useful errors.

Every way such a file can be unusable becomes the caller's ``ConfigError`` subclass with one
line that names the file: unreadable (permissions, a directory), not UTF-8 (with the byte
offset: an editor saved it as Latin-1 or UTF-16), not YAML (with the line). ``describe`` says
what a value is when a mapping or a string was expected instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_yaml(path: Path, error: type[Exception]) -> Any:
    """Parse ``path``; unreadable or malformed YAML raises ``error`` naming the file and line."""
    import yaml

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise error(f"{path}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                    f"offset {exc.start}); save the file as UTF-8") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise error(f"{path}:{where} not valid YAML ({problem})") from None


def describe(value: Any) -> str:
    """``a list``, ``the number 5``, ``the text 'abc'`` — what a YAML value turned out to be."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (null)"
    return f"a {type(value).__name__}"


__all__ = ["read_yaml", "describe"]
