"""The demo clusters as data: capacity, namespaces, their teams, users and GPU consumers.

Every namespace but the scripted one (``SCENARIO_NAMESPACE`` on ``SCENARIO_CLUSTER``, see
``reporter.demo.scenario``) is a set of *slots* with a fixed GPU count and utilization class,
so that week-over-week questions find the scripted change and nothing else. The ``large``
profile adds about 145 generated namespaces of small consumers to the scenario cluster.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SCENARIO_NAMESPACE = "ml-team"
SCENARIO_CLUSTER = "gpu-east"
PROFILES = ("small", "large")

TRAIN, INFER, DEV, IDLE, STEADY = "train", "infer", "dev", "idle", "steady"
LIGHT = "light"  # busy, but never near what it holds (the scripted oversized workload)
# class -> (clamp low, clamp high, hourly noise ±, spread above avg, spread below avg)
CLASS = {
    TRAIN: (70.0, 95.0, 2.0, 4.0, 12.0),
    INFER: (20.0, 70.0, 2.5, 10.0, 10.0),
    DEV: (5.0, 20.0, 2.0, 25.0, 5.0),
    IDLE: (0.0, 3.0, 0.4, 2.0, 1.5),
    STEADY: (40.0, 70.0, 1.0, 6.0, 8.0),
    LIGHT: (15.0, 25.0, 1.5, 8.0, 6.0),
}
# the GPU model each cluster's nodes carry, as a collector names it (agent.prices matches
# configured model keys such as "MI300X" or "H100" inside these); gpu-lab's is not known
GPU_MODELS = {"gpu-east": "AMD_Instinct_MI300X_OAM", "gpu-west": "NVIDIA H100 80GB HBM3"}
GROUP_VERSION = {
    "PyTorchJob": "kubeflow.org/v1",
    "Job": "batch/v1",
    "Deployment": "apps/v1",
    "Workload": "amd.com/v1",
    "Notebook": "kubeflow.org/v1",
}


@dataclass(frozen=True)
class Slot:
    """A recurring GPU consumer of a namespace.

    ``always``: one workload that runs through the whole span (a Deployment, a forgotten
    notebook). ``chain``: back-to-back jobs of ``hours`` duration with 5–90 min gaps (longer
    gaps on weekends when ``weekend_quiet``). ``workday``: one interactive session per weekday
    from about 08:00, occasionally one on a weekend day.
    """

    cls: str
    kind: str
    gpus: int
    pattern: str
    count: int = 1
    hours: tuple[int, int] = (12, 48)
    app: str = "job"
    weekend_quiet: bool = False


@dataclass(frozen=True)
class Namespace:
    name: str
    team: str
    users: tuple[str, ...]
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class Cluster:
    name: str
    capacity: int
    namespaces: tuple[Namespace, ...]


def _slot(cls: str, kind: str, gpus: int, pattern: str, count: int = 1, hours=(12, 48),
          app: str = "job", weekend_quiet: bool = False) -> Slot:
    return Slot(cls, kind, gpus, pattern, count, tuple(hours), app, weekend_quiet)


_EAST_NAMED = (
    # ml-team's slots are the scripted scenario (see ml_team); the team label is still needed
    Namespace("ml-team", "ml", ("user_a", "user_b", "user_c"), ()),
    Namespace("cv-team", "cv", ("alice", "bob", "carol", "user_d"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 2, (12, 48), "resnet-train"),
        _slot(TRAIN, "Job", 4, "chain", 2, (3, 12), "detector-eval", weekend_quiet=True),
        _slot(INFER, "Deployment", 4, "always", 1, app="vision-api"),
        _slot(DEV, "Notebook", 1, "workday", 3, app="jupyter"),
    )),
    Namespace("nlp-team", "nlp", ("dave", "erin", "frank", "user_e"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 3, (12, 60), "llama-sft"),
        _slot(INFER, "Deployment", 8, "always", 1, app="vllm-serve"),
        _slot(DEV, "Workload", 2, "workday", 2, app="dev-box"),
    )),
    Namespace("ml-training", "ml-platform", ("grace", "heidi", "ivan"), (
        _slot(TRAIN, "PyTorchJob", 16, "chain", 2, (24, 72), "pretrain"),
        _slot(TRAIN, "PyTorchJob", 8, "chain", 2, (12, 48), "distill"),
        _slot(TRAIN, "Workload", 4, "chain", 2, (6, 24), "sweep"),
    )),
    Namespace("research", "research", ("judy", "mallory", "alice", "olivia"), (
        _slot(IDLE, "Notebook", 4, "always", 1, app="research-notebook"),
        _slot(DEV, "Notebook", 2, "workday", 3, app="explore"),
        _slot(TRAIN, "Job", 4, "chain", 2, (6, 30), "ablation"),
    )),
    Namespace("inference", "serving", ("peggy", "rupert", "user_f"), (
        _slot(INFER, "Deployment", 4, "always", 2, app="chat-api"),
        _slot(INFER, "Deployment", 8, "always", 1, app="embedding-api"),
        _slot(INFER, "Deployment", 2, "always", 1, app="rerank-api"),
        _slot(IDLE, "Deployment", 2, "always", 1, app="canary-api"),
    )),
    Namespace("data-eng", "data", ("sybil", "trent", "bob"), (
        _slot(TRAIN, "Job", 2, "chain", 4, (1, 6), "etl-embed", weekend_quiet=True),
        _slot(DEV, "Workload", 1, "workday", 3, app="pipeline-dev"),
    )),
    Namespace("recsys", "recsys", ("victor", "walter", "erin"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 2, (12, 36), "ctr-model"),
        _slot(INFER, "Deployment", 4, "always", 1, app="ranker"),
    )),
    Namespace("speech", "speech", ("niaj", "olivia", "frank"), (
        _slot(TRAIN, "PyTorchJob", 4, "chain", 3, (8, 40), "whisper-ft"),
        _slot(DEV, "Notebook", 1, "workday", 2, app="jupyter"),
    )),
    Namespace("platform-tools", "platform", ("trent", "user_d"), (
        _slot(IDLE, "Deployment", 1, "always", 2, app="gpu-probe"),
        _slot(TRAIN, "Job", 1, "chain", 3, (1, 4), "burn-in"),
    )),
)

_WEST = Cluster("gpu-west", 256, (
    Namespace("cv-team", "cv", ("alice", "carol", "user_d"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 5, (12, 48), "segment-train"),
        _slot(INFER, "Deployment", 4, "always", 1, app="vision-api"),
        _slot(DEV, "Notebook", 1, "workday", 2, app="jupyter"),
    )),
    Namespace("nlp-team", "nlp", ("dave", "user_e"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 4, (12, 48), "bert-finetune"),
        _slot(DEV, "Workload", 2, "workday", 2, app="dev-box"),
    )),
    Namespace("inference", "serving", ("peggy", "rupert"), (
        _slot(INFER, "Deployment", 4, "always", 4, app="chat-api"),
        _slot(IDLE, "Deployment", 2, "always", 1, app="shadow-api"),
    )),
    Namespace("robotics", "robotics", ("ivan", "heidi", "user_g"), (
        _slot(TRAIN, "Workload", 8, "chain", 3, (8, 36), "policy-rl"),
        _slot(TRAIN, "Job", 2, "chain", 2, (2, 8), "sim-eval", weekend_quiet=True),
    )),
    Namespace("genomics", "genomics", ("grace", "sybil"), (
        _slot(TRAIN, "Job", 4, "chain", 5, (4, 20), "fold-batch"),
        _slot(DEV, "Notebook", 2, "workday", 2, app="jupyter"),
    )),
    Namespace("batch-eval", "eval", ("walter", "victor"), (
        _slot(TRAIN, "Job", 2, "chain", 4, (1, 5), "bench", weekend_quiet=True),
        _slot(IDLE, "Notebook", 2, "always", 1, app="eval-notebook"),
    )),
))

_LAB = Cluster("gpu-lab", 64, (
    Namespace("research", "research", ("judy", "olivia"), (
        _slot(TRAIN, "Job", 4, "chain", 4, (6, 24), "ablation"),
        _slot(DEV, "Notebook", 2, "workday", 2, app="explore"),
    )),
    Namespace("student-lab", "edu", ("student_1", "student_2", "student_3"), (
        _slot(DEV, "Notebook", 1, "workday", 6, app="course"),
        _slot(TRAIN, "Job", 2, "chain", 3, (2, 10), "homework"),
    )),
    Namespace("sandbox", "sandbox", ("mallory", "niaj"), (
        _slot(IDLE, "Notebook", 2, "always", 1, app="scratch"),
        _slot(TRAIN, "Job", 1, "chain", 3, (1, 6), "smoke-test", weekend_quiet=True),
    )),
))

_AREAS = ("vision", "speech", "nlp", "rl", "bio", "chem", "search", "ads", "robotics", "fraud",
          "maps", "health", "finance", "video", "audio", "music", "games", "weather", "retail",
          "legal", "code", "math", "agents", "safety", "translation", "ocr", "ranking",
          "forecast", "sensors", "climate")
_SUFFIXES = ("lab", "train", "serve", "exp", "dev")
_LARGE_USERS = tuple(f"{n}{i}" for i in range(1, 9) for n in
                     ("amir", "bea", "chen", "dana", "eli", "fay", "gus", "hana", "ion", "jun"))


def _large_namespaces(rng: random.Random) -> tuple[Namespace, ...]:
    """About 145 generated namespaces of many small (1–2 GPU) consumers, for ≥1.5 M rows."""
    out = []
    for area, suffix in [(a, s) for a in _AREAS for s in _SUFFIXES][:145]:
        users = tuple(rng.sample(_LARGE_USERS, 4))
        idle = (_slot(IDLE, "Notebook", 1, "always", 1, app="notebook"),) \
            if rng.random() < 0.3 else ()
        slots = (
            _slot(TRAIN, rng.choice(("PyTorchJob", "Job")), 1, "chain", 7, (4, 24),
                  f"{area}-train"),
            _slot(TRAIN, "PyTorchJob", 2, "chain", 3, (8, 36), f"{area}-big"),
            _slot(TRAIN, "Job", 1, "chain", 3, (1, 4), f"{area}-eval", weekend_quiet=True),
            _slot(INFER, "Deployment", 1, "always", 4, app=f"{area}-api"),
            _slot(DEV, rng.choice(("Notebook", "Workload")), 1, "workday", 3, app="dev"),
            *idle,
        )
        out.append(Namespace(f"{area}-{suffix}", area, users, slots))
    return tuple(out)


def clusters_for(profile: str, rng: random.Random) -> tuple[Cluster, ...]:
    if profile == "large":
        east = Cluster(SCENARIO_CLUSTER, 4608, _EAST_NAMED + _large_namespaces(rng))
    else:
        east = Cluster(SCENARIO_CLUSTER, 384, _EAST_NAMED)
    return (east, _WEST, _LAB)

__all__ = ["Cluster", "Namespace", "Slot", "CLASS", "GROUP_VERSION", "clusters_for",
           "PROFILES", "SCENARIO_CLUSTER", "SCENARIO_NAMESPACE", "TRAIN", "INFER", "DEV", "IDLE",
           "STEADY", "LIGHT", "GPU_MODELS"]
