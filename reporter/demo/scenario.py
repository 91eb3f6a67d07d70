"""The scripted scenario (product.md §3) and the workloads of one cluster.

From the scenario's start (``writer.scenario_start``: the Monday of this week or of last week,
or 7 days before now early in the week), ml-team on gpu-east changes: user_a runs 12 instead of
28 two-GPU jobs a week, and user_b starts an idle 8-GPU ``llm-eval-server``; user_b's and
user_c's other jobs stay as they were. "This week vs last week", "the last 7 days vs the 7
before" and a Monday's "last week" all find this drop, whatever the day.

One more scripted workload, for recommendations: ``bert-serve-xl`` of dave in nlp-team on
gpu-west holds 8 GPUs all the time and never peaks above ~30 % (``oversized``). It is built
from a Random of its own, so every other workload (drawn from the shared one) is unchanged.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from reporter.demo.clusters import (IDLE, LIGHT, SCENARIO_CLUSTER, SCENARIO_NAMESPACE, STEADY,
                                    TRAIN, Cluster, Namespace)
from reporter.demo.workloads import Builder, Workload

IDLE_SERVER = "llm-eval-server"
OVERSIZED = ("gpu-west", "nlp-team", "bert-serve-xl")  # cluster, namespace, workload
_OVERSIZED_SEED = 1515


def ml_team(b: Builder, ns: Namespace, scenario_min: int) -> None:
    """The scripted drop (product.md §3): user_a 28 → 12 two-GPU jobs a week at ~88%, a new idle
    8-GPU ``llm-eval-server`` of user_b from week S, user_b/user_c steady at 52–56%."""
    rng = b.rng
    week = 7 * 1440
    # the weekly runs restart at the scenario's start: on a Monday that is the ISO week, on a
    # Tuesday or Wednesday (writer.scenario_start) a run straddles the span's first Monday
    phase = scenario_min % week
    for w0 in range(phase - week if phase else 0, b.end_min, week):
        iso = (b.span_start + timedelta(minutes=w0)).isocalendar().week
        n_a = 28 if w0 < scenario_min else 12
        for i in range(1, n_a + 1):
            b.add(ns, "PyTorchJob", 2, w0, w0 + week, "user_a", TRAIN,
                  88.0 + rng.uniform(-0.5, 0.5), "llm-pretrain",
                  name=f"user-a-train-w{iso:02d}-{i:02d}")
        for i in range(1, 3):
            b.add(ns, "PyTorchJob", 4, w0, w0 + week, "user_b", STEADY, 52.0, "finetune",
                  name=f"user-b-finetune-w{iso:02d}-{i:02d}")
        for i in range(1, 5):
            b.add(ns, "Workload", 4, w0, w0 + week, "user_c", STEADY, 56.0, "rlhf",
                  name=f"user-c-rlhf-w{iso:02d}-{i:02d}")
    b.add(ns, "Deployment", 8, scenario_min, None, "user_b", IDLE, 1.5, IDLE_SERVER,
          name=IDLE_SERVER)


def oversized(b: Builder, ns: Namespace) -> None:
    """An 8-GPU inference Deployment running since two weeks before the span at ~20 %
    (peak ≤ 30 %): 3 GPUs would cover its busiest hour."""
    own = Builder(random.Random(_OVERSIZED_SEED), b.span_start, b.hours, b.names)
    own.add(ns, "Deployment", 8, -14 * 1440, None, "dave", LIGHT, 20.0, "bert-serve",
            name=OVERSIZED[2])
    b.out += own.out


def build_workloads(cluster: Cluster, rng: random.Random, span_start: datetime, hours: int,
                    scenario_min: int, names: set[tuple[str, str]]) -> list[Workload]:
    """Every workload of ``cluster``: the scenario's for its namespace, then each slot's.
    ``names`` holds the (namespace, name) pairs taken so far in any cluster."""
    b = Builder(rng, span_start, hours, names)
    for ns in cluster.namespaces:
        if cluster.name == SCENARIO_CLUSTER and ns.name == SCENARIO_NAMESPACE:
            ml_team(b, ns, scenario_min)
        for slot in ns.slots:
            b.slot(ns, slot)
        if (cluster.name, ns.name) == OVERSIZED[:2]:
            oversized(b, ns)
    return b.out


__all__ = ["build_workloads", "ml_team", "oversized", "IDLE_SERVER", "OVERSIZED"]
