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

from agent.errors import ReportError
from agent.periods import iso_week_of, parse_now, period_name, period_text
from agent.phrasing import _period_words, gh, p1, signed
from reporter.strings import STRINGS, strings

if TYPE_CHECKING:  # pragma: no cover
    from jinja2 import Environment

    from reporter.reports import ReportContext

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
    return "n/a" if v is None else f"{p1(v)}%"


def _pp(v: float | None) -> str:
    return "n/a" if v is None else signed(v, " pp")


def _rel(v: float | None) -> str:
    return "" if v is None else signed(v, "%")


def _gh(v: float | None) -> str:
    return gh(v)


def _signed_gh(v: float | None) -> str:
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
    env.filters.update(pct=_pct, pp=_pp, rel=_rel, gh=_gh, signed_gh=_signed_gh, num=_num,
                       tone=_tone, dt=_dt)
    return env


def template_vars(ctx: "ReportContext", **extra: Any) -> dict[str, Any]:
    from markupsafe import Markup

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
        "period_word": _period_words(ctx.period.label, ctx.lang),
        "period_is_week": iso_week_of(ctx.period, ctx.tz) is not None,
        "period_full": (f"{period_name(ctx.period, ctx.tz)} ({period_text(ctx.period, ctx.tz)})"
                        if iso_week_of(ctx.period, ctx.tz) else period_text(ctx.period, ctx.tz)),
        "baseline_name": period_name(ctx.baseline, ctx.tz),
        "baseline_dates": period_text(ctx.baseline, ctx.tz),
        "baseline_word": _period_words(ctx.baseline.label, ctx.lang),
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
        raise ReportError(f"PDF output needs WeasyPrint and its system libraries ({exc}); "
                          "use --format html") from None
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return HTML(string=html, url_fetcher=_refuse, base_url=None).write_pdf()


def report_basename(ctx: "ReportContext") -> str:
    """``gpureport-weekly-all-clusters-2026-W47``: kind, scope and period, file-name safe."""
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
