"""Report context -> HTML (Jinja2) -> PDF (WeasyPrint), and the email bodies of a digest.

* Templates live in the repository's ``templates/`` (``reporter/_data/templates`` in a wheel,
  see pyproject's force-include); ``templates_dir`` finds either. Autoescape is on for every
  template: workload and namespace names come from the data and are only ever text.
* The HTML is one self-contained file: CSS in a ``<style>`` block, charts as inline ``<svg>``,
  no image, font or script URL. The same HTML is what WeasyPrint lays out as the PDF; print
  rules (A4, running header with the report's scope and period, page numbers, generated-at)
  live in ``@page`` rules that only paged media reads.
* PDF fonts: the CSS stack is ``"Noto Sans", "Noto Sans CJK SC", "DejaVu Sans"``; on Debian the
  packages ``fonts-noto-cjk`` and ``fonts-dejavu-core`` provide them (installed by
  ``scripts/install-system-deps.sh``, which ``.ci/run`` calls). Without a CJK font Chinese
  text would be drawn as empty boxes.
* WeasyPrint is imported only when a PDF is made, and it may fetch nothing: the URL fetcher
  refuses every URL, so a hostile string can never make the renderer reach the network or the
  file system.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from jinja2 import Environment

    from reporter.reports import ReportContext

STRINGS: dict[str, dict[str, Any]] = {
    "en": {
        "title_weekly": "Weekly GPU digest",
        "title_namespace-drops": "Namespace utilization drops",
        "title_root-cause": "Root causes of the utilization change",
        "title_idle": "Idle allocated GPUs",
        "period": "Period", "compared_with": "compared with", "generated": "Generated",
        "data_as_of": "data as of", "all_clusters": "All clusters", "page": "Page",
        "kpi_avg_utilization": "Average utilization", "kpi_allocation_rate": "Allocation rate",
        "kpi_gpu_hours": "GPU-hours", "kpi_idle_gpu_hours": "Idle GPU-hours",
        "kpi_prev": "{value} {baseline}", "kpi_no_base": "no data {baseline}",
        "chart_util": "Utilization", "chart_alloc": "Allocation rate",
        "chart_base": "Utilization, {baseline}", "chart_title": "Hourly utilization and allocation (%)",
        "h_narrative": "Summary", "h_chart": "Hourly utilization and allocation rate",
        "chart_note": "Percent of allocated GPU capacity used (GPU-hour weighted) and percent of "
                      "GPU capacity allocated, hour by hour; dashed: utilization {baseline}, "
                      "same hour of the week.",
        "h_table_namespace": "Namespaces, week over week", "h_table_user": "Users, week over week",
        "h_table_cluster": "Clusters, week over week",
        "h_drops": "Namespaces whose utilization dropped by {threshold} pp or more",
        "no_drops": "No namespace's utilization dropped by {threshold} pp or more.",
        "h_attribution_namespace": "What changed the utilization: by namespace",
        "h_attribution_user": "What changed the utilization: by user",
        "attribution_note": "Impact = each one's share of the change in GPU-hour weighted "
                            "utilization; the impacts add up to the total change.",
        "h_movers": "Inside the namespaces that moved",
        "no_movers": "No namespace moved by {threshold} pp or more.",
        "h_idle": "Most idle allocated workloads",
        "idle_note": "Idle GPU-hours = allocated GPU-hours × (1 − utilization).",
        "idle_more": "{n} more workloads with GPU usage are not listed.",
        "no_idle": "No workload held GPUs in this period.",
        "h_snapshot": "Current allocation",
        "snapshot_line": "{allocated} of {total} GPUs allocated ({rate}) at {time}.",
        "no_snapshot": "No allocation snapshot is available.",
        "col_namespace": "Namespace", "col_user": "User", "col_cluster": "Cluster",
        "col_workload": "Workload", "col_kind": "Kind", "col_util": "Utilization",
        "col_util_prev": "Util. before", "col_util_now": "Util. now",
        "col_delta_pp": "Δ pp", "col_gpu_hours": "GPU-hours", "col_gpu_hours_delta": "Δ GPU-h",
        "col_alloc": "Alloc.", "col_idle": "Idle GPU-h", "col_workloads": "Workloads",
        "col_impact": "Impact", "col_status": "", "col_gpus": "GPUs",
        "col_gpu_hours_change": "GPU-hours before → now", "col_util_change": "Utilization before → now",
        "status_new": "new", "status_gone": "gone", "status_empty": "no data",
        "by_user": "By user", "by_workload": "By workload",
        "more_rows": "{n} more not listed.",
        "empty": "No GPU usage data for {scope} in {period}.",
        "newest": "The newest hourly data is from {time}.",
        "no_data_at_all": "The data source holds no hourly data for it.",
        "insights": "Details",
        "footer": "gpureport · figures computed from the Lens hourly statistics; utilization is "
                  "GPU-hour weighted, changes are in percentage points (pp).",
        "days": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "email_intro": "{title} for {scope}, {period}, compared with {baseline}.",
        "email_attached": "The full report is attached as a PDF ({file}).",
        "email_file": "The full report: {file}.",
        "email_dropped": "Namespaces whose utilization dropped by {threshold} pp or more",
        "email_no_drops": "No namespace's utilization dropped by {threshold} pp or more.",
        "email_empty": "There is no GPU usage data for this period.",
        "email_idle": "Most idle allocated workloads",
    },
    "zh": {
        "title_weekly": "GPU 使用周报",
        "title_namespace-drops": "命名空间利用率下降",
        "title_root-cause": "利用率变化原因",
        "title_idle": "已分配但空闲的 GPU",
        "period": "统计周期", "compared_with": "对比", "generated": "生成时间",
        "data_as_of": "数据截至", "all_clusters": "所有集群", "page": "页",
        "kpi_avg_utilization": "平均利用率", "kpi_allocation_rate": "分配率",
        "kpi_gpu_hours": "GPU 小时", "kpi_idle_gpu_hours": "空闲 GPU 小时",
        "kpi_prev": "{baseline}：{value}", "kpi_no_base": "{baseline}无数据",
        "chart_util": "利用率", "chart_alloc": "分配率",
        "chart_base": "利用率（{baseline}）", "chart_title": "每小时利用率与分配率（%）",
        "h_narrative": "摘要", "h_chart": "每小时利用率与分配率",
        "chart_note": "利用率按 GPU 小时加权；分配率为已分配 GPU 占总容量的比例。虚线：{baseline}同一时刻的利用率。",
        "h_table_namespace": "各命名空间环比", "h_table_user": "各用户环比",
        "h_table_cluster": "各集群环比",
        "h_drops": "利用率下降 {threshold} pp 及以上的命名空间",
        "no_drops": "没有命名空间的利用率下降 {threshold} pp 及以上。",
        "h_attribution_namespace": "利用率变化归因：按命名空间",
        "h_attribution_user": "利用率变化归因：按用户",
        "attribution_note": "影响 = 各项对 GPU 小时加权利用率变化的贡献，合计等于总变化。",
        "h_movers": "变化较大的命名空间",
        "no_movers": "没有命名空间的利用率变化 {threshold} pp 及以上。",
        "h_idle": "空闲最多的已分配任务",
        "idle_note": "空闲 GPU 小时 = 已分配 GPU 小时 ×（1 − 利用率）。",
        "idle_more": "另有 {n} 个使用 GPU 的任务未列出。",
        "no_idle": "本周期没有任务占用 GPU。",
        "h_snapshot": "当前分配",
        "snapshot_line": "{time}：{total} 块 GPU 中已分配 {allocated} 块（{rate}）。",
        "no_snapshot": "暂无 GPU 分配快照。",
        "col_namespace": "命名空间", "col_user": "用户", "col_cluster": "集群",
        "col_workload": "任务", "col_kind": "类型", "col_util": "利用率",
        "col_util_prev": "之前利用率", "col_util_now": "本期利用率",
        "col_delta_pp": "变化 pp", "col_gpu_hours": "GPU 小时", "col_gpu_hours_delta": "GPU 小时变化",
        "col_alloc": "分配率", "col_idle": "空闲 GPU 小时", "col_workloads": "任务数",
        "col_impact": "影响", "col_status": "", "col_gpus": "GPU 数",
        "col_gpu_hours_change": "GPU 小时 之前 → 本期", "col_util_change": "利用率 之前 → 本期",
        "status_new": "新增", "status_gone": "已结束", "status_empty": "无数据",
        "by_user": "按用户", "by_workload": "按任务",
        "more_rows": "另有 {n} 项未列出。",
        "empty": "{scope}在{period}没有 GPU 使用数据。",
        "newest": "最新的小时数据时间：{time}。",
        "no_data_at_all": "数据源中没有它的小时数据。",
        "insights": "细节",
        "footer": "gpureport · 数据来自 Lens 小时统计；利用率按 GPU 小时加权，变化以百分点（pp）表示。",
        "days": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
        "email_intro": "{scope}的{title}：{period}，对比{baseline}。",
        "email_attached": "完整报告见附件 PDF（{file}）。",
        "email_file": "完整报告：{file}。",
        "email_dropped": "利用率下降 {threshold} pp 及以上的命名空间",
        "email_no_drops": "没有命名空间的利用率下降 {threshold} pp 及以上。",
        "email_empty": "本周期没有 GPU 使用数据。",
        "email_idle": "空闲最多的已分配任务",
    },
}


def strings(lang: str) -> dict[str, Any]:
    return STRINGS["zh" if lang == "zh" else "en"]


def templates_dir() -> Path:
    """``reporter/_data/templates`` in an installed wheel, else the checkout's ``templates/``."""
    pkg = Path(__file__).resolve().parent
    for candidate in (pkg / "_data" / "templates", pkg.parent / "templates"):
        if (candidate / "report.html.j2").is_file():
            return candidate
    raise FileNotFoundError("report templates not found (looked in reporter/_data/templates "
                            "and templates/)")


