"""The ``alerts.yaml`` models: defaults, channels, rules (one class per kind), the check cron.

A rule file has four parts: ``defaults`` (repeat interval, channels, staleness limit),
``channels`` (named email / webhook / alertmanager targets), ``rules`` (one kind each; what
each tests is in ``reporter.alerts.evaluators``) and an optional ``check`` (a cron on which
``gpureport scheduler run`` runs ``alerts check``). Every value is validated by Pydantic when
the file is loaded (``reporter.alerts.loading``).

Scopes: ``clusters`` and ``namespaces`` take ``include``/``exclude`` lists of shell-style
patterns (``ml-*``); a plain list means ``include``; empty ``include`` = everything. A
``namespaces`` scope is only meaningful (and only allowed) for ``idle-gpus``,
``namespace-drop`` and ``anomaly``.

Channels: a rule names at most one channel of each type, because the notification history
(``alert_notifications``) is keyed by alert fingerprint and channel *type*; one email channel
takes any number of recipients.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal, Union, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.text import mask_url
from reporter.cron import cron_trigger
from reporter.durations import Duration, duration_validator
from reporter.fields import OneOrMany

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str) -> str:
    """``${NAME}`` -> the environment variable (secrets such as webhook tokens live there)."""
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in os.environ or not os.environ[name]:
            raise ValueError(f"environment variable {name} is not set")
        return os.environ[name]

    return _ENV_RE.sub(sub, value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Selector(_Model):
    """``include``/``exclude`` shell patterns; empty ``include`` selects everything."""

    include: OneOrMany[str] = Field(default_factory=list)
    exclude: OneOrMany[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"include": [v]}
        if isinstance(v, list):
            return {"include": v}
        return v

    def matches(self, name: str) -> bool:
        if self.include and not any(fnmatchcase(name, p) for p in self.include):
            return False
        return not any(fnmatchcase(name, p) for p in self.exclude)

    def named(self) -> list[str]:
        """Included names without wildcards: clusters the user expects to exist."""
        return [p for p in self.include if not any(c in p for c in "*?[")]


class RuleScope(_Model):
    clusters: Selector = Field(default_factory=Selector)
    namespaces: Selector | None = None


# --------------------------------------------------------------------------------------------
# channels
def _email_list(v: list[str]) -> list[str]:
    from email.utils import parseaddr

    if not v:
        raise ValueError("at least one recipient is required")
    for r in v:
        local, at, domain = parseaddr(r)[1].rpartition("@")
        if "\n" in r or "\r" in r or not at or not local or not domain:
            raise ValueError(f"{r!r} is not an email address")
    return v


class EmailChannel(_Model):
    type: Literal["email"]
    to: OneOrMany[str]
    subject_prefix: str = "[gpureport]"

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return _email_list(v)

    @field_validator("subject_prefix")
    @classmethod
    def _no_newline(cls, v: str) -> str:
        if "\n" in v or "\r" in v:
            raise ValueError("must be one line")
        return v

    def target(self) -> str:
        return ", ".join(self.to)


class _HTTPChannel(_Model):
    url: str
    timeout: float = Field(10.0, gt=0, le=300)
    retries: int = Field(2, ge=0, le=10)
    backoff: float = Field(1.0, ge=0, le=60)

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        v = expand_env(v.strip())
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return v

    def target(self) -> str:
        return mask_url(self.url)

    def __repr__(self) -> str:  # never show the URL (it may carry a token)
        return f"{type(self).__name__}(url={self.target()!r})"

    __str__ = __repr__


class WebhookChannel(_HTTPChannel):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Teams connectors
    that accept Slack payloads)."""

    type: Literal["webhook"]


class AlertmanagerChannel(_HTTPChannel):
    """Prometheus Alertmanager (``url`` = its base, e.g. ``http://alertmanager:9093``).

    ``alert_ttl``: how long after a post Alertmanager keeps the alert active without hearing
    from us again (its ``endsAt``); default twice the rule's repeat interval, at least 1 h.
    """

    type: Literal["alertmanager"]
    alert_ttl: Duration | None = None
    _d = duration_validator("alert_ttl")


