"""The tables of an answer, built from its figures per intent — rows for people, values numbers.

A table holds the same values as the figures it comes from (``rows`` are copied from them, not
recomputed or rounded), so a terminal, the HTTP API and a report template can each show it their
own way without parsing prose. ``cell`` is how a terminal writes one value.

| intent                   | table          | from figures                         |
|--------------------------|----------------|--------------------------------------|
| ranking                  | ``ranking``    | ``items``                            |
| drilldown                | ``contributors`` (and ``inside`` for the namespace a cluster drill-down continued into) | ``contributors`` |
| realtime                 | ``by_namespace`` | ``by_namespace``                   |
| compare with a breakdown | ``children``   | ``children``                         |
| freshness                | ``freshness``  | ``clusters``                         |
| discovery                | ``options``    | ``options``                          |
| history                  | ``workloads``  | ``workloads``                        |
| trend by day             | ``days``       | ``series`` (daily points)            |
| anomalies                | ``anomalies``  | ``anomalies`` (``phrasing.anomalies``) |

An hourly trend and a plain compare have no table: their detail lines say it all.
"""

from __future__ import annotations

from typing import Any, Callable

from agent.answer import Column, Table
from agent.phrasing import anomalies as anomaly_words
from agent.phrasing.money import amount, cost_tables, recommend_tables
from agent.phrasing.words import gh, name, p1, signed

# column key -> (English label, Chinese label)
LABELS: dict[str, tuple[str, str]] = {
    "name": ("name", "名称"),
    "kind": ("kind", "类型"),
    "namespace": ("namespace", "命名空间"),
    "user": ("user", "用户"),
    "workload": ("workload", "任务"),
    "label": ("label", "标签"),
    "cluster": ("cluster", "集群"),
    "gpu_hours": ("GPU-h", "GPU小时"),
    "idle_gpu_hours": ("idle GPU-h", "空闲GPU小时"),
    "avg_utilization": ("util %", "利用率 %"),
    "utilization": ("util %", "利用率 %"),
    "allocated_gpus": ("GPUs", "GPU数"),
    "impact_pp": ("impact", "影响"),
    "gpu_hours_before": ("GPU-h before", "之前GPU小时"),
    "gpu_hours_after": ("after", "之后"),
    "workloads": ("workloads", "任务数"),
    "utilization_before": ("util % before", "之前利用率 %"),
    "utilization_after": ("after", "之后"),
    "delta_pp": ("change", "变化"),
    "status": ("status", "状态"),
    "duration_hours": ("hours", "时长（小时）"),
    "start": ("start", "开始"),
    "end": ("end", "结束"),
    "day": ("day", "日期"),
    "allocation_rate": ("alloc %", "分配率 %"),
    "newest": ("newest hour", "最新数据"),
    "age_hours": ("age h", "延迟小时"),
    "clusters": ("cluster", "集群"),
    "runs": ("runs", "运行次数"),
    "namespaces": ("namespace", "命名空间"),
    "users": ("user", "用户"),
    "workloads_list": ("workload", "任务"),
    "label_keys": ("label key", "标签键"),
    "label_values": ("label value", "标签值"),
}


def _col(key: str, kind: str, lang: str, label_key: str | None = None) -> Column:
    en, zh = LABELS[label_key or key]
    return Column(key, zh if lang == "zh" else en, kind)


def tables(intent: str, figures: dict, lang: str) -> list[Table]:
    """The tables of one answer (see the module docstring); [] when the intent has none or the
    figures hold no rows."""
    build = _BUILDERS.get(intent)
    return [t for t in build(figures, lang) if t.rows] if build else []


def _ranking(f: dict, lang: str) -> list[Table]:
    entity = f.get("entity") or "name"
    cols = [_col("name", "text", lang, entity if entity in LABELS else "name"),
            _col("gpu_hours", "gpu_hours", lang), _col("avg_utilization", "pct", lang),
            _col("idle_gpu_hours", "gpu_hours", lang)]
    cur = f.get("currency")
    if cur:  # prices configured: what the GPU-hours and the idle ones cost
        cols += [Column("cost", f"费用 {cur}" if lang == "zh" else f"cost {cur}", "money"),
                 Column("idle_cost", f"空闲 {cur}" if lang == "zh" else f"idle {cur}", "money")]
    cols = _split(cols, f.get("items") or [], lang)
    return [Table("ranking", cols, _pick(f.get("items") or [], cols))]


def _contributor_table(table: str, contributors: list[dict], lang: str,
                       title: str | None) -> Table:
    cols = [_col("kind", "text", lang), _col("name", "text", lang),
            _col("impact_pp", "pp", lang), _col("gpu_hours_before", "gpu_hours", lang),
            _col("gpu_hours_after", "gpu_hours", lang), _col("workloads", "change", lang)]
    rows = [{"kind": c["kind"], "name": c["name"], "impact_pp": c["impact_pp"],
             "gpu_hours_before": c["gpu_hours_before"], "gpu_hours_after": c["gpu_hours_after"],
             "workloads": [c["workloads_before"], c["workloads_after"]],
             **({"cluster": c["cluster"]} if c.get("cluster") else {}),
             **({"runs": c["runs"]} if c.get("runs") else {})} for c in contributors]
    cols = _split(cols, rows, lang)
    return Table(table, cols, [{c.key: r.get(c.key) for c in cols} for r in rows], title)


