"""Reports: the preset questions a report puts to the agent, and the context it renders.

* ``presets`` — the report kinds (``KINDS``, the one list) and the table of preset questions;
  light on purpose (the CLI's ``--help`` and ``scheduler list`` import it).
* ``asking`` — a preset row -> an ``Understanding`` -> ``agent.ask.answer_preset``.
* ``sections`` — one section (all clusters, a cluster, a namespace) from the answers.
* ``build`` — ``build_report``: which sections, names resolved, the summary.
* ``context`` — the view models a template renders (``ReportContext``, ``Section``, ...).

This package imports nothing itself, so that ``reporter.reports.presets`` stays cheap.
"""