Channel = Annotated[Union[EmailChannel, WebhookChannel, AlertmanagerChannel],
                    Field(discriminator="type")]


# --------------------------------------------------------------------------------------------
# rules
class _RuleBase(_Model):
    name: str
    description: str = ""
    enabled: bool = True
    severity: Literal["info", "warning", "critical"] = "warning"
    for_: Duration = Field(timedelta(0), alias="for")
    repeat_interval: Duration | None = None
    channels: OneOrMany[str] | None = None
    scope: RuleScope = Field(default_factory=RuleScope)

    _d = duration_validator("for_", "repeat_interval")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if len(v) > 100 or not NAME_RE.match(v):
            raise ValueError("must be lowercase letters, digits and '-', at most 100 characters")
        return v

    @field_validator("repeat_interval")
    @classmethod
    def _repeat(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v < timedelta(minutes=1):
            raise ValueError("must be at least 1m")
        return v

    @model_validator(mode="after")
    def _namespaces_scope(self) -> "_RuleBase":
        if self.scope.namespaces is not None and self.kind not in ("idle-gpus", "namespace-drop",
                                                                   "anomaly"):
            raise ValueError(f"scope.namespaces: a {self.kind} rule is about whole clusters; "
                             "namespace scopes apply to idle-gpus, namespace-drop and anomaly "
                             "only")
        return self

    kind: str


class IdleGpusRule(_RuleBase):
    """Waste: any workload holding ``min_gpus`` (2 by default: a 4-GPU notebook idle for a
    week is waste too) below ``max_utilization`` in each of the last ``hours`` hours."""

    kind: Literal["idle-gpus"]
    min_gpus: float = Field(2, gt=0)
    max_utilization: float = Field(10.0, gt=0, le=100)
    hours: int = Field(6, ge=1, le=168)


class NamespaceDropRule(_RuleBase):
    kind: Literal["namespace-drop"]
    min_drop_pp: float = Field(10.0, gt=0, le=100)
    min_gpu_hours: float = Field(50.0, ge=0)
    min_share_pct: float | None = Field(None, ge=0, le=100)  # of the cluster's GPU-hours
    min_elapsed_hours: int = Field(24, ge=1, le=167)


class ClusterLowUtilizationRule(_RuleBase):
    kind: Literal["cluster-low-utilization"]
    max_utilization: float = Field(30.0, gt=0, le=100)
    hours: int = Field(24, ge=1, le=24 * 31)
    min_gpu_hours: float = Field(1.0, ge=0)


class AllocationPressureRule(_RuleBase):
    kind: Literal["allocation-pressure"]
    min_allocation_rate: float = Field(95.0, gt=0, le=100)
    hours: int = Field(3, ge=1, le=168)


class AnomalyRule(_RuleBase):
    """An episode of ``agent.anomalies`` still going on at the data end: ``k`` robust standard
    deviations from the same hour of the previous ``weeks`` weeks for ``min_hours`` hours, on
    the cluster's series (``clusters: true``) and its namespaces' (``scope.namespaces``), looked
    for within the last ``window``."""

    kind: Literal["anomaly"]
    k: float = Field(4.0, gt=0, le=50)
    min_hours: int = Field(3, ge=1, le=168)
    weeks: int = Field(4, ge=2, le=12)
    metrics: list[Literal["avg_utilization", "allocated_gpus", "allocation_rate"]] = Field(
        default_factory=lambda: ["avg_utilization", "allocated_gpus"], min_length=1)
    clusters: bool = True  # judge each cluster's own series too (namespaces: scope.namespaces)
    window: Duration = timedelta(days=7)
    _w = duration_validator("window")

    @field_validator("window")
    @classmethod
    def _window(cls, v: timedelta) -> timedelta:
        if not timedelta(hours=1) <= v <= timedelta(days=31):
            raise ValueError("must be between 1h and 31d")
        return v


class StaleDataRule(_RuleBase):
    kind: Literal["stale-data"]
    max_age: Duration = timedelta(hours=2)
    _m = duration_validator("max_age")



# the rule kinds, one model each: the discriminated union a rule file's ``rules`` holds
RULE_MODELS = [IdleGpusRule, NamespaceDropRule, ClusterLowUtilizationRule,
               AllocationPressureRule, StaleDataRule, AnomalyRule]
RULE_KINDS: tuple[str, ...] = tuple(get_args(m.model_fields["kind"].annotation)[0]
                                    for m in RULE_MODELS)
Rule = Annotated[Union[IdleGpusRule, NamespaceDropRule, ClusterLowUtilizationRule,
                       AllocationPressureRule, StaleDataRule, AnomalyRule],
                 Field(discriminator="kind")]
AnyRule = Union[IdleGpusRule, NamespaceDropRule, ClusterLowUtilizationRule,
                AllocationPressureRule, StaleDataRule, AnomalyRule]


class Defaults(_Model):
    repeat_interval: Duration = timedelta(hours=4)
    channels: OneOrMany[str] = Field(default_factory=list)
    stale_after: Duration = timedelta(hours=2)
    _d = duration_validator("repeat_interval", "stale_after")

    @field_validator("repeat_interval", "stale_after")
    @classmethod
    def _at_least_a_minute(cls, v: timedelta) -> timedelta:
        if v < timedelta(minutes=1):
            raise ValueError("must be at least 1m")
        return v


class CheckSchedule(_Model):
    """When ``gpureport scheduler run`` runs ``alerts check`` (standard 5-field cron)."""

    cron: str
    timezone: str = "UTC"
    enabled: bool = True
    misfire_grace_s: int = Field(600, ge=1)

    @model_validator(mode="after")
    def _cron(self) -> "CheckSchedule":
        try:
            cron_trigger(self.cron, self.timezone)
        except Exception as exc:  # noqa: BLE001 - bad zone or cron: same one-line report
            raise ValueError(f"cron: invalid expression {self.cron!r} ({exc})") from None
        return self


class AlertsFile(_Model):
    defaults: Defaults = Field(default_factory=Defaults)
    channels: dict[str, Channel] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    check: CheckSchedule | None = None

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not NAME_RE.match(name):
                raise ValueError(f"channel name {name!r} must be lowercase letters, digits "
                                 "and '-'")
        return v

    @model_validator(mode="after")
    def _references(self) -> "AlertsFile":
        for name in self.defaults.channels:
            if name not in self.channels:
                raise ValueError(f"defaults.channels: unknown channel {name!r} "
                                 f"(defined: {', '.join(self.channels) or 'none'})")
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            where = f"rules[{i}] ({rule.name})"
            if rule.name in seen:
                raise ValueError(f"{where}.name: rule {rule.name!r} is defined twice")
            seen.add(rule.name)
            types: dict[str, str] = {}
            for ch in self.rule_channel_names(rule):
                if ch not in self.channels:
                    raise ValueError(f"{where}.channels: unknown channel {ch!r} "
                                     f"(defined: {', '.join(self.channels) or 'none'})")
                t = self.channels[ch].type
                if t in types:
                    raise ValueError(f"{where}.channels: {types[t]!r} and {ch!r} are both "
                                     f"{t} channels; a rule may use one channel of each type "
                                     "(put several recipients into one email channel)")
                types[t] = ch
        return self

    # -- what a rule resolves to, defaults applied ------------------------------------------
    def rule_channel_names(self, rule: AnyRule) -> list[str]:
        return list(rule.channels if rule.channels is not None else self.defaults.channels)

    def rule_channels(self, rule: AnyRule) -> dict[str, Any]:
        return {n: self.channels[n] for n in self.rule_channel_names(rule)}

    def repeat_interval(self, rule: AnyRule) -> timedelta:
        return rule.repeat_interval or self.defaults.repeat_interval

    def rule(self, name: str) -> AnyRule | None:
        return next((r for r in self.rules if r.name == name), None)



__all__ = [
    "AlertsFile", "AnyRule", "Rule", "Channel", "EmailChannel", "WebhookChannel",
    "AlertmanagerChannel", "IdleGpusRule", "NamespaceDropRule", "ClusterLowUtilizationRule",
    "AllocationPressureRule", "StaleDataRule", "AnomalyRule", "Defaults", "CheckSchedule", "Selector",
    "RuleScope", "RULE_MODELS", "RULE_KINDS", "NAME_RE", "expand_env",
]
