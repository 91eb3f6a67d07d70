"""What a rule evaluation produces: findings (alert instances whose condition holds now) and
their identity (``fingerprint``), plus the ``gpureport ask`` command each one suggests.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass, field
from typing import Any


def fingerprint(rule_name: str, labels: dict[str, str]) -> str:
    """sha256 over the rule name and the identity labels, sorted: stable across runs/hosts."""
    payload = json.dumps([rule_name, sorted((str(k), str(v)) for k, v in labels.items())],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class Finding:
    """One alert instance whose condition holds now. ``labels`` identify it (cluster,
    namespace, workload); ``figures`` carry full precision; texts round for display."""

    rule: str
    kind: str
    severity: str
    labels: dict[str, str]
    value: float | None
    figures: dict[str, Any]
    summary: str
    description: str
    drilldown: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule, self.labels)

    def annotations(self) -> dict[str, Any]:
        return {"summary": self.summary, "description": self.description,
                "drilldown": self.drilldown, "kind": self.kind, "figures": self.figures}


@dataclass
class Evaluation:
    """What one rule found. ``covered``: clusters whose state this evaluation decides (an
    instance there that is not among ``findings`` resolves); ``skipped``: cluster -> why not."""

    rule: str
    findings: list[Finding] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)
    skipped: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def shell_quote(text: str) -> str:
    """Quote for a POSIX shell; readable double quotes for an apostrophe ("ml-team's"), and
    ``shlex.quote`` whenever the text holds anything a double-quoted string would expand."""
    if "'" in text and not any(c in text for c in '"$`\\!'):
        return f'"{text}"'
    return shlex.quote(text)


def ask_command(question: str, cluster: str | None) -> str:
    """The drill-down command; names come from the data, so every argument is quoted."""
    cmd = f"gpureport ask {shell_quote(question)}"
    return cmd + (f" --cluster {shell_quote(cluster)}" if cluster else "")


def gpus_text(x: float) -> str:
    """A GPU count: 8 not 8.0, 7.5 stays."""
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


__all__ = ["Finding", "Evaluation", "fingerprint", "shell_quote", "ask_command", "gpus_text"]
