"""The figures of product.md §4, computed by code from source sums — never by a language model.

Each function returns the JSON-ready dict that ``ask --json`` puts under ``figures`` for its
intent (product.md §6). Percentages are 0–100 and carry full precision; rounding happens only at
display.

Comparison convention: ``a`` is the reference and ``b`` the subject, ``delta = b − a``. For two
periods ``a`` is the earlier (baseline) and ``b`` the later; for two entities they are in the
order the question named them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable, Iterable, TypeVar

from agent import families, workers
from agent.coverage import coverage, no_data
from agent.periods import Period, iso
from agent.snapshot import realtime  # noqa: F401 - realtime figures live in agent.snapshot
from agent.sources.base import HourlyPoint, PeriodStats, Scope, Source, daily_from_hourly

T = TypeVar("T")


def run_concurrently(*calls: Callable[[], T]) -> list[T]:
    """Independent source calls in parallel (I/O-bound: database round trips, HTTP)."""
    if len(calls) == 1:
        return [calls[0]()]
    out: list = [None] * len(calls)
    for i, result in workers.run_all(list(calls), 6):
        out[i] = result
    return out


def pct_change(before: float, after: float) -> float | None:
    return (after - before) / before * 100.0 if before else None


def stats_block(stats: PeriodStats, period: Period, label: str | None = None) -> dict:
    return {
        "label": label or period.label,
        "start": iso(period.start),
        "end": iso(period.end),
        "avg_utilization": stats.avg_utilization,
        "allocation_rate": stats.allocation_rate,
        "gpu_hours": stats.gpu_hours,
        "idle_gpu_hours": stats.idle_gpu_hours,
        "workloads": stats.workloads,
    }


def _slope(values: list[float]) -> float:
    """Least-squares slope of consecutive values, per step (0 for fewer than two)."""
    n = len(values)
    if n < 2:
        return 0.0
    xm, ym = (n - 1) / 2, sum(values) / n
    return sum((i - xm) * (v - ym) for i, v in enumerate(values)) / sum((i - xm) ** 2 for i in range(n))


def daily(series: list[HourlyPoint], period: Period) -> list[dict]:
    """The full UTC days of ``period`` with rows, each its GPU-hour weighted averages (the
    hours are SQL sums; a day adds 24 of them). answers.md §6: trend wording uses these."""
    return [{"day": d.time.date().isoformat(), "avg_utilization": d.avg_utilization,
             "allocation_rate": d.allocation_rate, "gpu_hours": d.allocated_gpus}
            for d in daily_from_hourly(series)
            if period.start_utc <= d.time and d.time + timedelta(days=1) <= period.end_utc]


def by_cluster(source: Source, scope: Scope, period: Period) -> list[dict]:
    """One entity's figures per cluster when its scope spans several (answers.md §4): the
    clusters where it has rows, largest first."""
    if scope.cluster is not None:
        return []
    names = source.clusters()
    if len(names) < 2:
        return []
    stats = run_concurrently(*[lambda c=c: source.period_stats(scope.with_(cluster=c), period.start,
                                                               period.end) for c in names])
    rows = [{**stats_block(st, period), "cluster": c, "name": scope.name if scope.kind != "cluster" else c}
            for c, st in zip(names, stats) if st.rows]
    return sorted(rows, key=lambda r: (-r["gpu_hours"], r["cluster"]))


def trend(source: Source, scope: Scope, period: Period, metric: str = "utilization") -> dict:
    # coverage rides with the totals and the per-cluster split with the series: as many
    # threads as before, so a process's heartbeat thread (runner.py) is not crowded out
    (series, split), (stats, cov) = run_concurrently(
        lambda: (source.hourly_series(scope, period.start, period.end),
                 by_cluster(source, scope, period)),
        lambda: (source.period_stats(scope, period.start, period.end),
                 coverage(source, scope.cluster, period)),
    )
    key = "allocation_rate" if metric == "allocation" else "avg_utilization"
    days = daily(series, period)
    nums = [getattr(p, key) for p in series]
    out = {
        "metric": key,
        "series": [p.as_dict() for p in series],
        "avg_utilization": stats.avg_utilization,
        "allocation_rate": stats.allocation_rate,
        "gpu_hours": stats.gpu_hours,
        "idle_gpu_hours": stats.idle_gpu_hours,
        "workloads": stats.workloads,
        "hours": len(series),
        "daily": days,
        "first": days[0] if days else None,
        "last": days[-1] if days else None,
        "min": min(nums) if nums else None,
        "max": max(nums) if nums else None,
        "slope_pp_per_day": _slope([d[key] for d in days]) if len(days) >= 2 else None,
        "coverage": cov,
    }
    if split:
        out["by_cluster"] = split
    return no_data(out) if not cov["hours"] else out


def compare(source: Source, a: tuple[Scope, Period, str], b: tuple[Scope, Period, str]) -> dict:
    """Two (scope, period, label) triples: two periods of one entity or two entities."""
    (sa, ca), (sb, cb) = run_concurrently(
        lambda: (source.period_stats(a[0], a[1].start, a[1].end), coverage(source, a[0].cluster, a[1])),
        lambda: (source.period_stats(b[0], b[1].start, b[1].end), coverage(source, b[0].cluster, b[1])),
    )
    out = compare_stats(sa, a[1], a[2], sb, b[1], b[2])
    out["a"]["coverage"], out["b"]["coverage"] = ca, cb
    out["kind"] = "entities" if (a[1].start, a[1].end) == (b[1].start, b[1].end) else "periods"
    for side, cov in (("a", ca), ("b", cb)):
        if not cov["hours"]:  # answers.md §2: a side without data is not a measured zero
            out[side] = no_data(out[side])
            for k in ("delta_pp", "delta_pct", "allocation_delta_pp", "gpu_hours_delta",
                      "gpu_hours_delta_pct", "idle_gpu_hours_delta", "idle_gpu_hours_delta_pct"):
                out[k] = None
    return out


def compare_stats(sa: PeriodStats, pa: Period, la: str, sb: PeriodStats, pb: Period, lb: str) -> dict:
    delta = sb.avg_utilization - sa.avg_utilization
    return {
        "a": stats_block(sa, pa, la),
        "b": stats_block(sb, pb, lb),
        "delta_pp": delta,
        "delta_pct": pct_change(sa.avg_utilization, sb.avg_utilization),
        "allocation_delta_pp": sb.allocation_rate - sa.allocation_rate,
        "gpu_hours_delta": sb.gpu_hours - sa.gpu_hours,
        "gpu_hours_delta_pct": pct_change(sa.gpu_hours, sb.gpu_hours),
        "idle_gpu_hours_delta": sb.idle_gpu_hours - sa.idle_gpu_hours,
        "idle_gpu_hours_delta_pct": pct_change(sa.idle_gpu_hours, sb.idle_gpu_hours),
    }


@dataclass
class _Pair:
    name: str
    before: PeriodStats | None
    after: PeriodStats | None

    def get(self, attr: str, which: str) -> float:
        st = self.before if which == "before" else self.after
        return float(getattr(st, attr)) if st is not None else 0.0


def _ident(p: PeriodStats) -> tuple:
    """What tells two rows apart: cluster, namespace, name — and for workloads user and kind,
    since two users' families may share a name (answers.md §7)."""
    return (p.cluster or "", p.namespace or "", p.user or "", p.kind or "", p.name)


