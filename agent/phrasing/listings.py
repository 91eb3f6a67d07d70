"""What there is, in English or Chinese: a ranking, the allocation snapshot, workload history,
how fresh each cluster's data is, and the names a question can use (discovery).

Each ``*_answer(figures, entities, lang, period_label, baseline_label)`` returns
``(headline, detail lines)``; ``agent.phrasing.answers.phrase`` picks one by intent.
"""

from __future__ import annotations

from agent.phrasing.coverage import no_data_sentence
from agent.phrasing.words import (during, gh, name, over_the, p1, period_words, row_name, runs_text,
                                  scope_words, sentence_start)


def realtime_answer(f, e, lang, pl, bl):
    if f.get("time") is None:
        return ("No allocation snapshot is available yet." if lang == "en"
                else "暂无GPU分配快照。"), []
    top = f["by_namespace"][:3]
    if f.get("by_cluster"):
        top = f["by_namespace"][:5]
    # answers.md §1: the first sentence names the cluster(s) it counts
    cluster = None if f.get("by_cluster") else e.get("cluster")
    ns = e.get("namespace")
    if ns and cluster:  # "how many GPUs does ml-team use right now": the namespace first
        row = next((n for n in f["by_namespace"] if n.get("namespace") == ns), None)
        held, util = (row["allocated_gpus"], row.get("utilization")) if row else (0, None)
        if lang == "zh":
            answer = (f"截至 {f['time']}，{name(ns)}（{name(cluster)}）占用 {held} 块GPU"
                      + (f"，利用率 {p1(util)}%" if util is not None else "")
                      + f"；集群共 {f['total_gpus']} 块，已分配 {f['allocated_gpus']} 块，空闲 "
                        f"{f['idle_gpus']} 块。")
        else:
            answer = (f"As of {f['time']}, {name(ns)} on {name(cluster)} holds {held} GPUs"
                      + (f" at {p1(util)}% utilization" if util is not None else "")
                      + f"; the cluster has {f['allocated_gpus']} of {f['total_gpus']} GPUs "
                        f"allocated ({p1(f['allocation_rate'])}%), {f['idle_gpus']} free.")
        return answer, [f"{row_name(n)}: {n['allocated_gpus']} GPUs" for n in top]
    if lang == "zh":
        where = "所有集群：" if f.get("by_cluster") else (f"{name(cluster)}：" if cluster else "")
        answer = (f"截至 {f['time']}，{where}{f['total_gpus']} 块GPU中有 {f['allocated_gpus']} 块已分配"
                  f"（{p1(f['allocation_rate'])}%），空闲 {f['idle_gpus']} 块。")
        ins = [f"{row_name(n)}：{n['allocated_gpus']} 块GPU" for n in top]
    else:
        where = "across all clusters " if f.get("by_cluster") else (
            f"on {name(cluster)} " if cluster else "")
        answer = (f"As of {f['time']}, {where}"
                  f"{f['allocated_gpus']} of {f['total_gpus']} GPUs are allocated "
                  f"({p1(f['allocation_rate'])}%); {f['idle_gpus']} are free.")
        ins = [f"{row_name(n)}: {n['allocated_gpus']} GPUs" for n in top]
    return answer, ins


def ranking_answer(f, e, lang, pl, bl):
    items = f["items"]
    when = period_words(pl, lang)
    ent = f["entity"]
    if f.get("no_data"):  # answers.md §2: no rows at all is not "nobody used a GPU"
        return no_data_sentence(scope_words(e, lang), when, f.get("coverage"), lang), []
    if not items:
        return (f"No {ent}s with GPU usage in {when}." if lang == "en" else f"{when}没有GPU使用记录。"), []
    by = f["by"]
    if lang == "zh":
        kind = {"user": "用户", "workload": "任务", "namespace": "命名空间", "label": "标签"}.get(ent, ent)
        crit = {"idle": "空闲GPU小时", "gpu_hours": "GPU小时", "utilization_low": "利用率最低",
                "utilization_high": "利用率最高"}[by]
        first = items[0]
        answer = (f"{_where(e, lang)}{when}按{crit}排名第一的{kind}是 {row_name(first)}{runs_text(first, lang)}："
                  f"{gh(first['gpu_hours'])} GPU小时，利用率 {p1(first['avg_utilization'])}%，"
                  f"空闲 {gh(first['idle_gpu_hours'])} GPU小时。")
        ins = [f"{i + 1}. {row_name(it)}{runs_text(it, lang)}：空闲 {gh(it['idle_gpu_hours'])} GPU小时，"
               f"利用率 {p1(it['avg_utilization'])}%" for i, it in enumerate(items[:5])]
    else:
        crit = {"idle": "idle GPU-hours", "gpu_hours": "GPU-hours", "utilization_low": "lowest utilization",
                "utilization_high": "highest utilization"}[by]
        first = items[0]
        answer = (f"Top {ent} by {crit} {_where(e, lang)}{during(when)}: {row_name(first)}{runs_text(first, lang)} with "
                  f"{gh(first['gpu_hours'])} GPU-hours at {p1(first['avg_utilization'])}% utilization "
                  f"({gh(first['idle_gpu_hours'])} idle GPU-hours).")
        ins = [f"{i + 1}. {row_name(it)}{runs_text(it, lang)}: {gh(it['idle_gpu_hours'])} idle GPU-hours, "
               f"{p1(it['avg_utilization'])}% utilization, {gh(it['gpu_hours'])} GPU-hours"
               for i, it in enumerate(items[:5])]
    return answer, ins


