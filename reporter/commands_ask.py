"""``gpureport ask``: one question to the agent, answered for a person or as JSON.

The answer comes in parts (``agent.answer.Answer``) and is printed part by part, whatever the
intent: the headline, a sparkline for a trend, the detail lines only when no table shows them,
the notes, the tables, the warnings. Every data-supplied string goes through
``agent.text.printable`` first, so a name cannot drive the terminal; ``--json`` prints the
data as it is (JSON escapes control characters; C1 ones too, here).

When the agent asks back, a terminal prompts for a number or a name and the same graph thread
continues (``agent.ask.ask(..., resume=...)``); without a terminal, or with ``--json``, the
options are printed and the exit code is 3. With ``--session`` a later ``gpureport ask 2
--session ID`` answers the waiting question from another process.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import unicodedata

import click

from agent.answer import Answer, Table
from agent.errors import UsageError
from agent.phrasing import cell, p1
from agent.text import SESSION_MAX, printable, valid_session
from reporter.cli import EXIT_CLARIFY, Command

SPARK = "▁▂▃▄▅▆▇█"
MAX_QUESTION = 10_000
MAX_ROWS = 10  # rows of a table in a terminal; --json has them all
MAX_CELL = 40
_C1 = re.compile("[\x80-\x9f]")


def sparkline(values: list[float], width: int = 48) -> str:
    if not values:
        return ""
    if len(values) > width:  # average into buckets so a week fits a terminal line
        step = len(values) / width
        values = [sum(values[int(i * step):int((i + 1) * step)] or [0]) /
                  max(1, len(values[int(i * step):int((i + 1) * step)])) for i in range(width)]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(7, int((v - lo) / span * 7.999))] for v in values)


def _width(text: str) -> int:
    """Columns a string takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(text: str, limit: int = MAX_CELL) -> str:
    """``text`` cut to ``limit`` terminal columns, with "…" when cut."""
    if _width(text) <= limit:
        return text
    out, used = "", 0
    for ch in text:
        if used + _width(ch) > limit - 1:
            break
        out, used = out + ch, used + _width(ch)
    return out + "…"


def render_table(table: Table, max_rows: int = MAX_ROWS) -> list[str]:
    """A table as aligned terminal lines (title, header, at most ``max_rows`` rows)."""
    grid = [[printable(c.label) for c in table.columns]]
    grid += [[_fit(printable(cell(c, row.get(c.key)))) for c in table.columns]
             for row in table.rows[:max_rows]]
    widths = [max(_width(r[i]) for r in grid) for i in range(len(table.columns))]
    lines = [f"  {printable(table.title)}"] if table.title else []
    for r in grid:
        lines.append("  " + "  ".join(v + " " * (w - _width(v)) for v, w in zip(r, widths)).rstrip())
    if len(table.rows) > max_rows:
        lines.append(f"  … {len(table.rows) - max_rows} more (--json has them all)")
    return lines


def render_text(answer: Answer) -> str:
    """The answer for a person, part by part (see the module docstring)."""
    lines = [printable(answer.headline)]
    if answer.needs_clarification:
        return "\n".join(lines + [f"  {i}. {printable(o)}" for i, o in enumerate(answer.options, 1)])
    series = answer.figures.get("series") if answer.intent == "trend" else None
    if series:
        vals = [p[answer.figures.get("metric", "avg_utilization")] for p in series]
        lines.append(f"  {sparkline(vals)}  {p1(min(vals))}–{p1(max(vals))}%")
    if not answer.tables:
        lines += [f"  • {printable(i)}" for i in answer.insights]
    lines += [f"  • {printable(n)}" for n in answer.notes]
    for table in answer.tables:
        lines += ["", *render_table(table)]
    lines += [f"  (warning: {printable(w)})" for w in answer.warnings]
    return "\n".join(lines)


def render_json(answer: Answer) -> str:
    """``ask --json``: the data as it is, C1 control characters escaped like JSON escapes C0."""
    text = json.dumps(answer.to_json(), ensure_ascii=False, indent=2, default=str)
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@click.command(cls=Command)
@click.argument("question", required=False, default="")
@click.option("--cluster", help="Cluster to ask about (default: ask back when several exist).")
@click.option("--session", help="Conversation id: follow-ups resolve against its last turn, and "
              "a question asked back can be answered by the next ask.")
@click.option("--lang", type=click.Choice(["en", "zh"]), help="Answer language (default: the question's).")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (a stable shape: answer, intent, entities, figures, ...; see README 'Asking questions').")
@click.option("--no-llm", is_flag=True, help="Rules only, even when an LLM key is configured.")
@click.option("--interactive/--no-interactive", default=None,
              help="Ask back in the terminal when clarification is needed (default: when stdin is a TTY).")
@click.pass_obj
def ask(app, question: str, cluster, session, lang, as_json, no_llm, interactive) -> None:
    """Ask a question about GPU usage, in English or Chinese.

    \b
    Examples:
      gpureport ask "What is the GPU utilization trend over the last 7 days?"
      gpureport ask "Why is ml-team's utilization lower this week than last week?"
      gpureport ask "现在集群有多少GPU在使用？"
    """
    from agent.ask import ask as ask_agent
    from agent.sessions import checkpointer
    from agent.sources import make_source
    from reporter.statedb import open_state

    if question == "-":
        question = sys.stdin.read()
    question = question[:MAX_QUESTION]
    if session is not None and not valid_session(session):
        raise UsageError(f"--session {printable(session)[:60]!r}: a conversation id is letters, "
                         f"digits and . _ : @ - (at most {SESSION_MAX} characters)")
    if not question.strip() and not session:
        raise UsageError('the question is empty: ask something about GPU usage, e.g. '
                         'gpureport ask "gpu-east utilization last week" (问题为空)')
    cfg = app.config
    interactive = (sys.stdin.isatty() and sys.stdout.isatty()) if interactive is None else interactive
    if as_json:
        interactive = False
    saver = contextlib.nullcontext()
    if session:  # the session tables live beside the run records: migrations first
        open_state(cfg.state.database_url).close()
        saver = checkpointer(cfg.state.database_url)
    source = make_source(cfg.source, cache=app.catalog_cache())  # lens: its cluster list too
    try:
        deps = app.agent_deps(source, use_llm=not no_llm)
        with saver as cp:
            answer = ask_agent(question, deps, session=session, language=lang, cluster=cluster,
                               use_llm=not no_llm, checkpointer=cp)
            while answer.needs_clarification and interactive and answer.options:
                click.echo(render_text(answer))
                choice = click.prompt("Pick a number or a name", type=str).strip()
                answer = ask_agent(question, deps, session=answer.thread_id, resume=choice,
                                   checkpointer=cp)
    finally:
        source.close()
    click.echo(render_json(answer) if as_json else render_text(answer))
    if answer.needs_clarification:
        raise click.exceptions.Exit(EXIT_CLARIFY)