# -- filters: every number is formatted here, rounding only at display (product.md §4) ------
def _pct(v: float | None) -> str:
    from agent.phrasing import p1

    return "n/a" if v is None else f"{p1(v)}%"


def _pp(v: float | None) -> str:
    from agent.phrasing import signed

    return "n/a" if v is None else signed(v, " pp")


def _rel(v: float | None) -> str:
    from agent.phrasing import signed

    return "" if v is None else signed(v, "%")


def _gh(v: float | None) -> str:
    from agent.phrasing import gh

    return gh(v)


def _signed_gh(v: float | None) -> str:
    from agent.phrasing import gh

    if v is None:
        return "n/a"
    return ("+" if v >= 0 else "−") + gh(abs(v))


def _num(v: Any) -> str:
    if v is None:
        return "n/a"
    return f"{v:,}" if isinstance(v, int) else f"{v:,.0f}"


def _tone(delta: float | None, better: str = "up", eps: float = 0.05) -> str:
    if delta is None or abs(delta) < eps or better == "none":
        return "flat"
    return "good" if (delta > 0) == (better == "up") else "bad"


def _dt(value: datetime | str | None, tz: tzinfo | None = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if tz is not None:
        value = value.astimezone(tz)
    name = value.tzname() or "UTC"
    return f"{value.strftime(fmt)} {name}"


@lru_cache(maxsize=1)
def environment() -> "Environment":
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(enabled_extensions=("j2", "html", "xml"),
                                     default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=_pct, pp=_pp, rel=_rel, gh=_gh, signed_gh=_signed_gh, num=_num,
                       tone=_tone, dt=_dt)
    return env


def _period_word(label: str, lang: str) -> str:
    from agent.phrasing import _period_words

    return _period_words(label, lang)


def template_vars(ctx: "ReportContext", **extra: Any) -> dict[str, Any]:
    from markupsafe import Markup

    from reporter.reports import iso_week_of, period_name, period_text

    t = strings(ctx.lang)
    kinds_title = " · ".join(t[f"title_{k}"] for k in ctx.kinds
                             if not (k != "weekly" and "weekly" in ctx.kinds))
    scope = ctx.scope_label
    return {
        "ctx": ctx,
        "t": t,
        "lang": ctx.lang,
        "title": kinds_title,
        "scope": scope,
        "period_name": period_name(ctx.period, ctx.tz),
        "period_dates": period_text(ctx.period, ctx.tz),
        "period_word": _period_word(ctx.period.label, ctx.lang),
        "period_is_week": iso_week_of(ctx.period, ctx.tz) is not None,
        "period_full": (f"{period_name(ctx.period, ctx.tz)} ({period_text(ctx.period, ctx.tz)})"
                        if iso_week_of(ctx.period, ctx.tz) else period_text(ctx.period, ctx.tz)),
        "baseline_name": period_name(ctx.baseline, ctx.tz),
        "baseline_dates": period_text(ctx.baseline, ctx.tz),
        "baseline_word": _period_word(ctx.baseline.label, ctx.lang),
        "threshold": f"{ctx.threshold_pp:g}",
        "tz": ctx.tz,
        "svg": Markup,  # charts are our own cleaned SVG (reporter.charts), never data
        **extra,
    }


def render_html(ctx: "ReportContext") -> str:
    """The report as one self-contained HTML document."""
    return environment().get_template("report.html.j2").render(**template_vars(ctx))


def _refuse(url: str, *args, **kwargs):
    raise ValueError(f"report rendering fetches nothing (refused {url[:80]!r})")


def render_pdf(html: str) -> bytes:
    """Lay the report HTML out as an A4 PDF (vector charts, embedded fonts)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango/fontconfig libraries missing
        from reporter.reports import ReportError

        raise ReportError(f"PDF output needs WeasyPrint and its system libraries ({exc}); "
                          "use --format html") from None
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return HTML(string=html, url_fetcher=_refuse, base_url=None).write_pdf()


def report_basename(ctx: "ReportContext") -> str:
    """``gpureport-weekly-all-clusters-2026-W47``: kind, scope and period, file-name safe."""
    from reporter.reports import period_name

    scope = ctx.cluster or ("-".join(ctx.clusters) if ctx.subset else "all-clusters")
    if ctx.namespace:
        scope += f"-{ctx.namespace}"
    period = period_name(ctx.period, ctx.tz).replace(" – ", "_to_").replace(" ", "T")
    raw = f"gpureport-{'+'.join(ctx.kinds)}-{scope}-{period}"
    safe = re.sub(r"[^A-Za-z0-9_.+-]+", "_", raw).strip("._")
    return safe[:150]


def write_report(ctx: "ReportContext", formats: Iterable[str], out_dir: str | Path,
                 progress=None) -> list[Path]:
    """Write the report as ``.html`` and/or ``.pdf`` (``formats``: html, pdf, both) into
    ``out_dir`` (created); returns the paths written."""
    wanted = set()
    for f in formats:
        wanted |= {"html", "pdf"} if f == "both" else {f}
    unknown = wanted - {"html", "pdf"}
    if unknown:
        from reporter.reports import ReportError

        raise ReportError(f"unknown format {sorted(unknown)[0]!r} (choose html, pdf or both)")
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    base = report_basename(ctx)
    html = render_html(ctx)
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
    return paths


def render_email(ctx: "ReportContext", attachment: str | None = None,
                 report_file: str | None = None) -> tuple[str, str]:
    """(html, text) email bodies: a short summary with the KPIs and the dropped namespaces.

    The HTML body avoids what mail clients drop (SVG, ``<style>`` rules): inline styles and
    tables only. The full report travels as the PDF attachment.
    """
    env = environment()
    v = template_vars(ctx, attachment=attachment, report_file=report_file)
    html = env.get_template("email.html.j2").render(**v)
    text_env = env.overlay(autoescape=False)
    text = text_env.get_template("email.txt.j2").render(**v)
    return html, text


__all__ = ["render_html", "render_pdf", "write_report", "render_email", "report_basename",
           "templates_dir", "strings", "STRINGS", "environment"]
