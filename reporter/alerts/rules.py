"""Alert rules: the ``alerts.yaml`` models, and evaluating a rule into findings through a Source.

A rule file has four parts: ``defaults`` (repeat interval, channels, staleness limit),
``channels`` (named email / webhook / alertmanager targets), ``rules`` (one kind each, below)
and an optional ``check`` (a cron on which ``gpureport scheduler run`` runs ``alerts check``).
Every value is validated by Pydantic when the file is loaded; the first problem stops the
program with ``<file>: <field>: <reason>`` (``RulesError``).

Rule kinds and exactly what they test (all windows are half-open ``[start, end)`` of full hours,
``end`` = the data end defined below; figures follow product.md §4):

* ``idle-gpus`` — a workload held ``allocated_gpu_count >= min_gpus`` at ``avg_utilization <
  max_utilization`` in **every one** of the last ``hours`` hours. One grouped SQL query
  (``idle_workloads``) sums the matching rows per workload; a workload fires when its matching
  hour count equals ``hours``. "Every hour" rather than "on average" so that a busy workload
  with one idle night hour does not fire, and a workload that just started does not either.
* ``namespace-drop`` — this ISO week so far (Monday 00:00 UTC → data end) against the same
  elapsed span of last week, per namespace (two grouped ``children_stats`` queries); fires when
  the GPU-hour weighted utilization fell by ``>= min_drop_pp`` percentage points and the
  namespace used ``>= min_gpu_hours`` in *both* spans (a namespace with a handful of GPU-hours
  swings wildly). Not evaluated before ``min_elapsed_hours`` of the week have data.
* ``cluster-low-utilization`` — the cluster's average utilization over the last ``hours``
  hours is ``< max_utilization`` (and at least ``min_gpu_hours`` were allocated: an empty
  cluster wastes nothing).
* ``allocation-pressure`` — every one of the last ``hours`` hourly cluster points has an
  allocation rate ``>= min_allocation_rate`` (one grouped ``hourly_series`` query).
* ``stale-data`` — the hourly row for hour H covers [H, H+1h) and can only exist once that hour
  is over, so the data is *fresh until* ``newest_stat_hour + 1h``; the lag is ``now −
  (newest_stat_hour + 1h)`` and the rule fires when the lag is ``> max_age`` (default 2 h), or
  when a cluster named in the scope has no hourly stats at all. On time data therefore never
  fires: at 12:59 the newest possible row is 11:00 and the lag is 59 minutes.

Data end, and why: ``end = min(floor_hour(now), newest_stat_hour + 1h)`` per cluster. Lens
writes hour H's row some minutes after H+1h; anchoring the windows on the newest row instead of
the clock keeps a check at 12:02 from seeing a "missing" 11:00 row and resolving every alert
for one check (flapping). When a cluster's data is older than ``defaults.stale_after`` the data
rules are **not evaluated** for it: their alert state is kept unchanged (neither resolved nor
newly fired) and the ``stale-data`` rule is the one that speaks. A rule that fails to query
(source down) is likewise not evaluated; its error is reported and its state kept.

Scopes: ``clusters`` and ``namespaces`` take ``include``/``exclude`` lists of shell-style
patterns (``ml-*``); a plain list means ``include``; empty ``include`` = everything. A
``namespaces`` scope is only meaningful (and only allowed) for ``idle-gpus`` and
``namespace-drop``.

Channels: a rule names at most one channel of each type, because the notification history
(``alert_notifications``) is keyed by alert fingerprint and channel *type*; one email channel
takes any number of recipients.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from agent.errors import RulesError, SourceError
from agent.periods import floor_hour, iso, utc_text, week_start
from agent.sources.base import Scope, Source
from agent.text import mask_url, one_line
from reporter.cron import cron_trigger
from reporter.yamlfile import read_yaml

if TYPE_CHECKING:  # pragma: no cover
    from reporter.config import Config

RULE_KINDS = ("idle-gpus", "namespace-drop", "cluster-low-utilization", "allocation-pressure",
              "stale-data")
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
HOUR = timedelta(hours=1)


# --------------------------------------------------------------------------------------------
# small value types
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


def _duration_validator(*fields: str):
    return field_validator(*fields, mode="before")(lambda cls, v: parse_duration(v)
                                                   if v is not None else v)


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

    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"include": [v]}
        if isinstance(v, list):
            return {"include": v}
        return v

    @field_validator("include", "exclude", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

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
    to: list[str]
    subject_prefix: str = "[gpureport]"

    @field_validator("to", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

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
    _d = _duration_validator("alert_ttl")


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
    channels: list[str] | None = None
    scope: RuleScope = Field(default_factory=RuleScope)

    _d = _duration_validator("for_", "repeat_interval")

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

    @field_validator("channels", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _namespaces_scope(self) -> "_RuleBase":
        if self.scope.namespaces is not None and self.kind not in ("idle-gpus", "namespace-drop"):
            raise ValueError(f"scope.namespaces: a {self.kind} rule is about whole clusters; "
                             "namespace scopes apply to idle-gpus and namespace-drop only")
        return self

    kind: str


class IdleGpusRule(_RuleBase):
    kind: Literal["idle-gpus"]
    min_gpus: float = Field(8, gt=0)
    max_utilization: float = Field(10.0, gt=0, le=100)
    hours: int = Field(6, ge=1, le=168)


class NamespaceDropRule(_RuleBase):
    kind: Literal["namespace-drop"]
    min_drop_pp: float = Field(10.0, gt=0, le=100)
    min_gpu_hours: float = Field(50.0, ge=0)
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


class StaleDataRule(_RuleBase):
    kind: Literal["stale-data"]
    max_age: Duration = timedelta(hours=2)
    _m = _duration_validator("max_age")


Rule = Annotated[Union[IdleGpusRule, NamespaceDropRule, ClusterLowUtilizationRule,
                       AllocationPressureRule, StaleDataRule], Field(discriminator="kind")]
AnyRule = Union[IdleGpusRule, NamespaceDropRule, ClusterLowUtilizationRule,
                AllocationPressureRule, StaleDataRule]


class Defaults(_Model):
    repeat_interval: Duration = timedelta(hours=4)
    channels: list[str] = Field(default_factory=list)
    stale_after: Duration = timedelta(hours=2)
    _d = _duration_validator("repeat_interval", "stale_after")

    @field_validator("channels", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

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


# --------------------------------------------------------------------------------------------
# loading
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


# --------------------------------------------------------------------------------------------
# evaluation
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


def _ask(question: str, cluster: str | None) -> str:
    """The drill-down command; names come from the data, so every argument is quoted."""
    cmd = f"gpureport ask {shell_quote(question)}"
    return cmd + (f" --cluster {shell_quote(cluster)}" if cluster else "")


def _n(x: float) -> str:
    """A GPU count: 8 not 8.0, 7.5 stays."""
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


class DataView:
    """The source plus per-check caches (cluster list, newest hour per cluster)."""

    def __init__(self, source: Source, now: datetime, stale_after: timedelta):
        self.source = source
        self.now = now.astimezone(timezone.utc)
        self.stale_after = stale_after
        self._clusters: list[str] | None = None
        self._newest: dict[str, datetime | None] = {}

    def clusters(self) -> list[str]:
        if self._clusters is None:
            self._clusters = list(self.source.clusters())
        return self._clusters

    def newest(self, cluster: str) -> datetime | None:
        if cluster not in self._newest:
            self._newest[cluster] = self.source.newest_stat_hour(cluster)
        return self._newest[cluster]

    def data_end(self, cluster: str) -> tuple[datetime | None, str | None]:
        """(end of the evaluable window, or None and why not)."""
        newest = self.newest(cluster)
        if newest is None:
            return None, "no hourly stats"
        lag = self.now - (newest + HOUR)
        if lag > self.stale_after:
            return None, f"data stale (newest hour {utc_text(newest)})"
        return min(floor_hour(self.now), newest + HOUR), None


def evaluate(rule: AnyRule, view: DataView) -> Evaluation:
    """Findings of one rule; a data source failure becomes ``Evaluation.error``."""
    ev = Evaluation(rule.name)
    try:
        clusters = [c for c in view.clusters() if rule.scope.clusters.matches(c)]
        if isinstance(rule, StaleDataRule):
            _stale(rule, view, clusters, ev)
            return ev
        for cluster in clusters:
            end, why = view.data_end(cluster)
            if end is None:
                ev.skipped[cluster] = why or "not evaluated"
                continue
            skipped = _EVALUATORS[rule.kind](rule, view, cluster, end, ev)
            if skipped:
                ev.skipped[cluster] = skipped
            else:
                ev.covered.add(cluster)
    except SourceError as exc:
        ev.error = one_line(exc)
        ev.findings.clear()
        ev.covered.clear()
    return ev


def _idle(rule: IdleGpusRule, view: DataView, cluster: str, end: datetime,
          ev: Evaluation) -> str | None:
    start = end - timedelta(hours=rule.hours)
    for st in view.source.idle_workloads(cluster, start, end, rule.min_gpus,
                                         rule.max_utilization):
        ns = st.namespace or ""
        if st.rows < rule.hours:
            continue
        if rule.scope.namespaces is not None and not rule.scope.namespaces.matches(ns):
            continue
        gpus = st.gpu_hours / st.rows
        figures = {
            "cluster": cluster, "namespace": ns, "workload": st.name, "workload_kind": st.kind,
            "user": st.user, "gpus": gpus, "avg_utilization": st.avg_utilization,
            "gpu_hours": st.gpu_hours, "idle_gpu_hours": st.idle_gpu_hours,
            "hours": st.rows, "window_start": iso(start), "window_end": iso(end),
            "min_gpus": rule.min_gpus, "max_utilization": rule.max_utilization,
        }
        who = f"{st.kind or 'workload'}" + (f", user {st.user}" if st.user else "")
        ev.findings.append(Finding(
            rule.name, rule.kind, rule.severity,
            {"cluster": cluster, "namespace": ns, "workload": st.name},
            st.avg_utilization, figures,
            summary=(f"{ns}/{st.name} on {cluster} holds {_n(gpus)} GPUs at "
                     f"{st.avg_utilization:.1f}% utilization"),
            description=(
                f"Workload {st.name} ({who}) in namespace {ns} on cluster {cluster} held "
                f"at least {_n(rule.min_gpus)} GPUs below {rule.max_utilization:g}% utilization "
                f"in each of the last {rule.hours} hours ({utc_text(start)} to {utc_text(end)}): "
                f"{st.gpu_hours:.1f} GPU-hours at {st.avg_utilization:.1f}% average utilization, "
                f"{st.idle_gpu_hours:.1f} idle GPU-hours."),
            drilldown=_ask(f"What is the utilization trend of workload {st.name} in namespace "
                           f"{ns} over the last {max(rule.hours, 24)} hours?", cluster),
        ))
    return None


def _drop(rule: NamespaceDropRule, view: DataView, cluster: str, end: datetime,
          ev: Evaluation) -> str | None:
    ws = week_start(view.now)
    elapsed = end - ws
    if elapsed < timedelta(hours=rule.min_elapsed_hours):
        return (f"only {format_duration(max(elapsed, timedelta(0)))} of this week has data "
                f"(min_elapsed_hours {rule.min_elapsed_hours})")
    week = timedelta(days=7)
    scope = Scope(kind="cluster", cluster=cluster)
    now_rows = {p.name: p for p in view.source.children_stats(scope, "namespace", ws, end)}
    then_rows = {p.name: p for p in view.source.children_stats(scope, "namespace", ws - week,
                                                               end - week)}
    for ns in sorted(set(now_rows) & set(then_rows)):
        if rule.scope.namespaces is not None and not rule.scope.namespaces.matches(ns):
            continue
        a, b = then_rows[ns], now_rows[ns]
        if a.gpu_hours < rule.min_gpu_hours or b.gpu_hours < rule.min_gpu_hours:
            continue
        drop = a.avg_utilization - b.avg_utilization
        if drop < rule.min_drop_pp:
            continue
        rel = drop / a.avg_utilization * 100.0 if a.avg_utilization else None
        figures = {
            "cluster": cluster, "namespace": ns, "drop_pp": drop, "drop_pct": rel,
            "avg_utilization_before": a.avg_utilization, "avg_utilization_after": b.avg_utilization,
            "gpu_hours_before": a.gpu_hours, "gpu_hours_after": b.gpu_hours,
            "workloads_before": a.workloads, "workloads_after": b.workloads,
            "period_start": iso(ws), "period_end": iso(end),
            "baseline_start": iso(ws - week), "baseline_end": iso(end - week),
            "min_drop_pp": rule.min_drop_pp,
        }
        rel_text = f", {rel:.1f}% relative" if rel is not None else ""
        ev.findings.append(Finding(
            rule.name, rule.kind, rule.severity, {"cluster": cluster, "namespace": ns}, drop,
            figures,
            summary=(f"{ns} on {cluster}: utilization down {drop:.1f} pp week over week "
                     f"({a.avg_utilization:.1f}% -> {b.avg_utilization:.1f}%)"),
            description=(
                f"Namespace {ns} on cluster {cluster} averaged {b.avg_utilization:.1f}% "
                f"utilization on {b.gpu_hours:.1f} GPU-hours this week so far "
                f"({utc_text(ws)} to {utc_text(end)}), against {a.avg_utilization:.1f}% on "
                f"{a.gpu_hours:.1f} GPU-hours in the same span of last week: down {drop:.1f} pp{rel_text}."),
            drilldown=_ask(f"Why is {ns}'s utilization lower this week than last week? Which "
                           f"workloads caused this?", cluster),
        ))
    return None


def _low(rule: ClusterLowUtilizationRule, view: DataView, cluster: str, end: datetime,
         ev: Evaluation) -> str | None:
    start = end - timedelta(hours=rule.hours)
    st = view.source.period_stats(Scope(kind="cluster", cluster=cluster), start, end)
    if st.gpu_hours < rule.min_gpu_hours or st.avg_utilization >= rule.max_utilization:
        return None
    figures = {"cluster": cluster, "avg_utilization": st.avg_utilization,
               "allocation_rate": st.allocation_rate, "gpu_hours": st.gpu_hours,
               "idle_gpu_hours": st.idle_gpu_hours, "hours": rule.hours,
               "window_start": iso(start), "window_end": iso(end),
               "max_utilization": rule.max_utilization}
    ev.findings.append(Finding(
        rule.name, rule.kind, rule.severity, {"cluster": cluster}, st.avg_utilization, figures,
        summary=(f"{cluster}: utilization {st.avg_utilization:.1f}% over the last {rule.hours} h "
                 f"(threshold {rule.max_utilization:g}%)"),
        description=(
            f"Cluster {cluster} averaged {st.avg_utilization:.1f}% utilization over the last "
            f"{rule.hours} hours ({utc_text(start)} to {utc_text(end)}) on "
            f"{st.gpu_hours:.1f} allocated GPU-hours ({st.allocation_rate:.1f}% of capacity): "
            f"{st.idle_gpu_hours:.1f} idle GPU-hours."),
        drilldown=_ask(f"Which workloads wasted the most GPU hours over the last "
                       f"{rule.hours} hours?", cluster),
    ))
    return None


def _pressure(rule: AllocationPressureRule, view: DataView, cluster: str, end: datetime,
              ev: Evaluation) -> str | None:
    start = end - timedelta(hours=rule.hours)
    series = view.source.hourly_series(Scope(kind="cluster", cluster=cluster), start, end)
    if len(series) < rule.hours or any(p.allocation_rate < rule.min_allocation_rate
                                       for p in series):
        return None
    last = series[-1]
    rates = [p.allocation_rate for p in series]
    figures = {"cluster": cluster, "min_allocation_rate": min(rates),
               "last_allocation_rate": last.allocation_rate,
               "allocated_gpus": last.allocated_gpus, "capacity_gpus": last.capacity_gpus,
               "hours": rule.hours, "window_start": iso(start), "window_end": iso(end),
               "threshold": rule.min_allocation_rate}
    ev.findings.append(Finding(
        rule.name, rule.kind, rule.severity, {"cluster": cluster}, min(rates), figures,
        summary=(f"{cluster}: allocation at or above {rule.min_allocation_rate:g}% for "
                 f"{rule.hours} h (last hour {last.allocation_rate:.1f}%, "
                 f"{_n(last.allocated_gpus)} of {_n(last.capacity_gpus)} GPUs)"),
        description=(
            f"Cluster {cluster} had an allocation rate of at least {min(rates):.1f}% in each of "
            f"the last {rule.hours} hours ({utc_text(start)} to {utc_text(end)}); in the last hour "
            f"{_n(last.allocated_gpus)} of {_n(last.capacity_gpus)} GPUs were allocated "
            f"({last.allocation_rate:.1f}%). New GPU workloads may wait for capacity."),
        drilldown=_ask("How many GPUs are currently in use in the cluster?", cluster),
    ))
    return None


def _stale(rule: StaleDataRule, view: DataView, clusters: list[str], ev: Evaluation) -> None:
    expected = [c for c in rule.scope.clusters.named() if rule.scope.clusters.matches(c)]
    for cluster in sorted(set(clusters) | set(expected)):
        ev.covered.add(cluster)
        newest = view.newest(cluster) if cluster in view.clusters() else None
        if newest is not None:
            lag = view.now - (newest + HOUR)
            if lag <= rule.max_age:
                continue
            lag_h = lag.total_seconds() / 3600.0
            summary = (f"{cluster}: no new hourly GPU stats for {format_duration(lag)} "
                       f"(newest hour {utc_text(newest)})")
            description = (
                f"The newest hourly row of cluster {cluster} is for {utc_text(newest)}; it became "
                f"complete at {utc_text(newest + HOUR)}, {format_duration(lag)} ago (allowed: "
                f"{format_duration(rule.max_age)}). Reports and other alerts for {cluster} "
                f"are based on old data until the Lens aggregation job (or `gpureport ingest`) "
                f"writes new hours; `gpureport doctor` checks the data source.")
        else:
            lag_h = None
            summary = f"{cluster}: no hourly GPU stats at all"
            description = (f"Cluster {cluster} is in the scope of rule {rule.name} but the data "
                           f"source holds no hourly stats for it.")
        figures = {"cluster": cluster, "newest_stat_hour": iso(newest), "lag_hours": lag_h,
                   "max_age_hours": rule.max_age.total_seconds() / 3600.0}
        ev.findings.append(Finding(
            rule.name, rule.kind, rule.severity, {"cluster": cluster}, lag_h, figures,
            summary=summary, description=description,
            drilldown=_ask("What is the GPU utilization trend over the last 24 hours?", cluster),
        ))


_EVALUATORS = {
    "idle-gpus": _idle,
    "namespace-drop": _drop,
    "cluster-low-utilization": _low,
    "allocation-pressure": _pressure,
}

__all__ = [
    "AlertsFile", "AnyRule", "Channel", "EmailChannel", "WebhookChannel", "AlertmanagerChannel",
    "IdleGpusRule", "NamespaceDropRule", "ClusterLowUtilizationRule", "AllocationPressureRule",
    "StaleDataRule", "RulesError", "Finding", "Evaluation", "DataView", "evaluate",
    "fingerprint", "load_rules", "parse_rules", "rules_path", "parse_duration",
    "format_duration", "RULE_KINDS",
]
