"""The Lens tables as SQLAlchemy Core objects (lens.md §5).

One definition shared by the `sql` source (which only reads), the demo generator and the
Prometheus ingest (which write into gpureport's own store). Names, types and indexes follow
Lens' hand-applied migrations so that ``metadata.create_all`` on an empty PostgreSQL database
produces a database a Lens deployment would recognise, and so that the `sql` source can point at
a real Lens database unchanged. Timestamps are ``timestamp without time zone`` holding UTC wall
clock, as Lens writes them: callers pass naive UTC datetimes.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)

from agent.sqltypes import DoublePrecision, JsonDocument

metadata = MetaData()
Double = DoublePrecision()
Json = JsonDocument()


def _bookkeeping() -> list[Column]:
    return [
        Column("created_at", DateTime(timezone=False), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=False), nullable=False, server_default=func.now()),
    ]


def _utilization(*names: str) -> list[Column]:
    return [Column(n, Double, nullable=False, server_default=text("0")) for n in names]


cluster_hourly = Table(
    "cluster_gpu_hourly_stats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster_name", String(100), nullable=False),
    Column("stat_hour", DateTime(timezone=False), nullable=False),
    Column("total_gpu_capacity", Integer, nullable=False, server_default=text("0")),
    Column("allocated_gpu_count", Double, nullable=False, server_default=text("0")),
    Column("allocation_rate", Double, nullable=False, server_default=text("0")),
    *_utilization("avg_utilization", "max_utilization", "min_utilization",
                  "p50_utilization", "p95_utilization"),
    Column("sample_count", Integer, nullable=False, server_default=text("0")),
    *_bookkeeping(),
)
Index("idx_cluster_gpu_hourly_cluster_hour", cluster_hourly.c.cluster_name,
      cluster_hourly.c.stat_hour.desc(), unique=True)
Index("idx_cluster_gpu_hourly_hour", cluster_hourly.c.stat_hour.desc())

namespace_hourly = Table(
    "namespace_gpu_hourly_stats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster_name", String(100), nullable=False),
    Column("namespace", String(253), nullable=False),
    Column("stat_hour", DateTime(timezone=False), nullable=False),
    Column("total_gpu_capacity", Integer, nullable=False, server_default=text("0")),
    Column("allocated_gpu_count", Double, nullable=False, server_default=text("0")),
    *_utilization("avg_utilization", "max_utilization", "min_utilization"),
    Column("active_workload_count", Integer, nullable=False, server_default=text("0")),
    *_bookkeeping(),
)
Index("idx_namespace_gpu_hourly_cluster_ns_hour", namespace_hourly.c.cluster_name,
      namespace_hourly.c.namespace, namespace_hourly.c.stat_hour.desc(), unique=True)
Index("idx_namespace_gpu_hourly_cluster_hour", namespace_hourly.c.cluster_name,
      namespace_hourly.c.stat_hour.desc())
Index("idx_namespace_gpu_hourly_ns_hour", namespace_hourly.c.namespace,
      namespace_hourly.c.stat_hour.desc())

label_hourly = Table(
    "label_gpu_hourly_stats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster_name", String(100), nullable=False),
    Column("dimension_type", String(20), nullable=False),
    Column("dimension_key", String(255), nullable=False),
    Column("dimension_value", Text, nullable=False),
    Column("stat_hour", DateTime(timezone=False), nullable=False),
    Column("allocated_gpu_count", Double, nullable=False, server_default=text("0")),
    *_utilization("avg_utilization", "max_utilization", "min_utilization"),
    Column("active_workload_count", Integer, nullable=False, server_default=text("0")),
    *_bookkeeping(),
)
Index("idx_label_gpu_hourly_cluster_type_key_value_hour", label_hourly.c.cluster_name,
      label_hourly.c.dimension_type, label_hourly.c.dimension_key,
      label_hourly.c.dimension_value, label_hourly.c.stat_hour.desc(), unique=True)
Index("idx_label_gpu_hourly_cluster_hour", label_hourly.c.cluster_name,
      label_hourly.c.stat_hour.desc())
Index("idx_label_gpu_hourly_type_key_hour", label_hourly.c.dimension_type,
      label_hourly.c.dimension_key, label_hourly.c.stat_hour.desc())

workload_hourly = Table(
    "workload_gpu_hourly_stats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster_name", String(100), nullable=False),
    Column("namespace", String(253), nullable=False),
    Column("workload_name", String(253), nullable=False),
    Column("workload_type", String(50), nullable=False),
    Column("stat_hour", DateTime(timezone=False), nullable=False),
    Column("allocated_gpu_count", Double, nullable=False, server_default=text("0")),
    Column("requested_gpu_count", Double, nullable=False, server_default=text("0")),
    *_utilization("avg_utilization", "max_utilization", "min_utilization",
                  "p50_utilization", "p95_utilization"),
    *_utilization("avg_gpu_memory_used", "max_gpu_memory_used", "avg_gpu_memory_total"),
    Column("avg_replica_count", Double, nullable=False, server_default=text("0")),
    Column("max_replica_count", Integer, nullable=False, server_default=text("0")),
    Column("min_replica_count", Integer, nullable=False, server_default=text("0")),
    Column("workload_status", String(50), nullable=True),
    Column("sample_count", Integer, nullable=False, server_default=text("0")),
    Column("owner_uid", String(255), nullable=True),
    Column("owner_name", String(255), nullable=True),
    Column("labels", Json, nullable=False, server_default=text("'{}'")),
    Column("annotations", Json, nullable=False, server_default=text("'{}'")),
    *_bookkeeping(),
)
Index("idx_workload_gpu_hourly_cluster_ns_wl_hour", workload_hourly.c.cluster_name,
      workload_hourly.c.namespace, workload_hourly.c.workload_name,
      workload_hourly.c.stat_hour.desc(), unique=True)
Index("idx_workload_gpu_hourly_cluster_hour", workload_hourly.c.cluster_name,
      workload_hourly.c.stat_hour.desc())
Index("idx_workload_gpu_hourly_ns_hour", workload_hourly.c.namespace,
      workload_hourly.c.stat_hour.desc())
Index("idx_workload_gpu_hourly_name_hour", workload_hourly.c.workload_name,
      workload_hourly.c.stat_hour.desc())
Index("idx_workload_gpu_hourly_type_hour", workload_hourly.c.workload_type,
      workload_hourly.c.stat_hour.desc())
Index("idx_workload_gpu_hourly_hour", workload_hourly.c.stat_hour.desc())

snapshots = Table(
    "gpu_allocation_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster_name", String(100), nullable=False),
    Column("snapshot_time", DateTime(timezone=False), nullable=False),
    Column("dimension_type", String(20), nullable=False),
    Column("dimension_key", String(255), nullable=True),
    Column("dimension_value", Text, nullable=True),
    Column("total_gpu_capacity", Integer, nullable=False, server_default=text("0")),
    Column("allocated_gpu_count", Integer, nullable=False, server_default=text("0")),
    Column("allocation_details", Json, nullable=False, server_default=text("'{}'")),
    Column("created_at", DateTime(timezone=False), nullable=False, server_default=func.now()),
)
Index("idx_gpu_allocation_snapshots_cluster_time", snapshots.c.cluster_name,
      snapshots.c.snapshot_time.desc())
Index("idx_gpu_allocation_snapshots_time", snapshots.c.snapshot_time.desc())
Index("idx_gpu_allocation_snapshots_dim_time", snapshots.c.cluster_name,
      snapshots.c.dimension_type, snapshots.c.dimension_key, snapshots.c.dimension_value,
      snapshots.c.snapshot_time.desc())

# Top-level workloads as the SaFE adapter / Lens exporter record them (setup_primus_lens.sql).
# Every column is nullable; gpureport reads namespace, name, kind, parent_uid and annotations
# (the user annotation) from it.
gpu_workload = Table(
    "gpu_workload",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_version", String(128)),
    Column("kind", String(64)),
    Column("namespace", String(64)),
    Column("name", String(64)),
    Column("uid", String(128)),
    Column("parent_uid", String(128)),
    Column("gpu_request", Integer),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("deleted_at", DateTime(timezone=True)),
    Column("end_at", DateTime(timezone=True)),
    Column("status", String(64)),
    Column("source", String(64)),
    Column("labels", Json),
    Column("annotations", Json),
)
Index("idx_gpu_workload_uid", gpu_workload.c.uid)
Index("idx_gpu_workload_ns_name", gpu_workload.c.namespace, gpu_workload.c.name)

HOURLY_TABLES = (cluster_hourly, namespace_hourly, label_hourly, workload_hourly)

# -- read only, outside the Lens metadata (never created by create_all) -----------------------
# What tells a cluster's GPU model (agent.prices): Lens' pod_resource.gpu_model in a cluster's
# own database (lens.md §5), and the mark gpureport's writers leave per cluster (the demo and
# ingest write "gpu_model" into its details; reporter.store_marker owns that table).
extra_metadata = MetaData()
pod_resource = Table(
    "pod_resource", extra_metadata,
    Column("uid", String(128)),
    Column("gpu_model", String(128)),
    Column("gpu_allocated", Integer),
)
store_mark = Table(
    "gpureport_store", extra_metadata,
    Column("cluster", String(100), primary_key=True),
    Column("details", Text),
)
