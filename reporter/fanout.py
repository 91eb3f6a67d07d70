"""A fan-out schedule's run: one digest per team, each on its own claim (issue 14 item 1).

``fan_out`` walks the teams the renderer found (``Prepared.teams``: the namespaces, users or
label values that held GPUs in the period) and gives each its recipients — the config's
``teams`` routing table (``email``, ``slack``, ``teams``), else the schedule's
``fan_out_default``, else none: the team is skipped and the run says why. Each team is then run like a schedule of
its own by the runner (claim on (schedule, period, team), render, send, record), so one team's
failure does not stop the others and a rerun sends only what was not delivered. When the
data-quality gate failed and the schedule blocks, no team gets anything: one ``blocked`` run,
and the admins are told. The Lens tables carry no namespace annotations (lens.md), so an owner
annotation such as ``gpureport.io/owners`` cannot be read from any source today.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from agent.errors import RunError
from agent.periods import Period
from reporter.config import Config
from reporter.digest import Prepared
from reporter.schedules import Schedule

log = logging.getLogger(__name__)


@dataclass
class FanOutResult:
    """A fan-out schedule's run: one ``RunResult`` per team (or one ``blocked`` run)."""

    schedule: str
    period: Period
    results: list[Any] = field(default_factory=list)  # reporter.run_result.RunResult
    skipped: dict[str, str] = field(default_factory=dict)  # team -> why it got no digest

    @property
    def status(self) -> str:
        """The worst of the teams' outcomes (what the exit code says)."""
        found = {r.status for r in self.results}
        for s in ("blocked", "failed", "uncertain"):
            if s in found:
                return s
        return "succeeded" if found else "skipped"

    def summary(self) -> str:
        n = len(self.results)
        lines = [f"{self.schedule} {self.period.label}: {n} team digest{'s' if n != 1 else ''}"]
        lines += [f"  {r.summary()}" for r in self.results]
        lines += [f"  {self.schedule} {self.period.label} team {t}: not sent: {why}"
                  for t, why in self.skipped.items()]
        return "\n".join(lines)


def recipients_of(config: Config, schedule: Schedule, team: str) -> tuple[list[str], list[str]]:
    """(email addresses, chat destinations) of ``team``: its route (a label value's by its
    name ``team=cv`` or its bare value ``cv``), else the default."""
    for name in schedule.team_route_names(team):
        route = config.teams.get(name)
        if route is not None:
            return list(route.email), route.destinations()
    return list(schedule.fan_out_default), []


def fan_out(config: Config, schedule: Schedule, period: Period, prepared: Prepared,
            block: Callable[[list[str]], Any],
            run_team: Callable[[Schedule, str, list[str]], Any],
            skip: Callable[[str, str], None] = lambda _t, _why: None) -> FanOutResult:
    """Block (``block(problems)``) or run every routed team (``run_team(schedule with the
    team's recipients, team, problems)``); a ``RunError`` becomes that team's result; a team
    without recipients is recorded by ``skip(team, why)``."""
    fan = FanOutResult(schedule.name, period)
    if prepared.problems and schedule.on_incomplete == "block":
        fan.results.append(block(prepared.problems))
        return fan
    for team in prepared.teams:
        emails, chats = recipients_of(config, schedule, team)
        if not emails and not chats:
            fan.skipped[team] = "no route in config teams and no fan_out_default recipients"
            skip(team, fan.skipped[team])
            continue
        one = schedule.model_copy(update={"recipients": emails, "destinations": chats})
        try:
            fan.results.append(run_team(one, team, prepared.problems))
        except RunError as exc:
            if exc.result is None:
                raise
            fan.results.append(exc.result)
    if fan.skipped:
        log.info("%s %s: teams without recipients: %s", schedule.name, period.label,
                 ", ".join(fan.skipped))
    return fan


__all__ = ["FanOutResult", "fan_out", "recipients_of"]
