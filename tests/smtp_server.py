"""``fake_render``, the stand-in renderer the runner and scheduler tests use, and (re-exported
from ``tests.fakes.smtp``) the SMTP test server those tests import from here.

* ``fake_render`` stands in for ``reporter.render.scheduled.render_for_schedule``: a small HTML page, a
  text part and a real one-page PDF, written under ``out_dir``. Tests pass it as ``render=``;
  a scheduler process gets it from ``tests/scheduler_process.py``.
  ``GPUREPORT_FAKE_RENDER_SLEEP`` makes it slow, to catch a run mid-flight.

The SMTP server, ``DroppingServer``, ``self_signed_cert`` and ``tiny_pdf`` live in
``tests/fakes/smtp.py``; new tests import them from there.
"""

from __future__ import annotations

import html as _html
import os
import time
from pathlib import Path

from tests.fakes.smtp import (DroppingServer, Received, SMTPTestServer, self_signed_cert,
                              smtp_server, tiny_pdf)

__all__ = ["fake_render", "DroppingServer", "Received", "SMTPTestServer", "self_signed_cert",
           "smtp_server", "tiny_pdf"]


def fake_render(schedule, period, out_dir: Path):
    """A stand-in renderer: HTML + text + PDF naming the schedule and period."""
    from reporter.digest import RenderedReport

    delay = float(os.environ.get("GPUREPORT_FAKE_RENDER_SLEEP", "0") or 0)
    if delay:
        time.sleep(delay)
    title = f"{schedule.name} {period.label}"
    html_doc = (f"<!doctype html><html><body><h1>GPU digest</h1>"
                f"<p id='period'>{_html.escape(title)}</p></body></html>")
    text = f"GPU digest\n{title}\n"
    pdf = tiny_pdf(f"GPU digest {period.label}")
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, pdf_path = out_dir / "report.html", out_dir / "report.pdf"
    html_path.write_text(html_doc, encoding="utf-8")
    pdf_path.write_bytes(pdf)
    return RenderedReport(subject_context={"headline": "utilization 61.5%"}, html=html_doc,
                          text=text, pdf=pdf, files=[html_path, pdf_path])
