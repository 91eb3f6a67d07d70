"""SVG charts for the reports, drawn with pygal and cleaned up for inlining.

The same SVG text goes into the HTML file (read in a browser or a mail client) and into the PDF
(WeasyPrint draws inline ``<svg>`` itself, as vector paths). pygal's output is post-processed
because a report must be one self-contained file that makes no request and runs no code:

* the ``<script>`` pygal embeds (its config, which would repeat series labels as JS) and the
  external tooltip script (``js=[]`` already keeps it out) are removed;
* comments (pygal's credit lines carry ``http://`` links) and ``xmlns`` attributes are
  removed: inside HTML5 ``<svg>`` is in the SVG namespace without them, and the report then
  contains no ``http://`` string at all, which is easy to check;
* ``<desc>`` tooltips are dropped (they double the size and nothing can show them in a PDF).

Nothing data-supplied goes into a chart: series names and axis labels come from our own
vocabulary and dates, and pygal escapes text it writes anyway.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from typing import Sequence

from agent.periods import parse_now

FONT_STACK = '"Noto Sans", "Noto Sans CJK SC", "DejaVu Sans", sans-serif'
COLORS = ("#2563eb", "#f59e0b", "#94a3b8")

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_XMLNS = re.compile(r'\s+xmlns(?::[\w-]+)?="[^"]*"')
_DESC = re.compile(r"<desc\b.*?</desc>", re.S)
_TITLE = re.compile(r"<title>.*?</title>", re.S)


def clean_svg(svg: str, title: str | None = None) -> str:
    """pygal's SVG -> an ``<svg>`` element safe to inline (see the module docstring)."""
    svg = _SCRIPT.sub("", svg)
    svg = _COMMENT.sub("", svg)
    svg = _XMLNS.sub("", svg)
    svg = _DESC.sub("", svg)
    svg = _TITLE.sub("", svg)
    if title:
        from markupsafe import escape

        svg = re.sub(r"(<svg\b[^>]*>)", lambda m: f"{m.group(1)}<title>{escape(title)}</title>",
                     svg, count=1)
    return svg.strip()


def _style(font_scale: float = 1.0):
    from pygal.style import Style

    return Style(
        background="white",
        plot_background="white",
        foreground="#334155",
        foreground_strong="#0f172a",
        foreground_subtle="#cbd5e1",
        guide_stroke_color="#e2e8f0",
        major_guide_stroke_color="#cbd5e1",
        guide_stroke_dasharray="2,3",
        major_guide_stroke_dasharray="2,3",
        font_family=FONT_STACK,
        label_font_family=FONT_STACK,
        major_label_font_family=FONT_STACK,
        legend_font_family=FONT_STACK,
        title_font_family=FONT_STACK,
        label_font_size=11 * font_scale,
        major_label_font_size=11 * font_scale,
        legend_font_size=12 * font_scale,
        title_font_size=13 * font_scale,
        opacity="1",
        opacity_hover="1",
        colors=COLORS,
        stroke_width=1.6,
    )


def _hour_index(times: Sequence[str], start: datetime, n: int) -> dict[int, int]:
    """Position of each series point (ISO hour) as whole hours since ``start``."""
    out = {}
    for i, t in enumerate(times):
        dt = parse_now(t)
        k = int((dt - start).total_seconds() // 3600)
        if 0 <= k < n:
            out[k] = i
    return out


def usage_chart(series: list[dict], start: datetime, end: datetime, *,
                baseline: list[dict] | None = None, baseline_start: datetime | None = None,
                labels: dict[str, str], tz: tzinfo | None = None, day_names: Sequence[str] = (),
                width: int = 720, height: int = 240) -> str | None:
    """Hourly utilization and allocation rate over [start, end), optionally with the baseline
    period's utilization as a dashed line aligned hour by hour (hour k of the week against
    hour k of the week before). Hours without rows are gaps, not zeros.

    ``labels`` keys: ``utilization``, ``allocation``, ``baseline``, ``title``.
    Returns the cleaned SVG, or None when there is nothing to draw.
    """
    import pygal

    n = int((end - start).total_seconds() // 3600)
    if n <= 0 or not series:
        return None
    idx = _hour_index([p["time"] for p in series], start, n)
    util: list[float | None] = [None] * n
    alloc: list[float | None] = [None] * n
    for k, i in idx.items():
        util[k] = round(series[i]["avg_utilization"], 2)
        alloc[k] = round(series[i]["allocation_rate"], 2)
    base_vals: list[float | None] | None = None
    if baseline and baseline_start is not None:
        bidx = _hour_index([p["time"] for p in baseline], baseline_start, n)
        base_vals = [None] * n
        for k, i in bidx.items():
            base_vals[k] = round(baseline[i]["avg_utilization"], 2)
        if all(v is None for v in base_vals):
            base_vals = None

    x_labels, majors = [], []
    step = 1 if n <= 24 * 10 else (2 if n <= 24 * 20 else 7)  # days between labelled ticks
    day = 0
    for k in range(n):
        local = (start + timedelta(hours=k)).astimezone(tz) if tz else start + timedelta(hours=k)
        if local.hour == 0 or k == 0:
            if day % step == 0:
                wd = day_names[local.weekday()] if day_names else local.strftime("%a")
                label = f"{wd} {local.day}" if n > 48 else f"{wd} {local:%H:%M}"
                majors.append(label)
            else:
                label = f"·{k}"  # unique, unlabelled (minor labels are hidden)
            day += 1
        elif n <= 48 and local.hour % 6 == 0:
            label = f"{local:%H:%M}"
            majors.append(label)
        else:
            label = f"·{k}"
        x_labels.append(label)

    chart = pygal.Line(
        width=width, height=height, explicit_size=True, style=_style(),
        js=[], disable_xml_declaration=True, show_dots=False, fill=False,
        range=(0, 100), include_x_axis=True, y_labels=[0, 20, 40, 60, 80, 100],
        show_minor_x_labels=False, x_labels_major=majors, truncate_label=-1,
        truncate_legend=-1, legend_at_bottom=True, legend_at_bottom_columns=3,
        legend_box_size=10, margin=6, spacing=8, show_x_guides=False, show_y_guides=True,
        tooltip_border_radius=0, print_values=False, allow_interruptions=True,
        value_formatter=lambda v: f"{v:.0f}%" if v is not None else "",
    )
    chart.x_labels = x_labels
    chart.add(labels["utilization"], util, stroke_style={"width": 1.8})
    chart.add(labels["allocation"], alloc, stroke_style={"width": 1.8})
    if base_vals is not None:
        chart.add(labels["baseline"], base_vals,
                  stroke_style={"width": 1.2, "dasharray": "4, 3"})
    return clean_svg(chart.render(is_unicode=True), labels.get("title"))


__all__ = ["usage_chart", "clean_svg", "FONT_STACK"]
