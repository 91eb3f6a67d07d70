"""Reading a rule file: which file applies, and one line that names the file, the field and
the reason when it is wrong (``RulesError``): ``alerts.yaml: rules[1] (gpu-idle).min_gpus:
Input should be greater than 0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent.errors import RulesError
from reporter.alerts.models import RULE_KINDS, AlertsFile
from reporter.yamlfile import read_yaml

if TYPE_CHECKING:  # pragma: no cover
    from reporter.config import Config


def _loc(loc: tuple, data: Any) -> str:
    """Pydantic's location -> ``rules[0] (idle-gpus).min_gpus``.

    A discriminated union inserts its tag (``'idle-gpus'``, ``'webhook'``) into the location
    after the list index / mapping key; it is dropped, and a rule's name is shown instead.
    """
    tags = set(RULE_KINDS) | {"email", "webhook", "alertmanager"}
    out, node, skip_tag = "", data, False
    for part in loc:
        if skip_tag and isinstance(part, str) and part in tags:
            skip_tag = False
            continue
        skip_tag = False
        if isinstance(part, int):
            label = ""
            if out == "rules" and isinstance(node, list) and 0 <= part < len(node) \
                    and isinstance(node[part], dict) and isinstance(node[part].get("name"), str):
                label = f" ({node[part]['name']})"
            out += f"[{part}]{label}"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            skip_tag = True
            continue
        key = "for" if part == "for_" else str(part)
        skip_tag = out == "channels"
        out += ("." if out else "") + key
        node = node.get(key) if isinstance(node, dict) else None
    return out


def _reason(err: dict) -> str:
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err["type"] == "union_tag_invalid":
        ctx = err.get("ctx") or {}
        tag = ctx.get("tag")
        expected = ctx.get("expected_tags", "")
        what = str(ctx.get("discriminator", "kind")).strip("'")
        msg = f"unknown {what} {tag!r} (known: {expected})"
    elif err["type"] == "union_tag_not_found":
        msg = f"missing {(err.get('ctx') or {}).get('discriminator', 'kind').strip(chr(39))}"
    elif err["type"] == "extra_forbidden":
        msg = "unknown field"
    return msg


def parse_rules(data: Any, source: str = "<alerts>") -> AlertsFile:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping with defaults, channels, rules")
    try:
        return AlertsFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _loc(tuple(err["loc"]), data)
        reason = _reason(err)
        # model-level checks name their field themselves ("rules[1] (x).channels: ...")
        raise RulesError(f"{source}: {where}: {reason}" if where else f"{source}: {reason}") \
            from None


def load_rules(path: str | Path) -> AlertsFile:
    """Read and validate one rule file; ``RulesError`` names the file, the field and why."""
    p = Path(path)
    data = read_yaml(p, RulesError)
    return parse_rules(data, str(p))


def shipped_rules_file() -> Path | None:
    pkg = Path(__file__).resolve().parent.parent
    for candidate in (pkg / "_data" / "schedules" / "alerts.yaml",
                      pkg.parent / "schedules" / "alerts.yaml"):
        if candidate.is_file():
            return candidate
    return None


def rules_path(explicit: str | None = None, config: "Config | None" = None) -> Path:
    """Which rule file applies: ``--rules``, else config ``alerts_file``, else
    ``alerts.yaml``/``alerts.yml`` in ``schedules_dir`` (the ConfigMap), else the shipped one."""
    if explicit:
        return Path(explicit).expanduser()
    if config is not None and config.alerts_file:
        return Path(config.alerts_file).expanduser()
    if config is not None and config.schedules_dir:
        for name in ("alerts.yaml", "alerts.yml"):
            p = Path(config.schedules_dir).expanduser() / name
            if p.is_file():
                return p
    shipped = shipped_rules_file()
    if shipped is None:
        raise RulesError("no alert rule file: set alerts_file in the config")
    return shipped


__all__ = ["parse_rules", "load_rules", "rules_path", "shipped_rules_file"]
