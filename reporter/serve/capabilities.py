"""``GET /api/gpu-analysis/capabilities``: what the agent can answer, in the seed's shape.

Built from the agent itself, so it never advertises what the agent does not do: the table
below proposes a description and example questions per intent, and an example is listed only
if the rule parser understands it as that intent today; an intent without such an example is
left out (the ``freshness`` intent, used by reports, has no question wording yet). The scope
kinds and metrics are read from the argument schemas of the agent's tools.
"""

from __future__ import annotations

import typing
from functools import lru_cache

from agent.periods import parse_now
from agent.tools import RankingArgs, ScopeArgs, TrendArgs
from agent.understand.model import INTENTS, Metadata
from agent.understand.rules import understand

# intent -> (name, description, examples: English then Chinese)
CAPABILITIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "trend": ("Utilization trend",
              "Utilization or allocation over a period, with daily first/last, min/max and "
              "slope, for a cluster, namespace, user, workload or label.",
              ("What is the GPU utilization trend over the last 7 days?",
               "Show me ml-training's allocation rate for the past 3 days",
               "过去7天集群GPU利用率趋势如何？")),
    "compare": ("Comparison",
                "Two entities over the same period, or one entity over two periods.",
                ("Compare GPU usage between ml-team and cv-team",
                 "Compare this week's and last week's utilization",
                 "对比一下ml-team和cv-team的GPU使用情况")),
    "drilldown": ("Root cause of a change",
                  "Why utilization moved between two periods: the users and workloads that "
                  "contributed, in percentage points.",
                  ("Why is ml-team's utilization lower this week than last week?",
                   "为什么ml-team这周的利用率比上周低？")),
    "realtime": ("Current allocation",
                 "The latest allocation snapshot: GPUs in use and free, by namespace.",
                 ("How many GPUs are currently in use in the cluster?",
                  "现在集群有多少GPU在使用？")),
    "ranking": ("Ranking",
                "Namespaces, users or workloads ranked by idle GPU-hours, GPU-hours or "
                "utilization.",
                ("Which users hold many GPUs but use them little?",
                 "Which workloads wasted the most GPU hours last week?")),
    "discovery": ("Discovery",
                  "What can be asked about: clusters, namespaces, users, workloads, label keys "
                  "and values.",
                  ("What label keys can I filter by?", "Which clusters are there?")),
    "freshness": ("Data freshness",
                  "The newest hour of data per cluster and how old it is.",
                  ("How fresh is the data?",)),
    "anomalies": ("Anomalies",
                  "Hours that left their usual weekly pattern (same hour of the week over the "
                  "previous 4 weeks), per cluster and namespace, with their likely cause.",
                  ("Anything unusual this week?", "这周有什么异常吗？")),
    "help": ("Help", "What kinds of question are understood, with examples.",
             ("What can you do?",)),
}


# the names the examples mention, as a source would list them
_EXAMPLE_NAMES = Metadata(clusters=["gpu-east", "gpu-west"],
                          namespaces=["ml-team", "cv-team", "ml-training"],
                          label_keys={"label": ["team"]})
_EXAMPLE_NOW = parse_now("2026-11-19T12:00:00Z")


def understood(intent: str, example: str) -> bool:
    """Does the rule parser take ``example`` as ``intent``?"""
    return understand(example, _EXAMPLE_NOW, _EXAMPLE_NAMES,
                      default_cluster="gpu-east").intent == intent


def _literal_values(model: type, name: str) -> list[str]:
    return list(typing.get_args(model.model_fields[name].annotation))


@lru_cache(maxsize=1)
def capabilities() -> dict:
    """The seed's shape: ``capabilities`` [{type, name, description, examples}],
    ``supported_dimensions``, ``supported_metrics``."""
    entries = []
    for intent in INTENTS:
        if intent not in CAPABILITIES:
            continue
        name, description, examples = CAPABILITIES[intent]
        kept = [e for e in examples if understood(intent, e)]
        if kept:
            entries.append({"type": intent, "name": name, "description": description,
                            "examples": kept})
    return {
        "capabilities": entries,
        "supported_dimensions": [*_literal_values(ScopeArgs, "kind"), "annotation"],
        # the trend metrics, and the figures rankings order by
        "supported_metrics": [*_literal_values(TrendArgs, "metric"), "allocation_rate",
                              "gpu_hours", "idle_gpu_hours"],
        "ranking_orders": _literal_values(RankingArgs, "by"),
        "languages": ["en", "zh"],
    }


__all__ = ["CAPABILITIES", "capabilities"]