def attribute(before: Iterable[PeriodStats], after: Iterable[PeriodStats], kind: str,
              key: Callable[[PeriodStats], object] = _ident,
              members: dict | None = None) -> tuple[float, float, float, list[dict]]:
    """Split the change of GPU-hour weighted utilization between children (product.md §4).

    impact_i = (ΔU_i − (U0/A0)·ΔA_i) / A1 × 100 pp, with U utilized and A allocated GPU-hours.
    The parent's U and A are the sums over the same children, so the impacts add up exactly
    to the returned total change. Children are told apart by ``key`` (cluster, namespace and
    name: the same name in two clusters is two children, answers.md §4). ``members``: the
    member names of workload families by key (answers.md §7). Returns (util_before,
    util_after, total_delta_pp, rows).
    """
    pairs: dict[object, _Pair] = {}
    for st in before:
        pairs.setdefault(key(st), _Pair(st.name, None, None)).before = st
    for st in after:
        pairs.setdefault(key(st), _Pair(st.name, None, None)).after = st
    u0 = sum(p.get("utilized_gpu_hours", "before") for p in pairs.values())
    a0 = sum(p.get("gpu_hours", "before") for p in pairs.values())
    u1 = sum(p.get("utilized_gpu_hours", "after") for p in pairs.values())
    a1 = sum(p.get("gpu_hours", "after") for p in pairs.values())
    r0 = u0 / a0 if a0 else 0.0
    util_before, util_after = r0 * 100.0, (u1 / a1 * 100.0 if a1 else 0.0)
    rows = []
    for k, p in pairs.items():
        du = p.get("utilized_gpu_hours", "after") - p.get("utilized_gpu_hours", "before")
        da = p.get("gpu_hours", "after") - p.get("gpu_hours", "before")
        impact = (du - r0 * da) / a1 * 100.0 if a1 else 0.0
        ref = p.after or p.before
        mem = (members or {}).get(k)
        rows.append({
            "kind": kind,
            "name": p.name,
            **({"cluster": ref.cluster} if ref and ref.cluster else {}),
            "impact_pp": impact,
            "workloads_before": int(p.get("workloads", "before")),
            "workloads_after": int(p.get("workloads", "after")),
            "gpu_hours_before": p.get("gpu_hours", "before"),
            "gpu_hours_after": p.get("gpu_hours", "after"),
            "avg_utilization_before": p.before.avg_utilization if p.before else None,
            "avg_utilization_after": p.after.avg_utilization if p.after else None,
            **({"namespace": ref.namespace} if ref and ref.namespace else {}),
            **({"user": ref.user} if ref and ref.user and kind == "workload" else {}),
            **({"workload_kind": ref.kind} if ref and ref.kind and kind == "workload" else {}),
            **({"members": mem, "runs": len(mem)} if mem else {}),
            "status": "new" if p.before is None or not p.before.gpu_hours else
                      ("gone" if p.after is None or not p.after.gpu_hours else "changed"),
        })
    rows.sort(key=lambda r: (-abs(r["impact_pp"]), r.get("cluster", ""), r["name"]))
    return util_before, util_after, util_after - util_before, rows


