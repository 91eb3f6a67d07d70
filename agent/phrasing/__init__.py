"""How the agent says things: answers from figures, the tables of an answer, and the guard that
keeps a language model's phrasing to the computed numbers.

* ``agent.phrasing.words`` — numbers, names, scopes and periods as written in answers;
* ``agent.phrasing.answers`` — headline, detail lines, notes and clarification questions (en/zh);
* ``agent.phrasing.tables`` — the tables of an answer, rows copied from the figures;
* ``agent.phrasing.guard`` — the number-grounding guard for LLM phrasing.

The names below are re-exported for the reports, which phrase their own sections with them.
"""

from agent.phrasing.answers import (clarification, contributor_line, help_text, notes, phrase,
                                    top_contributors)
from agent.phrasing.guard import allowed_numbers, grounded, ungrounded_numbers
from agent.phrasing.tables import cell, tables
from agent.phrasing.words import gh, name, over_the, p1, period_words, scope_words, signed

_period_words = period_words  # the name reporter.reports and reporter.render import

__all__ = ["allowed_numbers", "cell", "clarification", "contributor_line", "gh", "grounded",
           "help_text", "name", "notes", "over_the", "p1", "period_words", "phrase",
           "scope_words", "signed", "tables", "top_contributors", "ungrounded_numbers",
           "_period_words"]
