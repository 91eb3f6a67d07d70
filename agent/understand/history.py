"""Workload-history questions (issue 12 item 6, the seed's ``analyze_workload_history``): which
workloads failed, are pending or still running, how many of a kind ran, the longest or biggest.

``read_history(low)`` returns the filter a question asks for, or None when it is not a history
question. Decisions (tests/data/offscript.yaml's header):

* "job", "任务", "作业", "workload" mean any workload; a kind filters only when named
  (PyTorchJob, "Job workloads", notebooks, deployments).
* failed / 失败 = status Failed and ended in the period; completed / 完成 = Done, ended in it;
  finished / 结束 = ended in it (any status); started / submitted / 提交 = created in it;
  ran / 跑了 = overlapped it; pending / still running / 还在跑 = the status now (no period).
* Idle or wasted workloads are a ranking by idle GPU-hours, never a history list.
* "longest" sorts by duration (to now while running); "biggest/largest/最大" by GPU-hours in the
  period. "Which job used the most GPU-hours" stays a ranking (``most`` ranks, ``biggest`` lists).
* Out of "how many/几个" plus a workload noun, a status word alone ("anything pending") is
  enough; a workload noun alone is not (that is a trend or ranking of workloads).
* "What did user_a run yesterday" / "user_a跑了什么" asks for the workloads that ran, with no
  noun needed.
"""

from __future__ import annotations

import re

_A = re.ASCII
NOUN = re.compile(r"\b(?:jobs?|workloads?|pytorch\s*jobs?|notebooks?|deployments?|runs?)\b|任务|作业|负载|"
                  r"(?<![a-z])jobs?(?![a-z])|pytorchjobs?", _A)
KINDS = [(re.compile(p, _A), k) for p, k in [
    (r"pytorch\s*jobs?|pytorch任务", "PyTorchJob"),
    (r"\bjob\s+workloads?\b|\bkind\s*[=:]?\s*job\b|(?<![a-z])job类型|job类", "Job"),
    (r"\bnotebooks?\b|notebook", "Notebook"),
    (r"\bdeployments?\b|deployment", "Deployment"),
]]
STATUS = [(re.compile(p, _A), status, window) for p, status, window in [
    (r"\bfail(?:ed|ing|ures?|s)?\b|\bcrash(?:ed|es)?\b|\berror(?:ed)?\b|失败|挂了|报错", "Failed", "ended"),
    (r"\bpending\b|\bqueued\b|\bwaiting\b|\bstuck\b|排队|等待|pending|挂起", "Pending", "now"),
    (r"\bstill\s+running\b|\bcurrently\s+running\b|\brunning\s+(?:right\s+)?now\b|"
     r"\bwhat(?:'s|s| is)\s+running\b|还在跑|正在跑|在跑的|正在运行|运行中|仍在运行", "Running", "now"),
    (r"\bcomplet(?:ed|e)\b|\bsucceeded\b|\bsuccessful(?:ly)?\b|完成|成功", "Done", "ended"),
    (r"\bfinished\b|\bended\b|\bterminated\b|结束|跑完", None, "ended"),
    (r"\bstart(?:ed)?\b|\blaunch(?:ed)?\b|\bsubmit(?:ted)?\b|\bcreated\b|启动|提交|新建|创建", None, "started"),
    (r"\bran\b|\bhave\s+run\b|跑了|运行了|跑过", None, "ran"),
]]
COUNT = re.compile(r"\bhow\s+many\b|\bnumber\s+of\b|\bcount\b|几个|多少个|多少", _A)
LIST = re.compile(r"\bwhich\b|\blist\b|\bshow\b|\bany\b|\banything\b|哪些|有没有|列出", _A)
SORT = [(re.compile(p, _A), s) for p, s in [
    (r"\blongest\b|最长|最久|时间最长", "duration"),
    (r"\bbiggest\b|\blargest\b|最大", "gpu_hours"),
]]
LIMIT = re.compile(r"\b(?:top|first|the)\s+(\d{1,3})\b|\b(\d{1,3})\s+(?:longest|biggest|largest)\b|"
                   r"前\s*(\d{1,3})\s*个?", _A)


IDLE = re.compile(r"\bidle\b|\bwast|\bunused\b|\bunderus|闲|浪费|不用", _A)
# "what did user_a run yesterday", "user_a跑了什么": the workloads themselves, no noun needed
WHAT_RAN = re.compile(r"\bwhat\s+(?:did|has|have|does|do)\b.{0,60}?\b(?:run|ran|running)\b|"
                      r"跑了(?:什么|哪些)|运行了(?:什么|哪些)", _A)


def read_history(low: str) -> dict | None:
    """The history filter ``low`` (lower-cased question, names blanked) asks for, or None
    ("biggest idle workloads" is a ranking by idle GPU-hours, not a list)."""
    if IDLE.search(low):
        return None
    noun = bool(NOUN.search(low))
    kind = next((k for rx, k in KINDS if rx.search(low)), None)
    hit = next(((st, w) for rx, st, w in STATUS if rx.search(low)), None)
    sort = next((s for rx, s in SORT if rx.search(low)), None)
    status, window = hit if hit else (None, "ran")
    if WHAT_RAN.search(low):  # the question asks for workloads without naming the noun
        noun = True
        hit = hit or (None, "ran")
    strong = hit is not None and hit[0] in ("Failed", "Pending", "Running")
    if not (strong or ((noun or kind) and (hit or sort or COUNT.search(low)))):
        return None
    if not (noun or kind or status in ("Pending", "Running") or (status and LIST.search(low))):
        return None
    m = LIMIT.search(low)
    limit = int(next(g for g in m.groups() if g)) if m else None
    return {"kind": kind, "status": status, "window": window, "sort": sort,
            "limit": limit if limit and 0 < limit <= 100 else 20}
