"""Report context -> one self-contained HTML document (Jinja2), and the filters every template
shares.

* Templates live in the repository's ``templates/`` (``reporter/_data/templates`` in a wheel,
  see pyproject's force-include); ``templates_dir`` finds either. Autoescape is on for every
  template: workload and namespace names come from the data and are only ever text.
* The HTML is one self-contained file: CSS in a ``<style>`` block, charts as inline ``<svg>``,
  no image, font or script URL. The same HTML is what WeasyPrint lays out as the PDF; print
  rules (A4, running header with the report's scope and period, page numbers, generated-at)
  live in ``@page`` rules that only paged media reads.
* Every number is formatted by the filters here, rounding only at display (product.md §4).
* Charts are drawn while rendering, from the hourly points the report's answers hold
  (``Section.series``), with the labels of the report's language.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.periods import iso_week_of, parse_now, period_name, period_text
from agent.phrasing import _period_words, causes, gh, p1, signed, top_contributors
from agent.phrasing.money import amount, recommendation_line
from reporter.render.charts import usage_chart
from reporter.render.strings import strings
from reporter.reports.context import MATERIAL_PCT, MATERIAL_PP, Drill, ReportContext, Section

if TYPE_CHECKING:  # pragma: no cover
    from jinja2 import Environment


def templates_dir() -> Path:
    """``reporter/_data/templates`` in an installed wheel, else the checkout's ``templates/``."""
    pkg = Path(__file__).resolve().parent.parent
    for candidate in (pkg / "_data" / "templates", pkg.parent / "templates"):
        if (candidate / "report.html.j2").is_file():
            return candidate
    raise FileNotFoundError("report templates not found (looked in reporter/_data/templates "
                            "and templates/)")


# -- filters -----------------------------------------------------------------------------------
def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{p1(v)}%"


def _pp(v: float | None) -> str:
    """``−4.2 pp``; a change that rounds to nothing is ``0.0 pp``, not ``−0.0 pp``."""
    if v is None:
        return "n/a"
    return "0.0 pp" if abs(v) < 0.05 else signed(v, " pp")


def _rel(v: float | None) -> str:
    if v is None:
        return ""
    return "0.0%" if abs(v) < 0.05 else signed(v, "%")


def _signed_gh(v: float | None) -> str:
    if v is None:
        return "n/a"
    return ("+" if v >= 0 else "−") + gh(abs(v))


def _money(v: float | None, currency: str) -> str:
    """An amount with its currency: no decimals from 100 up (agent.phrasing.money)."""
    return "n/a" if v is None else f"{currency} {amount(v)}"


def _signed_money(v: float | None, currency: str) -> str:
    if v is None:
        return "n/a"
    return ("+" if v >= 0 else "−") + f"{currency} {amount(abs(v))}"


def _num(v: Any) -> str:
    if v is None:
        return "n/a"
    return f"{v:,}" if isinstance(v, int) else f"{v:,.0f}"


def _tone(delta: float | None, better: str = "up", eps: float = MATERIAL_PP) -> str:
    """good / bad for a material change in pp (``MATERIAL_PP``), flat for a smaller one."""
    if delta is None or abs(delta) < eps or better == "none":
        return "flat"
    return "good" if (delta > 0) == (better == "up") else "bad"


def _dt(value: datetime | str | None, tz: tzinfo | None = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        value = parse_now(value)
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
    env.filters.update(pct=_pct, pp=_pp, rel=_rel, gh=gh, signed_gh=_signed_gh, num=_num,
                       tone=_tone, dt=_dt, money=_money, signed_money=_signed_money)
    return env


def top(d: Drill) -> list[dict]:
    """The contributors that pushed a drill-down's change in its direction, strongest first
    (as the agent names them in its answers)."""
    return top_contributors({"total_delta_pp": d.delta_pp, "contributors": d.contributors})


def causes_of(d: Drill, kind: str) -> list[dict]:
    """The users or workloads a drill-down box lists: the causes of its change (the rule the
    agent's answers name causes by, ``agent.phrasing.causes``) — not every contributor, so
    a renamed job cancelling out its predecessor or a −0.0 pp user takes no line."""
    return [c for c in causes({"total_delta_pp": d.delta_pp,
                               "contributors": d.users + d.workloads}) if c["kind"] == kind]


def chart(ctx: ReportContext, s: Section) -> str | None:
    """The section's hourly chart as inline SVG (None: no chart, or nothing to draw)."""
    if s.series is None:
        return None
    t = strings(ctx.lang)
    labels = {"utilization": t["chart_util"], "allocation": t["chart_alloc"],
              "baseline": t["chart_base"].format(baseline=_period_words(ctx.baseline.label,
                                                                        ctx.lang)),
              "title": t["chart_title"]}
    return usage_chart(s.series, ctx.period.start, ctx.period.end, baseline=s.baseline_series,
                       baseline_start=ctx.baseline.start, labels=labels, tz=ctx.tz,
                       day_names=t["days"])


def template_vars(ctx: ReportContext, **extra: Any) -> dict[str, Any]:
    from markupsafe import Markup

    t = strings(ctx.lang)
    kinds_title = " · ".join(t[f"title_{k}"] for k in ctx.kinds
                             if not (k != "weekly" and "weekly" in ctx.kinds))
    week = iso_week_of(ctx.period, ctx.tz) is not None
    return {
        "ctx": ctx,
        "t": t,
        "lang": ctx.lang,
        "title": kinds_title,
        "scope": ctx.scope_label,
        "period_name": period_name(ctx.period, ctx.tz),
        "period_dates": period_text(ctx.period, ctx.tz),
        "period_word": _period_words(ctx.period.label, ctx.lang),
        "period_is_week": week,
        "period_full": (f"{period_name(ctx.period, ctx.tz)} ({period_text(ctx.period, ctx.tz)})"
                        if week else period_text(ctx.period, ctx.tz)),
        "baseline_name": period_name(ctx.baseline, ctx.tz),
        "baseline_dates": period_text(ctx.baseline, ctx.tz),
        "baseline_word": _period_words(ctx.baseline.label, ctx.lang),
        "threshold": f"{ctx.threshold_pp:g}",
        "share": f"{ctx.min_share_pct:g}",
        # a report of drops only says so when there are none; any other leaves the block out
        "only_drops": ctx.kinds == ("namespace-drops",),
        "tz": ctx.tz,
        "top": top,
        "causes": causes_of,
        "recommendation": lambda r, currency=None: recommendation_line(r, ctx.lang, currency),
        "counted": lambda **n: t["and"].join(
            t[f"n_{k}"][v != 1].format(n=v) for k, v in n.items() if v > 0),
        "material_pp": f"{MATERIAL_PP:g}",
        "material_pct": f"{MATERIAL_PCT:g}",
        "csv_file": None,
        "chart_svg": lambda s: chart(ctx, s),
        "svg": Markup,  # charts are our own cleaned SVG (render.charts), never data
        **extra,
    }


def render_html(ctx: ReportContext, csv_file: str | None = None) -> str:
    """The report as one self-contained HTML document; ``csv_file`` names the CSV that holds
    the rows a long table leaves out (``reporter.render.tables``)."""
    return environment().get_template("report.html.j2").render(
        **template_vars(ctx, csv_file=csv_file))


__all__ = ["render_html", "template_vars", "environment", "templates_dir", "chart", "top",
           "causes_of"]
