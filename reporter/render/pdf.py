"""Report HTML -> an A4 PDF with WeasyPrint.

* PDF fonts: the CSS stack is ``"Noto Sans", "Noto Sans CJK SC", "DejaVu Sans"``; on Debian the
  packages ``fonts-noto-cjk`` and ``fonts-dejavu-core`` provide them (installed by
  ``scripts/install-system-deps.sh``, which ``.ci/run`` calls). Without a CJK font Chinese
  text would be drawn as empty boxes.
* WeasyPrint is imported only when a PDF is made (it is heavy and needs Pango), and it may
  fetch nothing: the URL fetcher refuses every URL, so a hostile string can never make the
  renderer reach the network or the file system.
"""

from __future__ import annotations

import logging

from agent.errors import ReportError


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


__all__ = ["render_pdf"]