_HISTORY_VERB = {  # (status, window) -> (English, Chinese)
    ("Failed", "ended"): ("failed", "失败"), ("Done", "ended"): ("completed", "完成"),
    (None, "ended"): ("ended", "结束"), ("Pending", "now"): ("are pending now", "正在排队（Pending）"),
    ("Running", "now"): ("are still running", "仍在运行"), (None, "started"): ("started", "启动"),
    (None, "ran"): ("ran", "运行过"), (None, "now"): ("exist now", "存在"),
}


def history_answer(f, e, lang, pl, bl):
    """Workload history: how many matched (the first sentence names the scope and period),
    then the first rows — the table holds them all."""
    n, rows = f.get("count", 0), f.get("workloads") or []
    status, window = f.get("status"), f.get("window", "ran")
    verb = _HISTORY_VERB.get((status, window)) or (status or "", status or "")
    if (status, window) not in _HISTORY_VERB and status:
        verb = (f"with status {status}", f"状态为 {status}")
    who = scope_words(e, lang)
    kind = f.get("kind")
    when = period_words(pl, lang) if window != "now" else ("now" if lang == "en" else "当前")
    order = {"duration": ("longest first", "按时长排序"), "gpu_hours": ("most GPU-hours first", "按GPU小时排序")}
    if lang == "zh":
        noun = f"{kind} 任务" if kind else "任务"
        answer = f"{who}，{when}：{verb[1]}的{noun}共 {n} 个。"
        if rows and f.get("sort"):
            answer += f"（{order[f['sort']][1]}）"
        ins = [f"{name(r['name'])}（{r['kind']}，{name(r['user'])}）：{r['status']}，{gh(r['gpu_hours'])} GPU小时，"
               f"时长 {p1(r['duration_hours'])} 小时" for r in rows[:5]]
    else:
        noun = f"{kind}{'s' if n != 1 else ''}" if kind else f"workload{'s' if n != 1 else ''}"
        when_en = over_the(when) if window != "now" else when
        answer = f"{sentence_start(who)}, {when_en}: {n:,} {noun} {verb[0]}."
        if rows and f.get("sort"):
            answer += f" ({order[f['sort']][0]})"
        ins = [f"{name(r['name'])} ({r['kind']}, {name(r['user'])}): {r['status']}, "
               f"{gh(r['gpu_hours'])} GPU-hours, {p1(r['duration_hours'])} h" for r in rows[:5]]
    return answer, ins


def _where(e: dict, lang: str) -> str:
    """The scope of a ranking for its first sentence (answers.md §1): "on gpu-east " /
    "in ml-team on gpu-east " / "across all clusters "."""
    cluster = e.get("cluster")
    ns = e.get("namespace")
    if lang == "zh":
        where = name(cluster) if cluster else ("所有集群" if e.get("all_clusters") else "")
        return f"{where}{'的' + name(ns) if ns else ''}" + ("，" if where or ns else "")
    out = f"in {name(ns)} " if ns else ""
    if cluster:
        return out + f"on {name(cluster)} "
    return out + ("across all clusters " if e.get("all_clusters") else "")


def freshness_answer(f, e, lang, pl, bl):
    rows = f.get("clusters") or []
    have = [r for r in rows if r["newest"]]
    if not have:
        return ("No hourly data yet." if lang == "en" else "还没有小时数据。"), []
    if lang == "zh":
        ins = [f"{name(r['cluster'])}：最新数据 {r['newest']}（{p1(r['age_hours'])} 小时前）"
               if r["newest"] else f"{name(r['cluster'])}：没有数据" for r in rows]
        oldest = max(have, key=lambda r: r["age_hours"])
        return (f"最旧的集群数据为 {name(oldest['cluster'])}，截至 {oldest['newest']}"
                f"（{p1(oldest['age_hours'])} 小时前）。", ins)
    ins = [f"{name(r['cluster'])}: newest hour {r['newest']} ({p1(r['age_hours'])} h old)"
           if r["newest"] else f"{name(r['cluster'])}: no data" for r in rows]
    oldest = max(have, key=lambda r: r["age_hours"])
    return (f"The stalest data is {name(oldest['cluster'])}'s, up to the hour starting "
            f"{oldest['newest']} ({p1(oldest['age_hours'])} h old).", ins)


def discovery_answer(f, e, lang, pl, bl):
    opts = [name(o) for o in f.get("options", [])]
    what = f.get("target", "options")
    if lang == "zh":
        label = {"clusters": "集群", "namespaces": "命名空间", "label_keys": "标签键",
                 "label_values": "标签值", "users": "用户", "workloads": "任务"}.get(what, what)
        return (f"可用的{label}（{len(opts)}）：{'、'.join(opts) if opts else '无'}。", [])
    return (f"Available {what.replace('_', ' ')} ({len(opts)}): {', '.join(opts) if opts else 'none'}.", [])
