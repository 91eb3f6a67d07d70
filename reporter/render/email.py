"""The email of a digest: its bodies (HTML and text) and the variables its subject may use.

The HTML body avoids what mail clients drop (SVG, ``<style>`` rules): inline styles and
tables only. The full report travels as the PDF attachment (or is the body, when a schedule
makes no PDF: ``reporter.digest``).
"""

from __future__ import annotations

from typing import Any

from agent.periods import period_name, period_text
from agent.phrasing import gh, p1, signed
from reporter.render.html import environment, template_vars
from reporter.reports.context import ReportContext


def render_email(ctx: ReportContext, attachment: str | None = None,
                 report_file: str | None = None) -> tuple[str, str]:
    """(html, text) email bodies: a short summary with the KPIs and the dropped namespaces."""
    env = environment()
    v = template_vars(ctx, attachment=attachment, report_file=report_file)
    html = env.get_template("email.html.j2").render(**v)
    text_env = env.overlay(autoescape=False)
    text = text_env.get_template("email.txt.j2").render(**v)
    return html, text


def subject_context(ctx: ReportContext) -> dict[str, Any]:
    """Variables for the email subject template (on top of the schedule's own)."""
    main = ctx.main
    kpis = {k.key: k.as_dict() for k in (main.kpis if main else [])}

    def fmt(key: str, pct: bool) -> str:
        v = kpis.get(key, {}).get("value")
        return "n/a" if v is None else (f"{p1(v)}%" if pct else gh(v))

    util = kpis.get("avg_utilization", {})
    return {
        "cluster": ctx.scope_label,
        "scope": ctx.scope_label,
        "report_period": period_text(ctx.period, ctx.tz),
        "report_label": period_name(ctx.period, ctx.tz),
        "avg_utilization": fmt("avg_utilization", True),
        "utilization_delta": signed(util.get("delta")) if util.get("delta") is not None else "n/a",
        "allocation_rate": fmt("allocation_rate", True),
        "gpu_hours": fmt("gpu_hours", False),
        "idle_gpu_hours": fmt("idle_gpu_hours", False),
        "dropped_namespaces": ", ".join(d.namespace for d in ctx.dropped),
        "dropped_count": len(ctx.dropped),
        "kpis": kpis,
        "empty": ctx.empty,
    }


__all__ = ["render_email", "subject_context"]
