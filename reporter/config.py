"""Program configuration: YAML file + environment overrides -> one validated ``Config``.

Precedence, lowest first: built-in defaults, the YAML file (``--config``, else
``./gpureport.yaml``, else ``~/.config/gpureport/config.yaml``), environment variables. The
environment names include the seed agent's (``LENS_API_URL``, ``LLM_*``, ``STORAGE_BACKEND`` and
``PG_*``), which keep working: in the seed ``PG_*`` chose where conversations were stored, here
they choose the state database, which is where sessions live now.

A bad file or value raises ``ConfigError`` naming the key and the reason, in one line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, unquote, urlsplit

from pydantic import ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from agent.errors import ConfigError
from agent.prices import Prices
from agent.settings import (
    LLMSettings,
    PrometheusSettings,
    SourceSettings,
    Strict,
    data_dir,
    default_state_url,
    validate_database_url,
)
from agent.text import mask_url, one_line
from reporter.fields import OneOrMany
from reporter.logs import add_secrets
from reporter.nudges.schedule import is_destination, is_email
from reporter.yamlfile import describe, read_yaml

# keys whose values are never echoed in an error: a token, password or URL may be the secret
_SECRETISH = re.compile(r"token|password|secret|api_key|key$|url|webhook|dsn", re.I)


class StateSettings(Strict):
    database_url: str = Field(default_factory=default_state_url)
    # how long a run's claim on (schedule, period) outlives its last renewal (renewed every
    # quarter of it): the time a crashed run blocks the next one
    claim_lease_s: float = Field(120.0, ge=1.0, le=3600.0)

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return validate_database_url(v)


class SMTPSettings(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str | None = None
    port: int = Field(587, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    ssl: bool = False
    from_: str | None = Field(None, alias="from")
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)
    retry_backoff: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _tls(self) -> "SMTPSettings":
        if self.ssl and self.starttls and self.port == 465:
            # implicit TLS on 465 wins; STARTTLS inside TLS makes no sense
            object.__setattr__(self, "starttls", False)
        return self


class ServerSettings(Strict):
    """``gpureport serve``: where it listens and what it allows (api.md "What a service in a
    cluster needs"). With ``token`` set every ``/api/*`` call needs ``Authorization: Bearer
    <token>``; CORS stays off unless ``cors_origins`` lists origins (never ``*`` with
    credentials, as the seed did)."""

    host: str = "127.0.0.1"
    port: int = Field(8001, ge=1, le=65535)
    token: SecretStr | None = None
    cors_origins: list[str] = Field(default_factory=list)
    workers: int = Field(1, ge=1, le=64)
    threads: int = Field(8, ge=1, le=256, description="agent runs at once per worker")
    request_timeout_s: float = Field(60.0, gt=0, le=3600)
    max_body_bytes: int = Field(65536, ge=1024, le=64 * 1024 * 1024)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        for origin in v:
            if origin == "*":
                raise ValueError("'*' is not allowed: list the origins of the web pages that "
                                 "call the API")
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
        return v


class SlackSettings(Strict):
    """The ``slack:`` section: the bot token (files upload v2, messages, DMs) and the HTTP policy.

    ``bot_token`` is an ``xoxb-`` token of an installed Slack app (env ``SLACK_BOT_TOKEN``);
    it only ever travels in the ``Authorization`` header to ``api_url`` and is shown as ``****``
    by ``doctor``. ``webhook_url`` is an optional default incoming webhook (summary only, env
    ``SLACK_WEBHOOK_URL``): its path is the secret, so it is a ``SecretStr`` as well.
    ``timeout``/``retries``/``retry_backoff`` apply to every Slack request (the web API, the
    upload URL and webhooks); a 429's ``Retry-After`` is honoured up to ``max_retry_after``
    seconds, beyond that the send fails at once (the next run tries again).
    """

    bot_token: SecretStr | None = None
    api_url: str = "https://slack.com/api"
    webhook_url: SecretStr | None = None
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)
    retry_backoff: float = Field(1.0, ge=0)
    max_retry_after: float = Field(60.0, ge=0, le=3600)

    @field_validator("bot_token")
    @classmethod
    def _token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        token = v.get_secret_value().strip()
        if not token.startswith("xox") or any(ch.isspace() or not ch.isprintable() for ch in token):
            # never echo the value: it may be a real secret pasted into the wrong key
            raise ValueError("expected a Slack bot token (xoxb-...)")
        return SecretStr(token)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL such as https://slack.com/api")
        return v.rstrip("/")


class MSTeamsSettings(Strict):
    """The ``msteams:`` section (Microsoft Teams incoming webhooks / Workflows).

    Named ``msteams`` because ``teams:`` is the routing table of people's teams (issue 14).
    ``webhook_url`` is an optional default destination (env ``TEAMS_WEBHOOK_URL``); the URL
    carries its signature, so it is a ``SecretStr`` and ``doctor`` shows it masked.
    """

    webhook_url: SecretStr | None = None
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)
    retry_backoff: float = Field(1.0, ge=0)
    max_retry_after: float = Field(60.0, ge=0, le=3600)


class TeamRoute(Strict):
    """One entry of the ``teams:`` routing table: where a team (a namespace, by default) is told.

    ``email`` addresses, ``slack`` destinations (``#channel``, a channel id, or an address for a
    DM; written with or without the ``slack:`` prefix) and ``teams`` incoming-webhook URLs.
    Team digests send here; idle nudges copy a team's owners from their second notice on.
    """

    email: OneOrMany[str] = Field(default_factory=list)
    slack: OneOrMany[str] = Field(default_factory=list)
    teams: OneOrMany[SecretStr] = Field(default_factory=list)

    @field_validator("email")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for addr in v:
            if (not re.fullmatch(r"[^@\s]+@[^@\s]+", addr)):
                raise ValueError(f"{addr!r} is not an email address")
        return v

    def destinations(self) -> list[str]:
        """The chat destinations, as ``reporter.channels.parse_destination`` reads them."""
        return ([s if s.startswith("slack:") else f"slack:{s}" for s in self.slack]
                + [f"teams:{t.get_secret_value()}" for t in self.teams])


class Config(Strict):
    source: SourceSettings = Field(default_factory=SourceSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    smtp: SMTPSettings = Field(default_factory=SMTPSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    msteams: MSTeamsSettings = Field(default_factory=MSTeamsSettings)
    # GPU prices (agent.prices): none set = no money anywhere (answers.md §5)
    prices: Prices = Field(default_factory=Prices)
    schedules_dir: str | None = None
    report_dir: str | None = None
    alerts_file: str | None = None
    drop_threshold_pp: float = Field(5.0, ge=0, description="namespace drop shown in digests")
    # ... and only when the namespace holds this share of its cluster's GPU-hours (answers.md §8)
    drop_min_share_pct: float = Field(2.0, ge=0, le=100,
                                      description="share of the cluster a dropped namespace holds")
    public_url: str | None = None  # link target for alert generatorURL, if any
    # issue 14: who a team is (routing table) and how a user is reached (an address book:
    # user -> email address or chat destination such as "slack:U0123ABCD")
    teams: dict[str, TeamRoute] = Field(default_factory=dict)
    users: dict[str, OneOrMany[str]] = Field(default_factory=dict)

    @field_validator("users")
    @classmethod
    def _user_addresses(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for user, entries in v.items():
            for e in entries:
                if not (is_email(e) or is_destination(e)):
                    raise ValueError(f"{user}: expected an email address or slack:…, "
                                     f"slack-webhook:…, teams:… (got {e[:12]!r}…)")
        return v

    def secret_values(self) -> list[str]:
        """Every secret this configuration holds (passwords, API keys, URL passwords), for
        ``reporter.logs.add_secrets``: no log record may contain one."""
        out = [self.smtp.password.get_secret_value() if self.smtp.password else None,
               self.llm.api_key.get_secret_value() if self.llm.api_key else None]
        urls = [self.source.database_url, self.state.database_url, self.source.lens_url,
                self.source.prometheus_url, self.prometheus.url, self.llm.base_url,
                self.public_url, *self.source.databases.values()]
        for url in urls:
            try:
                password = urlsplit(url).password if url else None
            except ValueError:
                password = None
            out.append(unquote(password) if password else None)
            out.append(password)
        return [v for v in out if v]

    def masked(self) -> dict[str, Any]:
        """The effective configuration with every secret replaced by ``****``."""
        data = self.model_dump(mode="json", by_alias=True)
        data["llm"]["api_key"] = "****" if self.llm.api_key else None
        data["smtp"]["password"] = "****" if self.smtp.password else None
        data["server"]["token"] = "****" if self.server.token else None
        data["slack"]["bot_token"] = "****" if self.slack.bot_token else None
        for section in ("slack", "msteams"):
            hook = getattr(self, section).webhook_url
            data[section]["webhook_url"] = mask_url(hook.get_secret_value()) if hook else None
        for section, key in (("source", "database_url"), ("state", "database_url")):
            data[section][key] = mask_url(data[section][key])
        data["source"]["databases"] = {k: mask_url(v) for k, v in data["source"]["databases"].items()}
        return data


# the sections of the file and one key of each, for the "expected a mapping" error
SECTIONS = {"source": "database_url", "state": "database_url", "llm": "api_key",
            "smtp": "host", "prometheus": "url"}


def config_path(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    for candidate in (Path("gpureport.yaml"),
                      Path(os.path.expanduser("~/.config/gpureport/config.yaml"))):
        if candidate.is_file():
            return candidate
    return None


def _set(data: dict, dotted: str, value: Any) -> None:
    node = data
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {}) if isinstance(node.get(p, {}), dict) else node
    node[leaf] = value


def _bool(v: str) -> bool:
    return v.strip().lower() in {"1", "true", "yes", "on"}


def _split_origins(v: str) -> list[str]:
    """``GPUREPORT_SERVER_CORS_ORIGINS``: origins separated by commas."""
    return [o.strip() for o in v.split(",") if o.strip()]


ENV_MAP: dict[str, tuple[str, Any]] = {
    "GPUREPORT_SOURCE": ("source.kind", str),
    "GPUREPORT_GPU_PRICE": ("prices.default_per_gpu_hour", str),
    "GPUREPORT_GPU_CURRENCY": ("prices.currency", str),
    "GPUREPORT_DATABASE_URL": ("source.database_url", str),
    "GPUREPORT_STATE_DATABASE_URL": ("state.database_url", str),
    "LENS_API_URL": ("source.lens_url", str),
    "PROMETHEUS_URL": ("source.prometheus_url", str),
    "LLM_PROVIDER": ("llm.provider", str),
    "LLM_MODEL": ("llm.model", str),
    "LLM_API_KEY": ("llm.api_key", str),
    "LLM_BASE_URL": ("llm.base_url", str),
    "SMTP_HOST": ("smtp.host", str),
    "SMTP_PORT": ("smtp.port", str),
    "SMTP_USER": ("smtp.user", str),
    "SMTP_PASSWORD": ("smtp.password", str),
    "SMTP_STARTTLS": ("smtp.starttls", _bool),
    "SMTP_SSL": ("smtp.ssl", _bool),
    "SMTP_FROM": ("smtp.from", str),
    "GPUREPORT_SCHEDULES_DIR": ("schedules_dir", str),
    "GPUREPORT_CATALOG_TTL": ("source.catalog_ttl_s", str),
    "GPUREPORT_SERVER_HOST": ("server.host", str),
    "GPUREPORT_SERVER_PORT": ("server.port", str),
    "GPUREPORT_SERVER_TOKEN": ("server.token", str),
    "GPUREPORT_SERVER_CORS_ORIGINS": ("server.cors_origins", _split_origins),
    "GPUREPORT_SERVER_WORKERS": ("server.workers", str),
    "GPUREPORT_SERVER_THREADS": ("server.threads", str),
    "GPUREPORT_SERVER_REQUEST_TIMEOUT_S": ("server.request_timeout_s", str),
    "GPUREPORT_SERVER_MAX_BODY_BYTES": ("server.max_body_bytes", str),
    "SLACK_BOT_TOKEN": ("slack.bot_token", str),
    "SLACK_WEBHOOK_URL": ("slack.webhook_url", str),
    "SLACK_API_URL": ("slack.api_url", str),
    "TEAMS_WEBHOOK_URL": ("msteams.webhook_url", str),
}


def _seed_state_url(env: Mapping[str, str]) -> str | None:
    """``STORAGE_BACKEND`` + ``PG_*`` of the seed agent -> a state database URL."""
    backend = (env.get("STORAGE_BACKEND") or "").strip().lower()
    if backend in {"db", "pg", "postgres", "postgresql"} and env.get("PG_HOST"):
        user = quote(env.get("PG_USER", "postgres"), safe="")
        pw = env.get("PG_PASSWORD")
        auth = f"{user}:{quote(pw, safe='')}" if pw else user
        url = (f"postgresql+psycopg://{auth}@{env['PG_HOST']}:{env.get('PG_PORT', '5432')}/"
               f"{quote(env.get('PG_DATABASE', 'gpureport'), safe='')}")
        params = []
        if env.get("PG_SSLMODE"):
            params.append(f"sslmode={quote(env['PG_SSLMODE'])}")
        if env.get("PG_SCHEMA"):
            params.append(f"options=-csearch_path%3D{quote(env['PG_SCHEMA'], safe='')}")
        return url + ("?" + "&".join(params) if params else "")
    if backend == "file":
        return default_state_url()
    return None


def load_config(path: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    file = config_path(path)
    data: dict[str, Any] = {}
    if file is not None:
        if not file.exists():
            raise ConfigError(f"config file {file} does not exist")
        loaded = read_yaml(file, ConfigError)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {file}: expected a mapping (key: value lines) at "
                              f"the top level, got {describe(loaded)}")
        data = loaded
        for key, value in data.items():
            if key in SECTIONS and not isinstance(value, (dict, type(None))):
                raise ConfigError(f"config file {file}: {key}: expected a mapping of "
                                  f"{key} settings (e.g. '{key}:' then indented "
                                  f"'{SECTIONS[key]}: ...'), got {describe(value)}")
        data = {k: ({} if k in SECTIONS and v is None else v) for k, v in data.items()}

    seed_state = _seed_state_url(env)
    if seed_state:
        _set(data, "state.database_url", seed_state)
    for name, (dotted, conv) in ENV_MAP.items():
        if env.get(name):
            _set(data, dotted, conv(env[name]))
    # Setting only LENS_API_URL selects the lens source, as in the seed.
    if env.get("LENS_API_URL") and not env.get("GPUREPORT_SOURCE") and \
            "kind" not in (data.get("source") or {}):
        _set(data, "source.kind", "lens")
    if (data.get("source") or {}).get("prometheus_url") and not (data.get("prometheus") or {}).get("url"):
        _set(data, "prometheus.url", data["source"]["prometheus_url"])

    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        where = f" in {file}" if file else ""
        shown = err.get("input")
        if err["type"] == "database_url":  # the reason says what is wrong without the URL
            value = ""
        elif isinstance(shown, str) and _SECRETISH.search(key):  # may be the secret itself
            value = " (got a text value, not shown: it may be a secret)"
        else:
            value = f" (got {describe(shown)})" if "input" in err and \
                err["type"] not in ("missing", "extra_forbidden") and \
                not isinstance(shown, dict) else ""
        raise ConfigError(one_line(f"config{where}: {key}: {err['msg']}{value}")) from None
    add_secrets(cfg.secret_values())
    if cfg.source.kind == "lens" and not cfg.source.lens_url:
        raise ConfigError("config: source.lens_url: required when source.kind is lens "
                          "(set LENS_API_URL)")
    return cfg


def ensure_data_dir() -> Path:
    d = data_dir()
    d.mkdir(parents=True, exist_ok=True)
    return d


__all__ = ["Config", "ConfigError", "MSTeamsSettings", "ServerSettings", "SlackSettings",
           "load_config", "ensure_data_dir"]
