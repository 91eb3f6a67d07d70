"""Report files for ``gpureport report``: a name that says kind, scope and period, and the
formats asked for (``.html``, ``.pdf``). A schedule's files are written by ``reporter.digest``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterable

from agent.errors import ReportError
from agent.periods import period_name
from reporter.render.html import render_html
from reporter.render.pdf import render_pdf
from reporter.reports.context import ReportContext


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


__all__ = ["report_basename", "write_report"]
