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
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

from pydantic import ConfigDict, Field, SecretStr, ValidationError, model_validator

from agent.errors import ConfigError
from agent.settings import (
    LLMSettings,
    PrometheusSettings,
    SourceSettings,
    Strict,
    data_dir,
    default_state_url,
)
from agent.text import mask_url
from reporter.yamlfile import read_yaml


class StateSettings(Strict):
    database_url: str = Field(default_factory=default_state_url)


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


class Config(Strict):
    source: SourceSettings = Field(default_factory=SourceSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    smtp: SMTPSettings = Field(default_factory=SMTPSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    schedules_dir: str | None = None
    report_dir: str | None = None
    alerts_file: str | None = None
    drop_threshold_pp: float = Field(5.0, ge=0, description="namespace drop shown in digests")
    # ... and only when the namespace holds this share of its cluster's GPU-hours (answers.md §8)
    drop_min_share_pct: float = Field(2.0, ge=0, le=100,
                                      description="share of the cluster a dropped namespace holds")
    public_url: str | None = None  # link target for alert generatorURL, if any

    def masked(self) -> dict[str, Any]:
        """The effective configuration with every secret replaced by ``****``."""
        data = self.model_dump(mode="json", by_alias=True)
        data["llm"]["api_key"] = "****" if self.llm.api_key else None
        data["smtp"]["password"] = "****" if self.smtp.password else None
        for section, key in (("source", "database_url"), ("state", "database_url")):
            data[section][key] = mask_url(data[section][key])
        data["source"]["databases"] = {k: mask_url(v) for k, v in data["source"]["databases"].items()}
        return data


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


ENV_MAP: dict[str, tuple[str, Any]] = {
    "GPUREPORT_SOURCE": ("source.kind", str),
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
            raise ConfigError(f"config file {file}: expected a mapping at the top level")
        data = loaded

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
        raise ConfigError(f"config{where}: {key}: {err['msg']}") from None
    if cfg.source.kind == "lens" and not cfg.source.lens_url:
        raise ConfigError("config: source.lens_url: required when source.kind is lens "
                          "(set LENS_API_URL)")
    return cfg


def ensure_data_dir() -> Path:
    d = data_dir()
    d.mkdir(parents=True, exist_ok=True)
    return d


__all__ = ["Config", "ConfigError", "load_config", "ensure_data_dir"]
