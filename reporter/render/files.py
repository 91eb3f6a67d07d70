"""Report files for ``gpureport report``: a name that says kind, scope and period, and the
formats asked for (``.html``, ``.pdf``). A schedule's files are written by ``reporter.digest``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterable

from agent.errors import ReportError
from agent.periods import period_name
from reporter.render.csvfile import Column, csv_bytes
from reporter.render.html import render_html
from reporter.render.pdf import render_pdf
from reporter.reports.context import ReportContext

# the CSV of the week-over-week tables: one row per table row of every section
TABLE_COLUMNS: list[Column] = [
    ("cluster", "cluster"), ("level", "level"), ("name", "name"), ("status", "status"),
    ("gpu_hours_before", "gpu_hours_before"), ("gpu_hours", "gpu_hours"),
    ("gpu_hours_change_pct", "gpu_hours_change_pct"),
    ("avg_utilization_before", "avg_utilization_before"), ("avg_utilization", "avg_utilization"),
    ("change_pp", "change_pp"), ("impact_pp", "impact_pp"), ("idle_gpu_hours", "idle_gpu_hours"),
    ("gpus_now", "gpus_now"), ("dropped", "dropped"),
    ("namespace", "namespace"), ("user", "user"),
]


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def tables_csv(ctx: ReportContext) -> bytes:
    """Every row of every section's week-over-week table (the document shows the first
    ``TABLE_ROWS``), then the section's workloads (drill-down contributors, idle ranking), as CSV (``reporter.render.csvfile``). Figures are the answers' figures,
    rounded to 3 decimals; a period without data for a row is an empty cell."""
    rows = []
    for s in ctx.sections:
        now = s.gpus_now
        for r in s.table:
            before, after = r.get("before") or {}, r.get("after") or {}
            rows.append({
                "cluster": r["name"] if s.table_kind == "cluster" else (s.cluster or r.get("cluster") or ""),
                "level": s.table_kind, "name": r["name"], "status": r.get("status"),
                "gpu_hours_before": _r(before.get("gpu_hours")),
                "gpu_hours": _r(after.get("gpu_hours")),
                "gpu_hours_change_pct": _r(r.get("gpu_hours_delta_pct")),
                "avg_utilization_before": _r(before.get("avg_utilization")
                                             if before.get("gpu_hours") else None),
                "avg_utilization": _r(after.get("avg_utilization")
                                      if after.get("gpu_hours") else None),
                "change_pp": _r(r.get("delta_pp")), "impact_pp": _r(s.impact(r)),
                "idle_gpu_hours": _r(after.get("idle_gpu_hours")),
                "gpus_now": now.get(r["name"], 0) if now is not None else None,
                "dropped": r["name"] in s.dropped,
            })
        rows += _workload_rows(s)
    return csv_bytes(TABLE_COLUMNS, rows)


def _workload_rows(s) -> list[dict]:
    """The section's workloads: every contributor of its drill-downs (level
    ``workload_change``, once each) and its idle ranking (level ``idle_workload``), as the answers give them."""
    out, seen = [], set()
    for d in [*s.drops, *s.movers]:
        for w in d.all_workloads:
            key = (d.cluster, w.get("namespace") or d.namespace, w["name"])
            if key in seen:
                continue
            seen.add(key)
            before, after = w.get("gpu_hours_before"), w.get("gpu_hours_after")
            out.append({
                "cluster": d.cluster or "", "level": "workload_change", "name": w["name"],
                "status": w.get("status"), "gpu_hours_before": _r(before),
                "gpu_hours": _r(after),
                "avg_utilization_before": _r(w.get("avg_utilization_before")),
                "avg_utilization": _r(w.get("avg_utilization_after")),
                "change_pp": _r(w["avg_utilization_after"] - w["avg_utilization_before"])
                if w.get("avg_utilization_after") is not None
                and w.get("avg_utilization_before") is not None else None,
                "impact_pp": _r(w.get("impact_pp")),
                "namespace": w.get("namespace") or d.namespace, "user": w.get("user"),
            })
    for w in s.idle:
        out.append({
            "cluster": s.cluster or "", "level": "idle_workload", "name": w["name"],
            "gpu_hours": _r(w.get("gpu_hours")), "avg_utilization": _r(w.get("avg_utilization")),
            "idle_gpu_hours": _r(w.get("idle_gpu_hours")),
            "namespace": w.get("namespace") or s.namespace, "user": w.get("user"),
        })
    return out


def report_basename(ctx: ReportContext) -> str:
    """``gpureport-weekly-all-clusters-2026-W47``: kind, scope and period, file-name safe."""
    scope = ctx.cluster or ("-".join(ctx.clusters) if ctx.subset else "all-clusters")
    if ctx.namespace:
        scope += f"-{ctx.namespace}"
    period = period_name(ctx.period, ctx.tz).replace(" – ", "_to_").replace(" ", "T")
    raw = f"gpureport-{'+'.join(ctx.kinds)}-{scope}-{period}"
    safe = re.sub(r"[^A-Za-z0-9_.+-]+", "_", raw).strip("._")
    return safe[:150]


def write_report(ctx: ReportContext, formats: Iterable[str], out_dir: str | Path,
                 progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write the report as ``.html`` and/or ``.pdf`` (``formats``: html, pdf, both) into
    ``out_dir`` (created), and the ``.csv`` of its tables when the document shows only part of
    them; returns the paths written."""
    wanted = set()
    for f in formats:
        wanted |= {"html", "pdf"} if f == "both" else {f}
    unknown = wanted - {"html", "pdf"}
    if unknown:
        raise ReportError(f"unknown format {sorted(unknown)[0]!r} (choose html, pdf or both)")
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    base = report_basename(ctx)
    csv_name = f"{base}.csv" if ctx.truncated else None
    html = render_html(ctx, csv_file=csv_name)
    paths: list[Path] = []
    if "html" in wanted:
        p = out / f"{base}.html"
        p.write_text(html, encoding="utf-8")
        paths.append(p)
    if "pdf" in wanted:
        if progress:
            progress("PDF")
        p = out / f"{base}.pdf"
        p.write_bytes(render_pdf(html))
        paths.append(p)
    if csv_name:  # the rows the document leaves out: the note under the table names this file
        p = out / csv_name
        p.write_bytes(tables_csv(ctx))
        paths.append(p)
    return paths


__all__ = ["report_basename", "write_report", "tables_csv", "TABLE_COLUMNS"]
