"""``GET /api/gpu-analysis/capabilities``: what the agent can answer, in the seed's shape.

Built from the agent itself: one entry per intent of ``agent.understand.model.INTENTS`` (a
test fails if an intent is added without an entry here), the scope kinds and metrics are read
from the argument schemas of the agent's tools, and every example is a question the rule
parser understands as that intent (tests/test_serve_api.py puts each through it).
"""

from __future__ import annotations

import typing
from functools import lru_cache

from agent.tools import RankingArgs, ScopeArgs, TrendArgs
from agent.understand.model import INTENTS

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
    "help": ("Help", "What kinds of question are understood, with examples.",
             ("What can you do?",)),
}


def _literal_values(model: type, name: str) -> list[str]:
    return list(typing.get_args(model.model_fields[name].annotation))


@lru_cache(maxsize=1)
def capabilities() -> dict:
    """The seed's shape: ``capabilities`` [{type, name, description, examples}],
    ``supported_dimensions``, ``supported_metrics``."""
    missing = set(INTENTS) - set(CAPABILITIES)
    if missing:  # pragma: no cover - caught by the tests before it ships
        raise RuntimeError(f"no capability entry for intent(s) {sorted(missing)}")
    return {
        "capabilities": [{"type": intent, "name": name, "description": description,
                          "examples": list(examples)}
                         for intent in INTENTS
                         for name, description, examples in [CAPABILITIES[intent]]],
        "supported_dimensions": [*_literal_values(ScopeArgs, "kind"), "annotation"],
        # the trend metrics, and the figures rankings order by
        "supported_metrics": [*_literal_values(TrendArgs, "metric"), "allocation_rate",
                              "gpu_hours", "idle_gpu_hours"],
        "ranking_orders": _literal_values(RankingArgs, "by"),
        "languages": ["en", "zh"],
    }


__all__ = ["CAPABILITIES", "capabilities"]