def children(source: Source, scope: Scope, child: str, start: datetime, end: datetime,
             label_key: str | None = None) -> list[PeriodStats]:
    """``children_stats`` of a scope; when the scope spans several clusters, asked per cluster
    and each row tagged with its ``cluster`` — never two clusters' rows added under one name
    (answers.md §4)."""
    names = source.clusters() if scope.cluster is None else []
    if len(names) < 2:
        return source.children_stats(scope, child, start, end, label_key=label_key)
    found = run_concurrently(*[
        lambda c=c: source.children_stats(scope.with_(cluster=c), child, start, end,
                                          label_key=label_key) for c in names])
    return [replace(st, cluster=c) for c, rows in zip(names, found) for st in rows]


def users_and_workloads(source: Source, scope: Scope, start: datetime, end: datetime
                        ) -> tuple[list[PeriodStats], list[PeriodStats]]:
    """``children`` at the user and the workload level together: from one scan where the
    source has ``users_and_workloads`` (the sql source), else two ``children_stats`` calls."""
    both = getattr(source, "users_and_workloads", None)
    names = source.clusters() if scope.cluster is None else []
    if both is None or len(names) >= 2:
        return (children(source, scope, "user", start, end),
                children(source, scope, "workload", start, end))
    return both(scope, start, end)


def grouped(*periods: list[PeriodStats]) -> tuple[list[list[PeriodStats]], dict[tuple, list[str]]]:
    """Workload rows of one or more periods with families summed (``agent.families``, judged
    over all the periods together), and the members per ``_ident`` of a family row."""
    names = families.family_names(st for rows in periods for st in rows)
    out, members = [], {}
    for rows in periods:
        merged = families.group(rows, names)
        out.append([st for st, _ in merged])
        for st, mem in merged:
            if mem:
                members.setdefault(_ident(st), set()).update(mem)
    return out, {k: sorted(v) for k, v in members.items()}


