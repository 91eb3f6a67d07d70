"""Settings the agent needs: where the GPU data is and which language model (if any) to use.

They are Pydantic models so that a bad value fails at load time with the key and the reason.
The full program configuration (state database, SMTP, schedules) composes these in
``reporter.config``; ``agent`` never imports ``reporter``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError


def data_dir() -> Path:
    """Where the embedded SQLite files live (``GPUREPORT_HOME`` overrides the platform dir)."""
    home = os.environ.get("GPUREPORT_HOME")
    if home:
        return Path(home)
    import platformdirs  # only without GPUREPORT_HOME: not on every command's start-up path

    return Path(platformdirs.user_data_dir("gpureport", appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'gpureport.db'}"


def default_state_url() -> str:
    return f"sqlite:///{data_dir() / 'state.db'}"


# The databases gpureport can open (drivers it ships): SQLite (the embedded store) and
# PostgreSQL through psycopg 3. ``postgresql://`` and ``postgres://`` are taken to mean psycopg 3.
SUPPORTED_DATABASES = ("sqlite:///PATH", "postgresql+psycopg://USER@HOST:PORT/DB")
_SQLITE_DRIVERS = ("sqlite", "sqlite+pysqlite")
_POSTGRES_ALIASES = ("postgresql://", "postgres://")


def normalize_database_url(url: str) -> str:
    """``postgres://`` / ``postgresql://`` -> ``postgresql+psycopg://`` (psycopg 3 is the driver
    we ship); every other URL unchanged."""
    for prefix in _POSTGRES_ALIASES:
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def check_database_url(url: str) -> str:
    """A database URL gpureport can open, normalized; ``ValueError`` (one line, without the URL,
    which may hold a password) for anything else.

    Why at load time: SQLAlchemy would accept ``mysql://`` and fail only at the first query with
    ``ModuleNotFoundError: MySQLdb``; a typo such as ``postgres+pyscopg://`` would fail with
    "Can't load plugin". Saying what is supported is the useful answer to both.
    """
    from sqlalchemy.engine import make_url

    url = normalize_database_url(url.strip())
    try:
        driver = make_url(url).drivername
    except Exception:  # noqa: BLE001 - any parse failure means "not a database URL"
        raise ValueError("not a database URL (expected "
                         f"{' or '.join(SUPPORTED_DATABASES)})") from None
    if driver in _SQLITE_DRIVERS or driver == "postgresql+psycopg":
        return url
    raise ValueError(f"unsupported database '{driver}' (supported: "
                     f"{' or '.join(SUPPORTED_DATABASES)})")


def validate_database_url(url: str) -> str:
    """``check_database_url`` for a Pydantic validator (no "Value error," prefix)."""
    try:
        return check_database_url(url)
    except ValueError as exc:
        raise PydanticCustomError("database_url", str(exc).replace("{", "(").replace("}", ")"))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PrometheusSettings(Strict):
    """Metric and label names used by ``gpureport ingest prometheus`` (NVIDIA DCGM defaults)."""

    url: str | None = None
    step: int = Field(60, ge=1, description="scrape resolution in seconds")
    spread_step: int = Field(300, ge=1, description="grid of max/min/p50/p95 (Lens: 5 min)")
    vendor: Literal["nvidia", "amd"] = "nvidia"
    utilization_metric: str = "DCGM_FI_DEV_GPU_UTIL"
    utilization_namespace_label: str = "namespace"
    utilization_pod_label: str = "pod"
    gpu_resource: str = "nvidia_com_gpu"
    requests_metric: str = "kube_pod_container_resource_requests"
    capacity_metric: str = "kube_node_status_capacity"
    pod_owner_metric: str = "kube_pod_owner"
    replicaset_owner_metric: str = "kube_replicaset_owner"
    pod_annotations_metric: str = "kube_pod_annotations"
    pod_labels_metric: str = "kube_pod_labels"
    pod_phase_metric: str = "kube_pod_status_phase"
    user_annotation_label: str = "annotation_primus_safe_user_name"
    # the utilization series' GPU model label (DCGM modelName; AMD card_model): model prices
    model_label: str = "modelName"
    label_keys: list[str] = Field(default_factory=list)
    annotation_keys: list[str] = Field(default_factory=list)
    timeout: float = 30.0
    max_points_per_query: int = Field(10000, ge=100)
    # ingest: cluster_name written into the rows; hours per query (smaller when the points of
    # max_points_per_query say so); parallel queries; retries on connect/5xx
    cluster_name: str = "default"
    chunk_hours: int = Field(24, ge=1, le=24 * 31)
    concurrency: int = Field(4, ge=1, le=32)
    retries: int = Field(3, ge=0, le=10)
    retry_backoff: float = Field(0.5, ge=0)


class SourceSettings(Strict):
    kind: Literal["sql", "lens", "prometheus"] = "sql"
    database_url: str = Field(default_factory=default_database_url)
    databases: dict[str, str] = Field(default_factory=dict)
    lens_url: str | None = None
    prometheus_url: str | None = None
    user_annotation: str = "primus-safe.user.name"
    timeout: float = Field(15.0, gt=0)
    retries: int = Field(3, ge=0, le=10)
    # how long the names a question is resolved against (clusters, namespaces, users, label
    # keys, workload lookups) are reused before being fetched again; 0 = every question
    catalog_ttl_s: float = Field(300.0, ge=0, le=86400)

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return validate_database_url(v)

    @field_validator("databases")
    @classmethod
    def _urls(cls, v: dict[str, str]) -> dict[str, str]:
        return {cluster: validate_database_url(url) for cluster, url in v.items()}


class LLMSettings(Strict):
    provider: str = "openai"
    model: str | None = None
    api_key: SecretStr | None = None
    base_url: str | None = None
    timeout: float = Field(20.0, gt=0)
    max_retries: int = Field(0, ge=0, le=5)  # the agent does its own fallback; see understand/llm.py

    @property
    def enabled(self) -> bool:
        return bool(self.api_key and self.api_key.get_secret_value())
