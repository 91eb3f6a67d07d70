"""``gpureport ask``: one question to the agent, answered for a person or as JSON."""

from __future__ import annotations

import json
import sys

import click

from agent.phrasing import gh, name, p1, signed
from reporter.cli import EXIT_CLARIFY, Command
SPARK = "▁▂▃▄▅▆▇█"
MAX_QUESTION = 10_000


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


def render_text(out: dict) -> str:
    """The answer for a person: prose, insights, and a small table or sparkline."""
    lines = [out["answer"]]
    f = out.get("figures") or {}
    if out["needs_clarification"]:
        return "\n".join(lines + [f"  {i + 1}. {o}" for i, o in enumerate(out["options"])])
    if out["intent"] == "trend" and f.get("series"):
        key = f.get("metric", "avg_utilization")
        vals = [p[key] for p in f["series"]]
        lines.append(f"  {sparkline(vals)}  {p1(min(vals))}–{p1(max(vals))}%")
    tabled = {"drilldown": f.get("contributors"), "ranking": f.get("items"),
              "realtime": f.get("by_namespace")}.get(out["intent"])
    for ins in out.get("insights") or []:
        # insights that only repeat the rows of the table below are left to the table
        if not tabled or ins.startswith(("Inside", "在 ", "Figures", "所有")):
            lines.append(f"  • {ins}")
    rows: list[tuple] = []
    if out["intent"] == "ranking" and f.get("items"):
        rows = [("name", "GPU-h", "util %", "idle GPU-h")] + [
            (name(i["name"])[:40], gh(i["gpu_hours"]), p1(i["avg_utilization"]), gh(i["idle_gpu_hours"]))
            for i in f["items"]]
    elif out["intent"] == "drilldown" and f.get("contributors"):
        src = (f.get("namespace_drilldown") or f)["contributors"][:8]
        rows = [("kind", "name", "impact", "GPU-h before", "after", "workloads")] + [
            (c["kind"], name(c["name"])[:40], signed(c["impact_pp"]), gh(c["gpu_hours_before"]),
             gh(c["gpu_hours_after"]), f"{c['workloads_before']}→{c['workloads_after']}") for c in src]
    elif out["intent"] == "realtime" and f.get("by_namespace"):
        rows = [("namespace", "GPUs", "util %")] + [
            (name(n["namespace"])[:40], str(n["allocated_gpus"]), p1(n["utilization"]))
            for n in f["by_namespace"][:10]]
    if rows:
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        lines.append("")
        for r in rows:
            lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    for w in out.get("warnings") or []:
        lines.append(f"  (warning: {w})")
    return "\n".join(lines)


@click.command(cls=Command)
@click.argument("question", required=False, default="")
@click.option("--cluster", help="Cluster to ask about (default: ask back when several exist).")
@click.option("--session", help="Conversation id: follow-ups resolve against its last turn.")
@click.option("--lang", type=click.Choice(["en", "zh"]), help="Answer language (default: the question's).")
@click.option("--json", "as_json", is_flag=True, help="The stable JSON answer (product.md §6).")
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
    from agent.graph import Agent
    from agent.sources import make_source

    if question == "-":
        question = sys.stdin.read()
    question = question[:MAX_QUESTION]
    cfg = app.config
    source = make_source(cfg.source)
    interactive = (sys.stdin.isatty() and sys.stdout.isatty()) if interactive is None else interactive
    if as_json:
        interactive = False
    try:
        def run(saver=None) -> dict:
            agent = Agent(source, app.now, None if no_llm else cfg.llm, checkpointer=saver)
            out = agent.ask(question, session=session, language=lang, cluster=cluster,
                            use_llm=not no_llm)
            while out["needs_clarification"] and interactive and out["options"]:
                click.echo(render_text(out))
                pick = click.prompt("Pick a number or a name", type=str).strip()
                choice = out["options"][int(pick) - 1] if pick.isdigit() and \
                    1 <= int(pick) <= len(out["options"]) else pick
                entity = (out["figures"].get("issue") or {}).get("entity", "cluster")
                out = agent.ask(question, session=session, language=lang, cluster=cluster,
                                overrides={entity: choice}, use_llm=not no_llm)
            return out

        if session:  # the session tables live beside the run records: migrations first
            from agent.sessions import checkpointer
            from reporter.statedb import open_state

            open_state(cfg.state.database_url).close()
            with checkpointer(cfg.state.database_url) as saver:
                out = run(saver)
        else:
            out = run()
    finally:
        source.close()
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render_text(out))
    if out["needs_clarification"]:
        raise click.exceptions.Exit(EXIT_CLARIFY)
