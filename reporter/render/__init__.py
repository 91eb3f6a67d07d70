"""Rendering: a report context -> HTML (Jinja2), PDF (WeasyPrint), email bodies, files.

* ``strings`` — report and email wording (en, zh);
* ``charts`` — the hourly SVG chart (pygal, cleaned for inlining);
* ``html`` — the Jinja2 environment (autoescape on), number filters, ``render_html``;
* ``pdf`` — ``render_pdf`` (WeasyPrint, imported only when a PDF is made, fetches nothing);
* ``email`` — the digest's email bodies and its subject variables;
* ``files`` — report files for ``gpureport report`` (names, formats).

The order is reports -> render -> runner: nothing here is imported by ``reporter.reports``.
This package imports nothing itself.
"""
