"""The data-quality gate of a digest: is the period covered, and is the data fresh at send time?

A digest over a week with a missing day reads as a quiet week; one sent from data that stopped
arriving hours ago reads as healthy GPUs (issue 14 item 5, answers.md §2). Before a scheduled
digest goes out, each of its clusters is checked:

* **coverage** = hours with rows / hours in the period (answers.md §2), from the agent's trend
  answer for the cluster over the period: its ``hours`` is the number of hourly points the
  source's grouped query returned (SQL counts the hours; nothing is pulled row by row);
* **freshness** = the age of the cluster's newest hourly data at send time, the agent's
  ``freshness`` answer (``age_hours``).

Below ``min_coverage_pct`` (default 95 %) or older than ``max_data_age_h`` (default 2 h) the
digest does not go out as normal: ``reporter.runner`` records the run ``blocked`` and tells the
schedule's admins, or — ``on_incomplete: send_with_warning`` — the digest carries a red banner
with the same lines. Nothing here computes a figure: the numbers are the answers'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from agent.deps import AgentDeps
from agent.periods import Period, baseline as baseline_of, parse_now
from agent.sources.base import Source
from reporter.reports.asking import Asker

WORDS = {
    "en": {
        "coverage": "{cluster} has data for {hours:g} of the {total:g} hours of {period} "
                    "({pct:.1f} %, below {min:g} %)",
        "none": "{cluster} has no data in {period}",
        "stale": "the newest data of {cluster} is {age:.1f} h old at send time "
                 "(more than {max:g} h)",
        "never": "{cluster} has no data at all",
        "banner": "Data incomplete — figures may understate usage: {problems}.",
        "notice_title": "{schedule} {period}: digest not sent, data incomplete",
        "notice_body": "The digest was not sent because its data failed the quality gate:",
        "notice_hint": "Once the data is complete, run `{command}` to send it.",
    },
    "zh": {
        "coverage": "{cluster} 在 {period} 的 {total:g} 小时中只有 {hours:g} 小时有数据"
                    "（{pct:.1f}%，低于 {min:g}%）",
        "none": "{cluster} 在 {period} 没有数据",
        "stale": "发送时 {cluster} 的最新数据已有 {age:.1f} 小时（超过 {max:g} 小时）",
        "never": "{cluster} 没有任何数据",
        "banner": "数据不完整，数字可能偏低：{problems}。",
        "notice_title": "{schedule} {period}：数据不完整，报告未发送",
        "notice_body": "报告未发送，因为数据未通过质量检查：",
        "notice_hint": "数据补齐后，运行 `{command}` 发送报告。",
    },
}


@dataclass(frozen=True)
class ClusterQuality:
    """One cluster's coverage of the period and the age of its newest data."""

    cluster: str
    hours: int  # hours of the period with rows
    period_hours: float
    newest: datetime | None
    age_hours: float | None

    @property
    def coverage_pct(self) -> float:
        return 100.0 * self.hours / self.period_hours if self.period_hours else 0.0


@dataclass
class Quality:
    """The gate's verdict over every cluster of a digest."""

    period: Period
    clusters: list[ClusterQuality]
    min_coverage_pct: float = 95.0
    max_age_h: float = 2.0
    lang: str = "en"
    _problems: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        w = WORDS.get(self.lang, WORDS["en"])
        for c in self.clusters:
            label = self.period.label
            if c.newest is None:
                self._problems.append(w["never"].format(cluster=c.cluster))
                continue
            if c.hours == 0:
                self._problems.append(w["none"].format(cluster=c.cluster, period=label))
            elif c.coverage_pct < self.min_coverage_pct:
                self._problems.append(w["coverage"].format(
                    cluster=c.cluster, hours=c.hours, total=c.period_hours, period=label,
                    pct=c.coverage_pct, min=self.min_coverage_pct))
            if c.age_hours is not None and c.age_hours > self.max_age_h:
                self._problems.append(w["stale"].format(cluster=c.cluster, age=c.age_hours,
                                                        max=self.max_age_h))

    @property
    def ok(self) -> bool:
        return not self._problems

    @property
    def problems(self) -> list[str]:
        """One line per failed check, in the digest's language."""
        return list(self._problems)

    def banner(self) -> str | None:
        """The red banner of a digest sent anyway (``on_incomplete: send_with_warning``)."""
        if self.ok:
            return None
        return WORDS.get(self.lang, WORDS["en"])["banner"].format(
            problems="; ".join(self._problems))

    def as_dict(self) -> dict:
        return {"ok": self.ok, "problems": self.problems, "clusters": [
            {"cluster": c.cluster, "hours": c.hours, "period_hours": c.period_hours,
             "coverage_pct": round(c.coverage_pct, 2), "age_hours": c.age_hours}
            for c in self.clusters]}


def check_quality(source: Source, now: datetime, period: Period,
                  clusters: Sequence[str] | None = None, *, lang: str = "en",
                  min_coverage_pct: float = 95.0, max_age_h: float = 2.0) -> Quality:
    """Ask the agent, per cluster (``clusters``, else every cluster it knows), how many hours
    of ``period`` have data and how old the newest data is at ``now``."""
    asker = Asker(AgentDeps(source=source, now=now), lang, period, baseline_of(period),
                  ("weekly",))
    names = list(clusters or asker.ask("clusters").figures.get("options", []))
    total = (period.end - period.start).total_seconds() / 3600.0
    found = []
    for c in names:
        trend = asker.ask("trend", c)
        fresh = (asker.ask("freshness", c).figures.get("clusters") or [{}])[0]
        newest = parse_now(fresh["newest"]) if fresh.get("newest") else None
        found.append(ClusterQuality(c, int(trend.figures.get("hours") or 0), total, newest,
                                    fresh.get("age_hours")))
    return Quality(period, found, min_coverage_pct, max_age_h, lang)


__all__ = ["Quality", "ClusterQuality", "check_quality", "WORDS"]
