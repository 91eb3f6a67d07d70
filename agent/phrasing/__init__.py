"""How the agent says things: answers from figures, the tables of an answer, and the guard that
keeps a language model's phrasing to the computed numbers.

* ``agent.phrasing.words`` — numbers, names, scopes and periods as written in answers;
* ``agent.phrasing.answers`` — ``phrase``: an answer's headline and detail lines (en/zh), by
  intent from ``over_time`` (trend, compare, drill-down), ``listings`` (ranking, realtime,
  history, freshness, discovery), ``money`` and ``anomalies``; its notes;
* ``agent.phrasing.clarifications`` — the question asked back and the one-line refusals;
* ``agent.phrasing.tables`` — the tables of an answer, rows copied from the figures;
* ``agent.phrasing.guard`` — the grounding guard for LLM phrasing: ``check(text, Evidence)``
  finds numbers, dates, directions and names the figures do not support; it reads texts with
  ``agent.phrasing.scan`` (numbers, dates) and ``agent.phrasing.cues`` (clauses, direction words,
  names), and the evidence with ``agent.phrasing.grounds``.

The names below are re-exported for the reports, which phrase their own sections with them.
"""

from agent.phrasing.answers import help_text, idle_gpus_note, money_note, notes, phrase
from agent.phrasing.clarifications import clarification, unknown_name, unsupported_period
from agent.phrasing.guard import Evidence, Verdict, check
from agent.phrasing.over_time import causes, contributor_line, rolling_headline, top_contributors
from agent.phrasing.tables import cell, tables
from agent.phrasing.words import during, gh, name, over_the, p1, period_words, row_name, scope_words, signed

_period_words = period_words  # the name reporter.reports and reporter.render import

__all__ = ["Evidence", "Verdict", "causes", "cell", "check", "clarification", "contributor_line",
           "during", "gh", "help_text", "idle_gpus_note", "money_note", "name", "notes", "over_the", "p1", "period_words", "phrase", "rolling_headline", "row_name",
           "scope_words", "signed", "tables", "top_contributors", "unknown_name", "unsupported_period",
           "_period_words"]
