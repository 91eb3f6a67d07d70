"""PromQL that turns exporter metrics into the per-hour figures of the Lens tables.

Prometheus does the arithmetic: every figure is one ``query_range`` with a one-hour step (the
value at ``T = H + 1h`` describes hour ``H``) that sums, averages or ranks samples inside
Prometheus; what comes back is one number per entity and hour, never samples.

Two kinds of expression, chosen for cost:

* **Additive figures** (GPU-samples, utilization sums and counts, pod-samples) are sums over the
  hour's raw samples per pod, read with range selectors (``sum_over_time(m[3600s] offset ½step)``),
  then joined to the pod's metadata and summed per entity once per hour. A pod's GPU requests
  cannot change during its life, so its GPU-samples are its requested GPUs × the number of
  samples in which ``kube_pod_status_phase{phase="Running"}`` was 1. No per-sample evaluation.
* **Per-sample statistics** (max/min/p50/p95 of an entity's GPU-weighted utilization, replica
  counts, samples in which a workload ran, its peak GPUs) need the entity's value at each
  sample: a subquery ``[3599s:<step>]`` evaluates the joined expression at ``H + step, ...,
  H + 1h``.

Sample alignment. Both read the samples taken in ``[H - ½step, H + 1h - ½step)``: range
selectors through ``offset ½step`` (ranges are closed in Prometheus 2.x), subquery points at
``H + k·step`` through selectors with the same offset, which pick the newest sample at or before
``H + (k - ½)·step``. Reading half-way between samples matters when data has no staleness
markers (backfilled blocks, queried with ``--query.lookback-delta`` equal to the interval): the
lookback window is closed at its start, so reading *at* a sample instant would also see the
previous sample of a series that just ended and count every stopped pod one sample too long.

Joins. kube-state-metrics describes pods (owner, phase, requests, labels, annotations), the GPU
exporter describes GPUs labelled with the pod holding each one. Per-pod series are joined to
per-pod metadata with ``* on (namespace, pod) group_left (...)``; metadata series have the value
1, so the join only adds labels. ``kube_pod_owner`` reaches the top-level workload directly (Job,
PyTorchJob, StatefulSet, ...) or through ``kube_replicaset_owner`` (ReplicaSet -> Deployment); a
ReplicaSet without owner is its own workload, a pod without owner (or without kube_pod_owner) is
a workload of kind ``Pod`` named after itself.
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

    def __init__(self, p: PrometheusSettings, span_hours: int):
        self.p = p
        half_ms = p.step * 500
        self.offset = f" offset {half_ms}ms"
        self.window = f"[{3600 - 1}s:{p.step}s]"
        self.spread_window = f"[{3600 - 1}s:{p.spread_step}s]"
        # the queried hours plus one step: an hour's first sample may precede it by step/2
        self.span = f"[{span_hours * 3600 + p.step}s]"

    # -- building blocks -------------------------------------------------------------------

    def sel(self, metric: str, *matchers: tuple[str, str, str]) -> str:
        """``metric{l op "v", ...} offset step/2``; values are escaped, names were validated."""
        inner = ", ".join(f"{label}{op}{q(value)}" for label, op, value in matchers)
        return f"{metric}{{{inner}}}{self.offset}"

    def meta(self, metric: str, *matchers: tuple[str, str, str]) -> str:
        """Pod metadata over the whole queried range, evaluated once per query.

        ``last_over_time(m[span] @ end())`` holds every pod that existed at any time in the
        queried hours. Because of the ``@``, Prometheus evaluates everything built from it once
        (a step-invariant expression) instead of at every sample of every hour, which is what
        makes the per-sample joins affordable. Owners, labels and annotations do not change
        during a pod's life; a pod *name* reused within one range with different metadata is
        attributed to one of its incarnations (``topk by (namespace, pod) (1, ...)``).
        """
        inner = ", ".join(f"{label}{op}{q(value)}" for label, op, value in matchers)
        return f"last_over_time({metric}{{{inner}}}{self.span} @ end())"

    def rng(self, metric: str, *matchers: tuple[str, str, str]) -> str:
        """The hour's raw samples: ``metric{...}[3600s] offset step/2``."""
        inner = ", ".join(f"{label}{op}{q(value)}" for label, op, value in matchers)
        return f"{metric}{{{inner}}}[3600s]{self.offset}"

    def relabel_util(self, expr: str) -> str:
        """Copy the exporter's pod/namespace labels onto ``pod``/``namespace`` (see util_gpu)."""
        p = self.p
        ns, pod = p.utilization_namespace_label, p.utilization_pod_label
        if pod != "pod":
            expr = f'label_replace({expr}, "pod", "$1", {q(pod)}, "(.+)")'
        if ns != "namespace":
            expr = f'label_replace({expr}, "namespace", "$1", {q(ns)}, "(.+)")'
        return expr

    def util_matchers(self) -> tuple[tuple[str, str, str], ...]:
        p = self.p
        return ((p.utilization_pod_label, "!=", ""), (p.utilization_namespace_label, "!=", ""))

    def pod_hourly(self) -> dict[str, str]:
        """Per (namespace, pod) sums over the hour's samples, for the additive figures.

        ``alloc``: GPU-samples (requested GPUs × samples Running); ``pods``: samples in which the
        GPU pod ran; ``usum``/``ucnt``: Σ utilization and number of GPU samples of its GPUs.
        """
        p = self.p
        # one value per container: kube-state-metrics starts a new series when the pod is
        # scheduled (its `node` label changes) or re-created under the same name (`uid`)
        gpus = (f"(sum by (namespace, pod) (max by (namespace, pod, container) (max_over_time("
                f"{self.rng(p.requests_metric, ('resource', '=', p.gpu_resource))}))) > 0)")
        run = (f"(sum by (namespace, pod) (sum_over_time("
               f"{self.rng(p.pod_phase_metric, ('phase', '=', 'Running'))})) > 0)")
        util = self.rng(p.utilization_metric, *self.util_matchers())
        return {
            "alloc": f"({gpus} * on (namespace, pod) {run})",
            "pods": f"({run} and on (namespace, pod) {gpus})",
            "usum": f"sum by (namespace, pod) ({self.relabel_util(f'sum_over_time({util})')})",
            "ucnt": f"sum by (namespace, pod) ({self.relabel_util(f'count_over_time({util})')})",
        }

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
        return (f"((sum by (namespace, pod) (max by (namespace, pod, container) ({req})) > 0) "
                f"and on (namespace, pod) {self.running()})")

    def util_gpu(self) -> str:
        """Per GPU held by a pod, at one sample: utilization in percent, labelled with KSM's
        ``namespace``/``pod``.

        The exporter may name the pod's labels differently (``exported_pod``/
        ``exported_namespace`` when Prometheus did not honour the exporter's labels; other names
        on AMD); they are copied onto ``namespace``/``pod``, overwriting the exporter's own.
        """
        return self.relabel_util(self.sel(self.p.utilization_metric, *self.util_matchers()))

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

        direct = relabel(self.meta(owner, ("owner_kind", "!~", "ReplicaSet|<none>|"),
                                  ("owner_is_controller", "!=", "false")),
                         "owner_kind", None, "owner_name")
        # ReplicaSet -> its controller (a Deployment, usually). The ReplicaSet's name is moved
        # into owner_name so it matches the pod's owner_name.
        rs = relabel(self.meta(rs_owner, ("owner_kind", "!~", "<none>|"),
                              ("owner_is_controller", "!=", "false")),
                     "owner_kind", None, "owner_name")
        rs = f'label_replace({rs}, "owner_name", "$1", "replicaset", "(.+)")'
        via_rs = (f"{self.meta(owner, ('owner_kind', '=', 'ReplicaSet'))} "
                  f"* on (namespace, owner_name) group_left ({WK}, {WN}) "
                  f"max by (namespace, owner_name, {WK}, {WN}) ({rs})")
        bare_rs = relabel(self.meta(owner, ("owner_kind", "=", "ReplicaSet")),
                          None, "ReplicaSet", "owner_name")
        no_owner = relabel(self.meta(owner, ("owner_kind", "=", "<none>")), None, "Pod", "pod")
        # pods that kube_pod_owner does not describe at all still get a workload: themselves
        fallback = relabel(self.meta(p.pod_phase_metric, ("phase", "=", "Running")),
                           None, "Pod", "pod")
        parts = [direct, via_rs, bare_rs, no_owner, fallback]
        chain = " or on (namespace, pod) ".join(f"({by} ({x}))" for x in parts)
        return f"topk by (namespace, pod) (1, {chain})"

    def pod_dimension(self, dim: Dimension) -> str:
        """Per (namespace, pod), value 1, carrying the dimension's label (absent if unset)."""
        phase = self.meta(self.p.pod_phase_metric, ("phase", "=", "Running"))
        every_pod = f"max by (namespace, pod) ({phase})"
        return (f"topk by (namespace, pod) (1, max by (namespace, pod, {dim.prom_label}) "
                f"({self.meta(dim.metric)}) or on (namespace, pod) {every_pod})")

    @staticmethod
    def join(expr: str, labels: list[str], meta: str) -> str:
        return f"({expr} * on (namespace, pod) group_left ({', '.join(labels)}) {meta})"

    def gpu_pods(self) -> str:
        """Per (namespace, pod) of the queried range that requested GPUs, step-invariant."""
        p = self.p
        req = self.meta(p.requests_metric, ("resource", "=", p.gpu_resource))
        return f"(sum by (namespace, pod) ({req}) > 0)"

    def with_workload(self, expr: str, gpu_only: bool = False) -> str:
        meta = f"({self.pod_workload()})"
        if gpu_only:
            meta = f"({meta} and on (namespace, pod) {self.gpu_pods()})"
        return self.join(expr, [WK, WN], meta)

    def with_dimension(self, expr: str, dim: Dimension) -> str:
        return self.join(expr, [dim.prom_label], self.pod_dimension(dim))

    # -- per-hour figures ----------------------------------------------------------------

    def over_hour(self, fn: str, inner: str, param: str | None = None, *,
                  spread: bool = False) -> str:
        """``fn`` over the hour's samples of ``inner`` (every ``step``; every ``spread_step``
        for the utilization spread statistics)."""
        arg = f"{param}, " if param is not None else ""
        return f"{fn}({arg}({inner}){self.spread_window if spread else self.window})"

    def hourly_set(self, group: list[str], join=None, *, pods: bool = True,
                   spread: bool = False) -> dict[str, str]:
        """The figures of one entity type, grouped by ``group``.

        ``join`` adds the ``group`` labels to a per-pod or per-GPU series (None when they are
        there already: cluster, namespace). Keys: ``alloc`` (Σ GPU-samples), ``util``
        (GPU-sample-weighted mean utilization), ``umax``/``umin`` (of the per-sample GPU-weighted
        utilization), ``pods`` (Σ pod-samples); with ``spread`` also ``p50``/``p95``,
        ``samples`` (samples in which the entity ran) and ``rmax``/``rmin`` (pods at a sample);
        ``spread`` needs a ``join`` that accepts ``gpu_only`` (``with_workload``).

        The utilization statistics (max, min, quantiles) are taken every ``spread_step``
        (default 5 minutes, Lens' sampling interval): a per-sample join costs pods × samples,
        and at 1-minute resolution these few columns would cost more than everything else.
        """
        join = join or (lambda e: e)
        by = f"by ({', '.join(group)})"
        pod = self.pod_hourly()

        def total(name: str) -> str:
            return f"sum {by} ({join(pod[name])})"

        per_sample_util = f"avg {by} ({join(self.util_gpu())})"
        out = {
            "alloc": total("alloc"),
            "util": f"{total('usum')} / {total('ucnt')}",
            "umax": self.over_hour("max_over_time", per_sample_util, spread=True),
            "umin": self.over_hour("min_over_time", per_sample_util, spread=True),
        }
        if pods:
            out["pods"] = total("pods")
        if spread:
            out["p50"] = self.over_hour("quantile_over_time", per_sample_util, "0.5", spread=True)
            out["p95"] = self.over_hour("quantile_over_time", per_sample_util, "0.95", spread=True)
            # running GPU pods per sample: the phase series joined to metadata of GPU pods only
            # (cheaper than summing requests at every sample; requests cannot change anyway)
            running = f"count {by} ({join(self.running(), gpu_only=True)})"
            out["samples"] = self.over_hour("count_over_time", running)
            out["rmax"] = self.over_hour("max_over_time", running)
            out["rmin"] = self.over_hour("min_over_time", running)
        return out

    def cluster_queries(self) -> dict[str, str]:
        p = self.p
        out = self.hourly_set([], pods=False)
        util = self.util_gpu()
        out["p50"] = self.over_hour("quantile_over_time", f"avg({util})", "0.5", spread=True)
        out["p95"] = self.over_hour("quantile_over_time", f"avg({util})", "0.95", spread=True)
        cap = self.rng(p.capacity_metric, ("resource", "=", p.gpu_resource))
        # samples in the hour at which kube-state-metrics reported, and the mean capacity
        out["n"] = f"max(count_over_time({cap}))"
        out["cap"] = f"sum(sum_over_time({cap})) / max(count_over_time({cap}))"
        # GPUs per model label in the hour (the cluster's GPU model, for model prices)
        out["models"] = (f"count by ({p.model_label}) "
                         f"(last_over_time({self.rng(p.utilization_metric)}))")
        return {f"cluster.{k}": v for k, v in out.items()}

    def namespace_queries(self) -> dict[str, str]:
        out = self.hourly_set(["namespace"])
        return {f"namespace.{k}": v for k, v in out.items()}

    def workload_queries(self, user: Dimension) -> dict[str, str]:
        group = ["namespace", WK, WN]
        out = self.hourly_set(group, self.with_workload, spread=True)
        # GPU-samples per (workload, user): their sum is "alloc"; the largest names the user
        del out["alloc"]
        per_pod = self.pod_hourly()["alloc"]
        out["alloc_user"] = (f"sum by ({', '.join(group + [user.prom_label])}) "
                             f"({self.with_dimension(self.with_workload(per_pod), user)})")
        return {f"workload.{k}": v for k, v in out.items()}

    def dimension_queries(self, index: int, dim: Dimension) -> dict[str, str]:
        out = self.hourly_set([dim.prom_label], lambda e: self.with_dimension(e, dim))
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
    for key in ("utilization_namespace_label", "utilization_pod_label", "user_annotation_label",
                "model_label"):
        if not LABEL_RE.match(getattr(p, key)):
            problems.append(f"prometheus.{key}: not a Prometheus label name")
    if 3600 % p.step:
        problems.append("prometheus.step: must divide 3600 (one hour) evenly")
    if 3600 % p.spread_step or p.spread_step % p.step:
        problems.append("prometheus.spread_step: must divide 3600 and be a multiple of step")
    return problems