def drilldown(source: Source, scope: Scope, current: Period, base: Period,
              top_workloads: int = 10) -> dict:
    """Why did utilization change? Attribution to users then workloads (or namespaces first,
    for a whole cluster). ``before`` and ``after`` are the parent's own figures. Workloads of
    one family count as one (a renamed weekly job contributes ≈ 0)."""
    if scope.kind == "cluster":
        levels = ["namespace"]
    elif scope.kind == "workload":
        levels = []
    elif scope.kind == "user":
        levels = ["workload"]
    else:
        levels = ["user", "workload"]
    both = levels == ["user", "workload"]  # a namespace's two levels: one scan a period
    calls = [lambda p=p: (source.period_stats(scope, p.start, p.end),
                          coverage(source, scope.cluster, p)) for p in (base, current)]
    if both:
        calls += [lambda p=p: users_and_workloads(source, scope, p.start, p.end)
                  for p in (base, current)]
    else:
        calls += [lambda c=c, p=p: children(source, scope, c, p.start, p.end)
                  for c in levels for p in (base, current)]
    (before, cov_before), (after, cov_after), *found = run_concurrently(*calls)
    if both:  # per period (users, workloads) -> per level (before, after)
        found = [found[0][0], found[1][0], found[0][1], found[1][1]]
    figures = compare_stats(before, base, base.label, after, current, current.label)
    out = {
        "before": {**figures["a"], "coverage": cov_before},
        "after": {**figures["b"], "coverage": cov_after},
        "total_delta_pp": figures["delta_pp"],
        "delta_pct": figures["delta_pct"],
        "contributors": [],
        "levels": {},
    }
    for i, child in enumerate(levels):
        b_rows, a_rows = found[2 * i], found[2 * i + 1]
        members = None
        if child == "workload":
            (b_rows, a_rows), members = grouped(b_rows, a_rows)
        ub, ua, delta, rows = attribute(b_rows, a_rows, child, members=members)
        out["levels"][child] = {"util_before": ub, "util_after": ua, "delta_pp": delta,
                                "sum_of_impacts_pp": sum(r["impact_pp"] for r in rows)}
        keep = rows if child != "workload" else rows[:top_workloads]
        out["contributors"].extend(keep)
    out["contributors"].sort(key=lambda r: (-abs(r["impact_pp"]), r["kind"], r["name"]))
    # the child level that partitions the parent: its total is the one impacts sum to
    if levels:
        out["attributed_delta_pp"] = out["levels"][levels[0]]["delta_pp"]
    for side, cov in (("before", cov_before), ("after", cov_after)):
        if not cov["hours"]:
            out[side] = no_data(out[side])
            out["total_delta_pp"] = out["delta_pct"] = None
    return out


def children_compare(source: Source, scope: Scope, child: str, current: Period, base: Period,
                     label_key: str | None = None) -> list[dict]:
    """Every child of ``scope`` (namespaces of a cluster, users of a namespace, ...) in two
    periods, for week-over-week tables: one grouped query per period.

    ``before``/``after`` are ``PeriodStats.as_dict()`` or None when the child had no rows then.
    Utilization deltas are given only when the child held GPUs in both periods (``delta_pp``
    None otherwise: a namespace that started or stopped is ``new``/``gone``, not a drop).
    Sorted by GPU-hours of the current period, descending, ties by name.
    """
    before, after = run_concurrently(
        lambda: children(source, scope, child, base.start, base.end, label_key=label_key),
        lambda: children(source, scope, child, current.start, current.end, label_key=label_key),
    )
    members: dict[tuple, list[str]] = {}
    if child == "workload":
        (before, after), members = grouped(before, after)
    pairs: dict[tuple, list] = {}
    for i, rows in enumerate((before, after)):
        for st in rows:
            pairs.setdefault(_ident(st), [None, None])[i] = st
    out = []
    for key, (b, a) in pairs.items():
        cl, ns, nm = key[0], key[1], key[-1]
        both = b is not None and a is not None and b.gpu_hours > 0 and a.gpu_hours > 0
        mem = members.get(key)
        out.append({
            "name": nm,
            **({"cluster": cl} if cl else {}),
            **({"namespace": ns} if ns and child == "workload" else {}),
            **({"members": mem, "runs": len(mem)} if mem else {}),
            "before": b.as_dict() if b is not None else None,
            "after": a.as_dict() if a is not None else None,
            "delta_pp": a.avg_utilization - b.avg_utilization if both else None,
            "delta_pct": pct_change(b.avg_utilization, a.avg_utilization) if both else None,
            "allocation_delta_pp": (a.allocation_rate if a else 0.0) - (b.allocation_rate if b else 0.0),
            "gpu_hours_delta": (a.gpu_hours if a else 0.0) - (b.gpu_hours if b else 0.0),
            "gpu_hours_delta_pct": pct_change(b.gpu_hours if b else 0.0, a.gpu_hours if a else 0.0),
            "idle_gpu_hours_delta": (a.idle_gpu_hours if a else 0.0) - (b.idle_gpu_hours if b else 0.0),
            "status": "new" if b is None or not b.gpu_hours else
                      ("gone" if a is None or not a.gpu_hours else "changed"),
        })
    out.sort(key=lambda r: (-(r["after"] or {}).get("gpu_hours", 0.0), r["name"]))
    return out