def _drilldown(f: dict, lang: str) -> list[Table]:
    out = [_contributor_table("contributors", f.get("contributors") or [], lang, None)]
    inside = f.get("namespace_drilldown")
    if inside:
        ns = name(inside["namespace"])
        title = f"{ns} 内部" if lang == "zh" else f"Inside {ns}"
        out.append(_contributor_table("inside", inside.get("contributors") or [], lang, title))
    return out


def _realtime(f: dict, lang: str) -> list[Table]:
    cols = [_col("namespace", "text", lang), _col("allocated_gpus", "int", lang),
            _col("utilization", "pct", lang)]
    cols = _split(cols, f.get("by_namespace") or [], lang)
    return [Table("by_namespace", cols, _pick(f.get("by_namespace") or [], cols))]


def _compare(f: dict, lang: str) -> list[Table]:
    children = f.get("children")
    if not children:
        return []
    child = f.get("child") or "name"
    cols = [_col("name", "text", lang, child if child in LABELS else "name"),
            _col("utilization_before", "pct", lang), _col("utilization_after", "pct", lang),
            _col("delta_pp", "pp", lang), _col("gpu_hours_before", "gpu_hours", lang),
            _col("gpu_hours_after", "gpu_hours", lang), _col("status", "text", lang)]
    rows = [{"name": r["name"],
             "utilization_before": (r["before"] or {}).get("avg_utilization"),
             "utilization_after": (r["after"] or {}).get("avg_utilization"),
             "delta_pp": r["delta_pp"],
             "gpu_hours_before": (r["before"] or {}).get("gpu_hours"),
             "gpu_hours_after": (r["after"] or {}).get("gpu_hours"),
             "status": r["status"],
             **({"cluster": r["cluster"]} if r.get("cluster") else {}),
             **({"runs": r["runs"]} if r.get("runs") else {})} for r in children]
    cols = _split(cols, rows, lang)
    rows = [{c.key: r.get(c.key) for c in cols} for r in rows]
    en, zh = LABELS[child] if child in LABELS else ("child", "子项")
    title = f"按{zh}" if lang == "zh" else f"By {en}"
    return [Table("children", cols, rows, title)]


def _freshness(f: dict, lang: str) -> list[Table]:
    cols = [_col("cluster", "text", lang), _col("newest", "text", lang),
            _col("age_hours", "hours", lang)]
    return [Table("freshness", cols, _pick(f.get("clusters") or [], cols))]


def _discovery(f: dict, lang: str) -> list[Table]:
    target = f.get("target") or "namespaces"
    label_key = "workloads_list" if target == "workloads" else target
    cols = [_col("name", "text", lang, label_key if label_key in LABELS else "name")]
    return [Table("options", cols, [{"name": o} for o in f.get("options") or []])]


def _pick(items: list[dict], cols: list[Column]) -> list[dict]:
    return [{c.key: it.get(c.key) for c in cols} for it in items]


def _split(cols: list[Column], items: list[dict], lang: str) -> list[Column]:
    """answers.md §4 and §7: a cluster column first when the rows come from several clusters,
    a runs column after the name when some rows are workload families."""
    out = list(cols)
    if any(it.get("runs") for it in items):
        at = next((i for i, c in enumerate(out) if c.key == "name"), 0) + 1
        out.insert(at, _col("runs", "int", lang))
    if any(it.get("cluster") for it in items):
        out.insert(0, _col("cluster", "text", lang))
    return out


def _history(f: dict, lang: str) -> list[Table]:
    cols = [_col("name", "text", lang, "workload"), _col("namespace", "text", lang),
            _col("kind", "text", lang), _col("status", "text", lang), _col("user", "text", lang),
            _col("gpu_hours", "gpu_hours", lang), _col("duration_hours", "hours", lang),
            _col("start", "text", lang), _col("end", "text", lang)]
    return [Table("workloads", cols, _pick(f.get("workloads") or [], cols))]


def _trend(f: dict, lang: str) -> list[Table]:
    """A daily series is short enough to read as a table (an hourly one is a sparkline)."""
    if f.get("granularity") != "day":
        return []
    cols = [_col("time", "text", lang, "day"), _col("avg_utilization", "pct", lang),
            _col("allocation_rate", "pct", lang), _col("gpu_hours", "gpu_hours", lang)]
    rows = [{**p, "time": str(p["time"])[:10]} for p in f.get("series") or []]
    return [Table("days", cols, _pick(rows, cols))]


_BUILDERS: dict[str, Callable[[dict, str], list[Table]]] = {
    "ranking": _ranking, "drilldown": _drilldown, "realtime": _realtime, "compare": _compare,
    "freshness": _freshness, "discovery": _discovery, "anomalies": anomaly_words.table,
    "history": _history, "trend": _trend, "cost": cost_tables, "recommend": recommend_tables,
}


def cell(column: Column, value: Any) -> str:
    """One value as a terminal shows it: names shortened, percentages with one decimal,
    changes signed, GPU-hours as in the answers, a before/after pair as ``a→b``."""
    if value is None:
        return "" if column.key == "runs" else "n/a"  # a single workload or a user: no runs
    kind = column.kind
    if kind == "pct" or kind == "hours":
        return p1(value)
    if kind == "pp":
        return signed(value)
    if kind == "signed":
        return signed(value, "")
    if kind == "gpu_hours":
        return gh(value)
    if kind == "money":
        return amount(value)
    if kind == "change":
        before, after = value
        return f"{before}→{after}"
    if kind == "int":
        return str(value)
    return name(value)
