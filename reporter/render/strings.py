"""The words of reports and digest emails, in English and Chinese (keyed by ``lang``).

Data only: the templates read them as ``t`` and the chart takes its labels and day names from
them. Names from the data never go into these strings' format fields unescaped (the templates
escape what they substitute).
"""

from __future__ import annotations

from typing import Any

STRINGS: dict[str, dict[str, Any]] = {
    "en": {
        "title_weekly": "Weekly GPU digest",
        "title_namespace-drops": "Namespace utilization drops",
        "title_root-cause": "Root causes of the utilization change",
        "title_idle": "Idle allocated GPUs",
        "period": "Period", "compared_with": "compared with", "generated": "Generated",
        "data_as_of": "data as of", "all_clusters": "All clusters", "page": "Page",
        "kpi_avg_utilization": "Average utilization", "kpi_allocation_rate": "Allocation rate",
        "kpi_gpu_hours": "GPU-hours", "kpi_idle_gpu_hours": "Idle GPU-hours",
        "kpi_cost": "Cost", "kpi_idle_cost": "Cost of idle GPU-hours",
        "h_recommendations": "Recommendations",
        "recommendations_note": "From the last 7 days up to {now}; saving = GPU-hours that would "
                                "not have been held. Workloads an idle table lists are not "
                                "repeated.",
        "col_cost": "Idle cost",
        "kpi_prev": "{value} {baseline}", "kpi_no_base": "no data {baseline}",
        "chart_util": "Utilization", "chart_alloc": "Allocation rate",
        "chart_base": "Utilization, {baseline}", "chart_title": "Hourly utilization and allocation (%)",
        "h_narrative": "Summary", "h_chart": "Hourly utilization and allocation rate",
        "chart_note": "Percent of allocated GPU capacity used (GPU-hour weighted) and percent of "
                      "GPU capacity allocated, hour by hour; dashed: utilization {baseline}, "
                      "same hour of the week.",
        "h_table_namespace": "Namespaces, week over week", "h_table_user": "Users, week over week",
        "h_table_cluster": "Clusters, week over week",
        "h_table_workload": "Workloads, week over week",
        "h_drops": "Namespaces whose utilization dropped by {threshold} pp or more",
        "no_drops": "No namespace holding at least {share}% of its cluster's GPU-hours dropped "
                    "by {threshold} pp or more.",
        "h_attribution_namespace": "What changed the utilization: by namespace",
        "h_attribution_user": "What changed the utilization: by user",
        "attribution_note": "Impact = each one's share of the change in GPU-hour weighted "
                            "utilization; the impacts add up to the total change.",
        "h_movers": "Inside the namespaces that moved",
        "no_movers": "No namespace moved by {threshold} pp or more.",
        "h_anomalies": "Unusual this week",
        "anomalies_note": "Hours far off the same hours of the previous {weeks} weeks (median "
                          "and MAD) for 3 hours or more; cause: the same hours a week earlier.",
        "anomalies_more": "{n} more in the report's answers (gpureport ask "
                          "\"anything unusual\").",
        "h_idle": "Most idle allocated workloads",
        "idle_note": "Idle GPU-hours = allocated GPU-hours × (1 − utilization).",
        "idle_more": "{n} more workloads with GPU usage are not listed.",
        "no_idle": "No workload held GPUs in this period.",
        "h_snapshot": "Current allocation",
        "snapshot_line": "{allocated} of {total} GPUs allocated ({rate}) at {time}.",
        "no_snapshot": "No allocation snapshot is available.",
        "col_namespace": "Namespace", "col_user": "User", "col_cluster": "Cluster",
        "col_workload": "Workload", "col_kind": "Kind", "col_util": "Utilization",
        "col_util_prev": "Util. before", "col_util_now": "Util. now",
        "col_delta_pp": "Δ pp", "col_gpu_hours": "GPU-hours", "col_gpu_hours_delta": "Δ GPU-h",
        "col_alloc": "Alloc.", "col_idle": "Idle GPU-h", "col_workloads": "Workloads",
        "col_impact": "Impact", "col_status": "", "col_gpus": "GPUs",
        "col_gpu_hours_change": "GPU-hours before → now", "col_util_change": "Utilization before → now",
        "col_gpus_now": "GPUs now", "col_causes": "Causes",
        "snapshot_in_table": "The GPUs each namespace holds now are the table's last column.",
        "snapshot_in_csv": "For every namespace: {file}.",
        "table_more_csv": "{n} more rows, with smaller GPU-hours, are in {file}.",
        "impact_note": "Impact = each row's share of the change in GPU-hour weighted "
                       "utilization; the impacts add up to the total change.",
        "fewer_causes": "Not listed: {rest} that moved the change by less than 15% of it.",
        "n_users": ("{n} user", "{n} users"), "n_workloads": ("{n} workload", "{n} workloads"),
        "and": " and ",
        "drops_share": "(holding at least {share}% of the cluster's GPU-hours)",
        "colour_rule": "Changes are coloured when material: {pp} pp or more for utilization, "
                       "allocation and impact, {pct}% or more for GPU-hours; smaller ones are "
                       "grey.",
        "status_new": "new", "status_gone": "gone", "status_empty": "no data",
        "runs": "{n} runs",
        "by_user": "By user", "by_workload": "By workload",
        "more_rows": "{n} more not listed.",
        "empty": "No GPU usage data for {scope} in {period}.",
        "newest": "The newest hourly data is from {time}.",
        "no_data_at_all": "The data source holds no hourly data for it.",
        "insights": "Details",
        "footer": "gpureport · figures computed from the Lens hourly statistics; utilization is "
                  "GPU-hour weighted, changes are in percentage points (pp).",
        "days": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "email_intro": "{title} for {scope}, {period}, compared with {baseline}.",
        "vs_reference": "{team}: average utilization {util} vs {ref} for {scope}; allocation "
                        "rate {alloc} vs {ref_alloc}.",
        "email_attached": "The full report is attached as a PDF ({file}).",
        "email_file": "The full report: {file}.",
        "email_csv": "Every row of its tables is in the attached {file}.",
        "email_dropped": "Namespaces whose utilization dropped by {threshold} pp or more",
        "email_no_drops": "No namespace's utilization dropped by {threshold} pp or more.",
        "email_empty": "There is no GPU usage data for this period.",
        "email_idle": "Most idle allocated workloads",
    },
    "zh": {
        "title_weekly": "GPU 使用周报",
        "title_namespace-drops": "命名空间利用率下降",
        "title_root-cause": "利用率变化原因",
        "title_idle": "已分配但空闲的 GPU",
        "period": "统计周期", "compared_with": "对比", "generated": "生成时间",
        "data_as_of": "数据截至", "all_clusters": "所有集群", "page": "页",
        "kpi_avg_utilization": "平均利用率", "kpi_allocation_rate": "分配率",
        "kpi_gpu_hours": "GPU 小时", "kpi_idle_gpu_hours": "空闲 GPU 小时",
        "kpi_cost": "费用", "kpi_idle_cost": "空闲 GPU 小时费用",
        "h_recommendations": "节省建议",
        "recommendations_note": "基于截至 {now} 的过去 7 天；可省 = 本可不占用的 GPU 小时。"
                                "空闲任务表中已列出的任务不再重复。",
        "col_cost": "空闲费用",
        "kpi_prev": "{baseline}：{value}", "kpi_no_base": "{baseline}无数据",
        "chart_util": "利用率", "chart_alloc": "分配率",
        "chart_base": "利用率（{baseline}）", "chart_title": "每小时利用率与分配率（%）",
        "h_narrative": "摘要", "h_chart": "每小时利用率与分配率",
        "chart_note": "利用率按 GPU 小时加权；分配率为已分配 GPU 占总容量的比例。虚线：{baseline}同一时刻的利用率。",
        "h_table_namespace": "各命名空间环比", "h_table_user": "各用户环比",
        "h_table_cluster": "各集群环比",
        "h_table_workload": "各工作负载环比",
        "h_drops": "利用率下降 {threshold} pp 及以上的命名空间",
        "no_drops": "占集群 GPU 小时至少 {share}% 的命名空间中，没有利用率下降 {threshold} pp 及以上的。",
        "h_attribution_namespace": "利用率变化归因：按命名空间",
        "h_attribution_user": "利用率变化归因：按用户",
        "attribution_note": "影响 = 各项对 GPU 小时加权利用率变化的贡献，合计等于总变化。",
        "h_movers": "变化较大的命名空间",
        "no_movers": "没有命名空间的利用率变化 {threshold} pp 及以上。",
        "h_anomalies": "本期异常",
        "anomalies_note": "与前 {weeks} 周同一时段（中位数与 MAD）相差很大、持续 3 小时及以上的时段；"
                          "原因对比一周前的同一时段。",
        "anomalies_more": "另有 {n} 个（gpureport ask \"有什么异常\"）。",
        "h_idle": "空闲最多的已分配任务",
        "idle_note": "空闲 GPU 小时 = 已分配 GPU 小时 ×（1 − 利用率）。",
        "idle_more": "另有 {n} 个使用 GPU 的任务未列出。",
        "no_idle": "本周期没有任务占用 GPU。",
        "h_snapshot": "当前分配",
        "snapshot_line": "{time}：{total} 块 GPU 中已分配 {allocated} 块（{rate}）。",
        "no_snapshot": "暂无 GPU 分配快照。",
        "col_namespace": "命名空间", "col_user": "用户", "col_cluster": "集群",
        "col_workload": "任务", "col_kind": "类型", "col_util": "利用率",
        "col_util_prev": "之前利用率", "col_util_now": "本期利用率",
        "col_delta_pp": "变化 pp", "col_gpu_hours": "GPU 小时", "col_gpu_hours_delta": "GPU 小时变化",
        "col_alloc": "分配率", "col_idle": "空闲 GPU 小时", "col_workloads": "任务数",
        "col_impact": "影响", "col_status": "", "col_gpus": "GPU 数",
        "col_gpu_hours_change": "GPU 小时 之前 → 本期", "col_util_change": "利用率 之前 → 本期",
        "col_gpus_now": "当前 GPU", "col_causes": "原因",
        "snapshot_in_table": "各命名空间当前的 GPU 数见上表最后一列。",
        "snapshot_in_csv": "全部命名空间见 {file}。",
        "table_more_csv": "另有 {n} 行（GPU 小时较少）见 {file}。",
        "impact_note": "影响 = 各行对 GPU 小时加权利用率变化的贡献，合计等于总变化。",
        "fewer_causes": "未列出对变化贡献不足 15% 的{rest}。",
        "n_users": ("{n} 个用户", "{n} 个用户"), "n_workloads": ("{n} 个任务", "{n} 个任务"),
        "and": "和",
        "drops_share": "（占集群 GPU 小时至少 {share}%）",
        "colour_rule": "只为显著变化着色：利用率、分配率和影响变化至少 {pp} pp，GPU 小时变化至少 "
                       "{pct}%；较小的变化为灰色。",
        "status_new": "新增", "status_gone": "已结束", "status_empty": "无数据",
        "runs": "{n} 次运行",
        "by_user": "按用户", "by_workload": "按任务",
        "more_rows": "另有 {n} 项未列出。",
        "empty": "{scope}在{period}没有 GPU 使用数据。",
        "newest": "最新的小时数据时间：{time}。",
        "no_data_at_all": "数据源中没有它的小时数据。",
        "insights": "细节",
        "footer": "gpureport · 数据来自 Lens 小时统计；利用率按 GPU 小时加权，变化以百分点（pp）表示。",
        "days": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
        "email_intro": "{scope}的{title}：{period}，对比{baseline}。",
        "vs_reference": "{team}：平均利用率 {util}，{scope} 为 {ref}；分配率 {alloc}，"
                        "{scope} 为 {ref_alloc}。",
        "email_attached": "完整报告见附件 PDF（{file}）。",
        "email_file": "完整报告：{file}。",
        "email_csv": "表格的全部行见附件 {file}。",
        "email_dropped": "利用率下降 {threshold} pp 及以上的命名空间",
        "email_no_drops": "没有命名空间的利用率下降 {threshold} pp 及以上。",
        "email_empty": "本周期没有 GPU 使用数据。",
        "email_idle": "空闲最多的已分配任务",
    },
}


def strings(lang: str) -> dict[str, Any]:
    return STRINGS["zh" if lang == "zh" else "en"]


__all__ = ["STRINGS", "strings"]