RANK_KEYS = {
    "idle": (lambda p: (-p.idle_gpu_hours, p.name)),
    "gpu_hours": (lambda p: (-p.gpu_hours, p.name)),
    "utilization_low": (lambda p: (p.avg_utilization, p.name)),
    "utilization_high": (lambda p: (-p.avg_utilization, p.name)),
}


def ranking(source: Source, scope: Scope, child: str, period: Period, by: str = "idle",
            limit: int = 10, label_key: str | None = None) -> dict:
    rows = children(source, scope, child, period.start, period.end, label_key=label_key)
    members: dict[tuple, list[str]] = {}
    if child == "workload":
        (rows,), members = grouped(rows)
    rows = [r for r in rows if r.gpu_hours > 0 or by != "idle"]
    rows.sort(key=lambda p: (*RANK_KEYS[by](p), p.cluster or ""))
    items = []
    for r in rows[:limit]:
        item = {"name": r.name, **({"cluster": r.cluster} if r.cluster else {}),
                "gpu_hours": r.gpu_hours, "avg_utilization": r.avg_utilization,
                "idle_gpu_hours": r.idle_gpu_hours, "allocation_rate": r.allocation_rate,
                "workloads": r.workloads}
        if r.namespace:
            item["namespace"] = r.namespace
        if r.user and child == "workload":
            item["user"] = r.user
        if r.kind:
            item["kind"] = r.kind
        if members.get(_ident(r)):
            item["members"] = members[_ident(r)]
            item["runs"] = len(item["members"])
        items.append(item)
    # answers.md §2: how much of the period the ranking saw (a warning below 95 %), and no rows
    # at all is no data, not "nobody used a GPU"
    out = {"by": by, "entity": child, "items": items, "total": len(rows),
           "coverage": coverage(source, scope.cluster, period)}
    if not rows and not out["coverage"]["hours"]:
        out.update(total=None, no_data=True)
    return out


def dropped_namespaces(rows: list[dict], min_drop_pp: float, *, min_share_pct: float = 0.0,
                       min_gpu_hours: float = 0.0) -> list[dict]:
    """The namespaces whose utilization dropped — one rule for reports and alerts alike.

    ``rows`` are ``children_compare`` rows of one cluster. A namespace dropped when it held at
    least ``min_gpu_hours`` GPU-hours in *both* periods (one that started or stopped is
    new/gone, not a drop), its GPU-hour weighted utilization fell by at least ``min_drop_pp``,
    and it holds at least ``min_share_pct`` % of the cluster's GPU-hours in the current period
    (answers.md §8: a −30 pp drop of a namespace that used two GPU-hours is not material).
    Largest drop first, ties by name. Each row gets ``drop_pp`` and ``share_pct``.
    """
    total = sum((r["after"] or {}).get("gpu_hours", 0.0) for r in rows)
    out = []
    for r in rows:
        b, a = r.get("before"), r.get("after")
        if r.get("delta_pp") is None or b is None or a is None:
            continue
        if b["gpu_hours"] < min_gpu_hours or a["gpu_hours"] < min_gpu_hours:
            continue
        drop = -r["delta_pp"]
        share = a["gpu_hours"] / total * 100.0 if total else 0.0
        if drop >= min_drop_pp and share >= min_share_pct:
            out.append({**r, "drop_pp": drop, "share_pct": share})
    out.sort(key=lambda r: (-r["drop_pp"], r["name"]))
    return out
