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
        from sqlalchemy.engine import make_url

        try:
            make_url(v)
        except Exception as exc:  # noqa: BLE001 - re-raised as a validation error
            raise ValueError(f"not a database URL ({exc})") from None
        return v


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
