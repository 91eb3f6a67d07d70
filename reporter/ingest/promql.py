"""PromQL that turns exporter metrics into the per-hour figures of the Lens tables.

Prometheus does the arithmetic: every figure is one ``query_range`` with a one-hour step whose
expression averages, sums or ranks a per-sample expression over a subquery
``[3599s:<step>]``. Nothing at scrape resolution is downloaded.

Sample alignment (why the odd ``offset`` and ``3599s``). The query for hour ``H`` is evaluated at
``T = H + 1h``. The subquery's points are the multiples of ``step`` in ``[T - 3599s, T]``, i.e.
``H + step, ..., H + 1h``, and every raw selector carries ``offset step/2``: the point at
``H + k·step`` therefore reads the newest sample at or before ``H + (k - ½)·step``. With samples
every ``step`` seconds that is exactly the samples taken in ``[H, H + 1h)``, one each. The half
step matters when data has no staleness markers (backfilled blocks, queried with
``--query.lookback-delta`` equal to the interval): Prometheus' lookback window is closed at its
start, so reading *at* a sample instant would also see the previous sample of a series that
just ended, and count every stopped pod one sample too long. Reading half-way between samples
is unambiguous for any lookback in ``[step/2, 1.5·step)`` and harmless with staleness markers.

Joins. kube-state-metrics describes pods (owner, phase, requests, labels, annotations);
the GPU exporter describes GPUs, labelled with the pod that holds each one. Per-pod series are
joined to per-pod metadata with ``* on (namespace, pod) group_left (...)`` where the metadata
series have the value 1, so the join only adds labels. ``kube_pod_owner`` reaches the top-level
workload directly (Job, PyTorchJob, StatefulSet, ...) or through ``kube_replicaset_owner``
(ReplicaSet -> Deployment); a ReplicaSet without owner is its own workload, and a pod without
owner (or without kube_pod_owner) is a workload of kind ``Pod`` named after itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent.settings import PrometheusSettings

METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# Labels this module introduces; chosen so they cannot clash with kube-state-metrics' own.
WK, WN = "workload_kind", "workload_name"


def ksm_label(prefix: str, key: str) -> str:
    """kube-state-metrics' Prometheus label for a Kubernetes label/annotation key.

    ``primus-safe.user.name`` -> ``annotation_primus_safe_user_name`` (every character outside
    ``[a-zA-Z0-9_]`` becomes ``_``, as kube-state-metrics' ``SanitizeLabelName`` does).
    """
    return prefix + re.sub(r"[^a-zA-Z0-9_]", "_", key)


def q(value: str) -> str:
    """A PromQL string literal (JSON escaping is valid Go/PromQL escaping)."""
    return json.dumps(value)


@dataclass(frozen=True)
class Dimension:
    """One label/annotation key reported in ``label_gpu_hourly_stats``."""

    dimension_type: str  # "label" | "annotation"
    key: str  # the Kubernetes key, e.g. primus-safe.user.name
    prom_label: str  # kube-state-metrics' label, e.g. annotation_primus_safe_user_name
    metric: str  # kube_pod_labels | kube_pod_annotations


class PromQL:
    """Builds every expression the ingest needs from the configured metric and label names."""

    def __init__(self, p: PrometheusSettings):
        self.p = p
        half_ms = p.step * 500
        self.offset = f" offset {half_ms}ms"
        self.window = f"[{3600 - 1}s:{p.step}s]"

    # -- building blocks -------------------------------------------------------------------

    def sel(self, metric: str, *matchers: tuple[str, str, str]) -> str:
        """``metric{l op "v", ...} offset step/2``; values are escaped, names were validated."""
        inner = ", ".join(f"{label}{op}{q(value)}" for label, op, value in matchers)
        return f"{metric}{{{inner}}}{self.offset}"

    def capacity(self) -> str:
        """GPUs the nodes offer, one sample: Σ node capacity of the GPU resource."""
        p = self.p
        return f"sum({self.sel(p.capacity_metric, ('resource', '=', p.gpu_resource))})"

    def running(self) -> str:
        p = self.p
        return f"({self.sel(p.pod_phase_metric, ('phase', '=', 'Running'))} == 1)"

    def alloc_pod(self) -> str:
        """Per (namespace, pod): GPUs requested by its containers, only while it is Running."""
        p = self.p
        req = self.sel(p.requests_metric, ("resource", "=", p.gpu_resource))
        return (f"((sum by (namespace, pod) ({req}) > 0) "
                f"and on (namespace, pod) {self.running()})")

    def util_gpu(self) -> str:
        """Per GPU held by a pod: utilization in percent, with KSM's namespace/pod label names.

        The exporter's own labels may name the pod differently (``exported_pod`` when Prometheus
        did not honour the exporter's labels, other names on AMD); they are copied onto
        ``namespace``/``pod``, overwriting the exporter's own, so the joins below line up.
        """
        p = self.p
        ns, pod = p.utilization_namespace_label, p.utilization_pod_label
        expr = self.sel(p.utilization_metric, (pod, "!=", ""), (ns, "!=", ""))
        if pod != "pod":
            expr = f'label_replace({expr}, "pod", "$1", {q(pod)}, "(.+)")'
        if ns != "namespace":
            expr = f'label_replace({expr}, "namespace", "$1", {q(ns)}, "(.+)")'
        return expr

    def pod_workload(self) -> str:
        """Per (namespace, pod), value 1: the pod's top-level workload as workload_kind/_name."""
        p = self.p
        owner, rs_owner = p.pod_owner_metric, p.replicaset_owner_metric
        by = f"max by (namespace, pod, {WK}, {WN})"

        def relabel(expr: str, kind_src: str | None, kind_value: str | None,
                    name_src: str) -> str:
            if kind_src:
                expr = f'label_replace({expr}, "{WK}", "$1", {q(kind_src)}, "(.+)")'
            else:
                expr = f'label_replace({expr}, "{WK}", {q(kind_value or "")}, "", "")'
            return f'label_replace({expr}, "{WN}", "$1", {q(name_src)}, "(.+)")'

        direct = relabel(self.sel(owner, ("owner_kind", "!~", "ReplicaSet|<none>|"),
                                  ("owner_is_controller", "!=", "false")),
                         "owner_kind", None, "owner_name")
        # ReplicaSet -> its controller (a Deployment, usually). The ReplicaSet's name is moved
        # into owner_name so it matches the pod's owner_name.
        rs = relabel(self.sel(rs_owner, ("owner_kind", "!~", "<none>|"),
                              ("owner_is_controller", "!=", "false")),
                     "owner_kind", None, "owner_name")
        rs = f'label_replace({rs}, "owner_name", "$1", "replicaset", "(.+)")'
        via_rs = (f"{self.sel(owner, ('owner_kind', '=', 'ReplicaSet'))} "
                  f"* on (namespace, owner_name) group_left ({WK}, {WN}) "
                  f"max by (namespace, owner_name, {WK}, {WN}) ({rs})")
        bare_rs = relabel(self.sel(owner, ("owner_kind", "=", "ReplicaSet")),
                          None, "ReplicaSet", "owner_name")
        no_owner = relabel(self.sel(owner, ("owner_kind", "=", "<none>")), None, "Pod", "pod")
        # pods that kube_pod_owner does not describe at all still get a workload: themselves
        fallback = relabel(self.sel(p.pod_phase_metric, ("phase", "=", "Running")),
                           None, "Pod", "pod")
        parts = [direct, via_rs, bare_rs, no_owner, fallback]
        return " or on (namespace, pod) ".join(f"({by} ({x}))" for x in parts)

    def pod_dimension(self, dim: Dimension) -> str:
        """Per (namespace, pod), value 1, carrying the dimension's label (absent if unset)."""
        every_pod = f"max by (namespace, pod) ({self.sel(self.p.pod_phase_metric, ('phase', '=', 'Running'))})"
        return (f"(max by (namespace, pod, {dim.prom_label}) ({self.sel(dim.metric)})"
                f" or on (namespace, pod) {every_pod})")

    @staticmethod
    def join(expr: str, labels: list[str], meta: str) -> str:
        return f"({expr} * on (namespace, pod) group_left ({', '.join(labels)}) {meta})"

    def with_workload(self, expr: str) -> str:
        return self.join(expr, [WK, WN], f"({self.pod_workload()})")

    def with_dimension(self, expr: str, dim: Dimension) -> str:
        return self.join(expr, [dim.prom_label], self.pod_dimension(dim))

    # -- per-hour figures ----------------------------------------------------------------

    def over_hour(self, fn: str, inner: str, param: str | None = None) -> str:
        arg = f"{param}, " if param is not None else ""
        return f"{fn}({arg}({inner}){self.window})"

    def hourly_set(self, group: list[str], alloc: str, util: str, *, pods: bool = True,
                   spread: bool = False) -> dict[str, str]:
        """The figures of one entity type, grouped by ``group``.

        ``alloc`` is a per-pod GPU series and ``util`` a per-GPU utilization series, both already
        joined to the labels in ``group``. Keys: ``alloc`` (Σ GPUs over the hour's samples),
        ``util`` (GPU-sample-weighted mean utilization), ``umax``/``umin`` (of the per-sample
        GPU-weighted utilization), ``pods`` (Σ pod count over samples); with ``spread`` also
        ``p50``/``p95``, ``samples`` (samples in which the entity ran), ``rmax``/``rmin`` (pods)
        and ``gmax`` (peak GPUs held).
        """
        by = f"by ({', '.join(group)})"
        per_sample_util = f"sum {by} ({util}) / count {by} ({util})"
        out = {
            "alloc": self.over_hour("sum_over_time", f"sum {by} ({alloc})"),
            "util": (f"{self.over_hour('sum_over_time', f'sum {by} ({util})')} / "
                     f"{self.over_hour('sum_over_time', f'count {by} ({util})')}"),
            "umax": self.over_hour("max_over_time", per_sample_util),
            "umin": self.over_hour("min_over_time", per_sample_util),
        }
        if pods:
            out["pods"] = self.over_hour("sum_over_time", f"count {by} ({alloc})")
        if spread:
            out["p50"] = self.over_hour("quantile_over_time", per_sample_util, "0.5")
            out["p95"] = self.over_hour("quantile_over_time", per_sample_util, "0.95")
            out["samples"] = self.over_hour("count_over_time", f"count {by} ({alloc})")
            out["rmax"] = self.over_hour("max_over_time", f"count {by} ({alloc})")
            out["rmin"] = self.over_hour("min_over_time", f"count {by} ({alloc})")
            out["gmax"] = self.over_hour("max_over_time", f"sum {by} ({alloc})")
        return out

    def cluster_queries(self) -> dict[str, str]:
        alloc, util = self.alloc_pod(), self.util_gpu()
        out = self.hourly_set([], alloc, util, pods=False)
        out["p50"] = self.over_hour("quantile_over_time", f"sum({util}) / count({util})", "0.5")
        out["p95"] = self.over_hour("quantile_over_time", f"sum({util}) / count({util})", "0.95")
        out["n"] = self.over_hour("count_over_time", self.capacity())
        out["cap"] = self.over_hour("avg_over_time", self.capacity())
        return {f"cluster.{k}": v for k, v in out.items()}

    def namespace_queries(self) -> dict[str, str]:
        out = self.hourly_set(["namespace"], self.alloc_pod(), self.util_gpu())
        return {f"namespace.{k}": v for k, v in out.items()}

    def workload_queries(self, user: Dimension) -> dict[str, str]:
        group = ["namespace", WK, WN]
        alloc = self.with_workload(self.alloc_pod())
        util = self.with_workload(self.util_gpu())
        out = self.hourly_set(group, alloc, util, spread=True)
        # the GPU-samples per (workload, user): Σ over users = "alloc"; the largest names the user
        by_user = self.with_dimension(alloc, user)
        out["alloc_user"] = self.over_hour(
            "sum_over_time", f"sum by ({', '.join(group + [user.prom_label])}) ({by_user})")
        del out["alloc"]
        return {f"workload.{k}": v for k, v in out.items()}

    def dimension_queries(self, index: int, dim: Dimension) -> dict[str, str]:
        alloc = self.with_dimension(self.alloc_pod(), dim)
        util = self.with_dimension(self.util_gpu(), dim)
        out = self.hourly_set([dim.prom_label], alloc, util)
        return {f"dim{index}.{k}": v for k, v in out.items()}

    # -- the allocation snapshot at each hour's last sample ------------------------------

    def snapshot_queries(self, dims: list[Dimension]) -> dict[str, str]:
        """Instant expressions (no subquery): per-pod GPUs with workload and dimension labels,
        per-pod utilization and the capacity, read at the hour's last sample."""
        pods = self.with_workload(self.alloc_pod())
        for dim in dims:
            pods = self.with_dimension(pods, dim)
        return {
            "snap.pods": pods,
            "snap.util": f"avg by (namespace, pod) ({self.util_gpu()})",
            "snap.cap": self.capacity(),
        }


def validate_names(p: PrometheusSettings) -> list[str]:
    """Config mistakes in metric/label names, as ``key: reason`` strings (empty when fine)."""
    problems = []
    for key in ("utilization_metric", "requests_metric", "capacity_metric", "pod_owner_metric",
                "replicaset_owner_metric", "pod_annotations_metric", "pod_labels_metric",
                "pod_phase_metric"):
        if not METRIC_RE.match(getattr(p, key)):
            problems.append(f"prometheus.{key}: not a Prometheus metric name")
    for key in ("utilization_namespace_label", "utilization_pod_label", "user_annotation_label"):
        if not LABEL_RE.match(getattr(p, key)):
            problems.append(f"prometheus.{key}: not a Prometheus label name")
    if 3600 % p.step:
        problems.append("prometheus.step: must divide 3600 (one hour) evenly")
    return problems
