"""The words of a notice: subject, text and HTML email (``templates/nudge.*.j2``), chat summary.

Short on purpose: which workloads, how many GPUs sat idle for how long, the idle GPU-hours (and
their cost when the configuration has ``prices``), and what to do — scale down or delete, with
the ``kubectl`` command written out (names shell-quoted: they come from the data). Figures are
the source's sums (``finding``); nothing here computes one except the cost (GPU-hours × price).
English and Chinese (``schedule.language``); the HTML template autoescapes every value.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reporter.alerts.channels import templates_dir
from reporter.channels.summary import Fact, Summary
from reporter.config import Config
from reporter.nudges.finding import IdleUser, IdleWorkload
from reporter.nudges.schedule import NudgeSchedule

SCALABLE = {"deployment", "statefulset", "replicaset"}

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "[gpureport] Idle GPUs held by {user}: {n} workload(s), {idle} idle "
                   "GPU-hours (notice {level} of 3)",
        "greeting": "Hello {user},",
        "intro": "these workloads held at least {min_gpus} GPUs below {max_util}% utilization "
                 "in each of the last {hours} hours ({start} to {end}):",
        "workload": "{cluster}/{namespace}/{name} ({kind}): {gpus} GPUs at {util}% "
                    "utilization, {idle} idle GPU-hours",
        "total": "Idle GPU-hours in total: {idle}",
        "cost": "Cost of the idle GPU-hours: {cost} {currency}",
        "action": "If you no longer need them, please scale them down or delete them so that "
                  "others can use the GPUs:",
        "level1": "This is the first notice. If they are still idle {repeat} from now, your "
                  "team's owners are copied.",
        "level2": "This is the second notice; your team's owners are copied. If they are still "
                  "idle {repeat} from now, the platform team is told.",
        "level3": "This is the third and last notice; the platform team is copied and may "
                  "reclaim the GPUs.",
        "footer": "Sent by gpureport (schedule {schedule}). Workloads that must stay reserved "
                  "can be put on the schedule's allow-list.",
        "title": "Idle GPUs held by {user} (notice {level} of 3)",
    },
    "zh": {
        "subject": "[gpureport] {user} 的 GPU 空闲：{n} 个工作负载，{idle} 空闲 GPU 小时"
                   "（第 {level}/3 次提醒）",
        "greeting": "{user}，您好：",
        "intro": "以下工作负载在过去 {hours} 小时（{start} 至 {end}）的每一小时都占用至少 "
                 "{min_gpus} 块 GPU，利用率低于 {max_util}%：",
        "workload": "{cluster}/{namespace}/{name}（{kind}）：{gpus} 块 GPU，利用率 {util}%，"
                    "空闲 {idle} GPU 小时",
        "total": "空闲 GPU 小时合计：{idle}",
        "cost": "空闲 GPU 小时的成本：{cost} {currency}",
        "action": "如果不再需要，请缩容或删除这些工作负载，以便他人使用这些 GPU：",
        "level1": "这是第一次提醒。如果 {repeat} 后仍然空闲，将抄送您团队的负责人。",
        "level2": "这是第二次提醒，已抄送您团队的负责人。如果 {repeat} 后仍然空闲，将通知平台团队。",
        "level3": "这是第三次也是最后一次提醒，已抄送平台团队，平台团队可能回收这些 GPU。",
        "footer": "由 gpureport 发送（计划 {schedule}）。必须保留的工作负载可加入该计划的允许列表。",
        "title": "{user} 的 GPU 空闲（第 {level}/3 次提醒）",
    },
}


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str
    html: str
    summary: Summary


def kubectl_hint(w: IdleWorkload) -> str:
    """The command that frees the GPUs: scale a Deployment/StatefulSet to 0, else delete."""
    kind = re.sub(r"[^a-z0-9.]", "", (w.kind or "pod").lower()) or "pod"
    ns, name = shlex.quote(w.namespace), shlex.quote(w.name)
    if kind in SCALABLE:
        return f"kubectl -n {ns} scale {kind}/{name} --replicas=0"
    return f"kubectl -n {ns} delete {kind} {name}"


def price_for(config: Config, cluster: str) -> tuple[float, str] | None:
    """(price per GPU-hour, currency) when the configuration has ``prices`` (another part of
    gpureport adds them: ``prices: {default_per_gpu_hour, currency, clusters: {name: price}}``);
    None without: then no notice mentions money."""
    prices = getattr(config, "prices", None)
    if prices is None:
        return None
    per_cluster = getattr(prices, "clusters", None) or {}
    price = per_cluster.get(cluster, getattr(prices, "default_per_gpu_hour", None))
    if price is None:
        return None
    return float(price), str(getattr(prices, "currency", "USD") or "USD")


def _num(x: float) -> str:
    return f"{x:,.1f}"


def _gpus(x: float) -> str:
    return f"{x:g}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


def _when(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def _repeat(td) -> str:
    hours = td.total_seconds() / 3600
    return f"{hours:g} h"


def context(user: IdleUser, level: int, schedule: NudgeSchedule, config: Config) -> dict[str, Any]:
    """What the templates render (plain values; the HTML template escapes them)."""
    s = STRINGS[schedule.language]
    ws = user.workloads
    start = min(w.window_start for w in ws)
    end = max(w.window_end for w in ws)
    costs = [(price_for(config, w.cluster), w.idle_gpu_hours) for w in ws]
    priced = all(p is not None for p, _ in costs) and costs
    cost_line = None
    if priced:
        total = sum(p[0] * h for p, h in costs)  # type: ignore[index]
        cost_line = s["cost"].format(cost=f"{total:,.2f}", currency=costs[0][0][1])  # type: ignore[index]
    rows = [{"line": s["workload"].format(cluster=w.cluster, namespace=w.namespace, name=w.name,
                                          kind=w.kind or "workload", gpus=_gpus(w.gpus),
                                          util=f"{w.avg_utilization:.1f}",
                                          idle=_num(w.idle_gpu_hours)),
             "kubectl": kubectl_hint(w)} for w in ws]
    fmt = {"user": user.user, "n": len(ws), "idle": _num(user.idle_gpu_hours), "level": level,
           "min_gpus": _gpus(schedule.min_gpus), "max_util": f"{schedule.max_utilization:g}",
           "hours": schedule.hours, "start": _when(start), "end": _when(end),
           "repeat": _repeat(schedule.repeat_after), "schedule": schedule.name}
    return {
        "lang": schedule.language,
        "subject": s["subject"].format(**fmt),
        "title": s["title"].format(**fmt),
        "greeting": s["greeting"].format(**fmt),
        "intro": s["intro"].format(**fmt),
        "workloads": rows,
        "total": s["total"].format(**fmt),
        "cost": cost_line,
        "action": s["action"],
        "escalation": s[f"level{level}"].format(**fmt),
        "footer": s["footer"].format(**fmt),
    }


def _jinja():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(str(templates_dir())),
                       autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def compose(user: IdleUser, level: int, schedule: NudgeSchedule, config: Config) -> Notice:
    """The notice of ``level`` for ``user``: email parts and the chat summary."""
    ctx = context(user, level, schedule, config)
    env = _jinja()
    text = env.get_template("nudge.txt.j2").render(**ctx)
    html = env.get_template("nudge.html.j2").render(**ctx)
    facts = [Fact("GPU-hours idle" if schedule.language == "en" else "空闲 GPU 小时",
                  _num(user.idle_gpu_hours))]
    summary = Summary(title=ctx["title"],
                      lines=[ctx["intro"], *(r["line"] for r in ctx["workloads"]),
                             ctx["action"], *(r["kubectl"] for r in ctx["workloads"]),
                             *([ctx["cost"]] if ctx["cost"] else []), ctx["escalation"]],
                      facts=facts)
    return Notice(" ".join(ctx["subject"].split())[:250], text, html, summary)


__all__ = ["Notice", "compose", "context", "kubectl_hint", "price_for", "STRINGS"]
