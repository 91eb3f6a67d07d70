"""Anomalies: hours of an hourly series that leave their usual weekly pattern, as episodes.

GPU usage follows the working day and the working week, so "unusual" can only mean "unusual for
this hour of this weekday". Each hour of the analysed period is compared with the *same
hour-of-week* in the previous weeks (default 4): the baseline is their median and the spread
their MAD (median absolute deviation). Median and MAD, not mean and standard deviation, so one
odd week in the history (an outage, last month's spike) neither moves the baseline nor hides the
next anomaly. A quiet day that repeats every week (a weekly holiday, the weekend) is part of its
own baseline and does not fire.

Rules (all numbers by code, deterministic, O(hours × weeks)):

* **Baseline of hour t** = the values at t − 7 d, t − 14 d, … t − 7·``weeks`` d that exist.
  An hour with fewer than 2 such values is *not judged* (too little history at that hour).
  References are looked up per hour, so for periods longer than a week the later hours also
  use the period's own earlier weeks, as a rolling baseline does.
* **Scale** = max(1.4826·MAD, floor). 1.4826·MAD estimates a standard deviation for normal
  noise. With only 2–4 references the MAD is often tiny by chance and is 0 on flat history,
  which would make every wiggle "anomalous"; the floor is the smallest change worth reporting
  divided by ``k``: 2.5 pp for ``avg_utilization`` and ``allocation_rate`` (with k = 4 a rate
  must move by more than 10 pp), and max(1 GPU, 3 % of the baseline) for ``allocated_gpus``
  (more than 4 GPUs and 12 % of the baseline: about the same relative change as 10 pp of a
  rate near 80 %). Chosen on the evaluation seeds of ``tests/anomaly_series.py``, checked on
  its hold-out seeds. ``allocation_rate`` is a share of *cluster* capacity: for a namespace,
  use ``allocated_gpus``.
* **Anomalous hour**: |x − median| > k·scale (robust z = (x − median)/scale, |z| > k).
* **Episode**: ≥ ``min_hours`` consecutive anomalous hours on the same side of the baseline,
  widened over the neighbouring hours on that side with |z| > k/2 (hysteresis: a level shift
  or a long drop whose single hours dip a little under k stays one episode instead of five).
  A missing or not-judged hour ends an episode and is never an anomaly itself.
* **History**: ``weeks_of_history`` counts the ``weeks`` weeks before the period start that
  hold data. Below 2 there is no detection and ``note`` says why.
* **GPU-hours affected** (always ≥ 0; ``direction`` tells gained or lost), each point being one
  hour: ``avg_utilization``: Σ allocated GPUs × |x − median| / 100, the utilized GPU-hours
  gained or lost against the baseline utilization on the GPUs actually held;
  ``allocation_rate``: Σ capacity × |x − median| / 100 = Σ |allocated − baseline allocated|;
  ``allocated_gpus``: Σ |x − median|. None when the GPU counts are unknown (bare tuples).

Missing data per metric: an hour with no allocated GPU has no utilization and an hour without
capacity no allocation rate; both count as missing, not as a drop to 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Iterable, Literal, Sequence, Union

from agent.periods import iso, utc
from agent.sources.base import HourlyPoint

METRICS = ("avg_utilization", "allocation_rate", "allocated_gpus")
UNITS = {"avg_utilization": "pp", "allocation_rate": "pp", "allocated_gpus": "GPUs"}
MAD_TO_SIGMA = 1.4826  # 1.4826·MAD = σ for normally distributed noise
DEFAULT_K = 4.0
DEFAULT_MIN_HOURS = 3
DEFAULT_WEEKS = 4
MIN_WEEKS = 2  # fewer reference weeks: no median worth the name
RATE_FLOOR_PP = 2.5
GPU_FLOOR, GPU_FLOOR_FRACTION = 1.0, 0.03
HOUR, WEEK = timedelta(hours=1), timedelta(days=7)

Direction = Literal["above", "below"]
PointLike = Union[HourlyPoint, Sequence]


@dataclass(frozen=True)
class HourBaseline:
    """One hour of the analysed period against its baseline (``value`` None: missing hour;
    ``median`` None: not judged, fewer than 2 reference weeks)."""

    time: datetime
    value: float | None
    gpus: float | None  # the GPUs a percentage is of (allocated / capacity); None otherwise
    refs: int
    median: float | None = None
    scale: float | None = None

    @property
    def deviation(self) -> float | None:
        return None if self.value is None or self.median is None else self.value - self.median

    @property
    def z(self) -> float | None:
        d = self.deviation
        return None if d is None else d / self.scale


@dataclass
class Episode:
    """Consecutive hours on one side of the baseline, ``[start, end)``: at least ``min_hours``
    anomalous ones in a row plus the neighbours kept by the hysteresis; every figure (hours,
    mean deviation, GPU-hours affected) is over all of them."""

    metric: str
    start: datetime
    end: datetime
    direction: Direction
    hours: int
    peak_time: datetime
    peak_value: float
    peak_baseline: float
    peak_deviation: float  # value − baseline, metric units, signed
    peak_z: float  # robust z, signed
    mean_deviation: float  # mean of value − baseline over the episode, signed
    gpu_hours_affected: float | None

    def as_dict(self) -> dict:
        return {
            "metric": self.metric, "unit": UNITS[self.metric],
            "start": iso(self.start), "end": iso(self.end), "direction": self.direction,
            "hours": self.hours,
            "peak": {"time": iso(self.peak_time), "value": self.peak_value,
                     "baseline": self.peak_baseline, "deviation": self.peak_deviation,
                     "z": self.peak_z},
            "mean_deviation": self.mean_deviation,
            "gpu_hours_affected": self.gpu_hours_affected,
        }


@dataclass
class AnomalyResult:
    metric: str
    start: datetime
    end: datetime
    k: float
    min_hours: int
    weeks_of_history: int
    episodes: list[Episode] = field(default_factory=list)
    note: str | None = None  # why nothing was judged, or which hours were not
    hours_judged: int = 0
    hours_missing: int = 0

    @property
    def detected(self) -> bool:
        """Whether detection ran at all (enough history)."""
        return self.weeks_of_history >= MIN_WEEKS

    def as_dict(self) -> dict:
        return {
            "metric": self.metric, "unit": UNITS[self.metric],
            "start": iso(self.start), "end": iso(self.end), "k": self.k,
            "min_hours": self.min_hours, "weeks_of_history": self.weeks_of_history,
            "detected": self.detected, "hours_judged": self.hours_judged,
            "hours_missing": self.hours_missing, "note": self.note,
            "episodes": [e.as_dict() for e in self.episodes],
        }


def _hours(n: int) -> str:
    return f"{n} hour" if n == 1 else f"{n} hours"


def _hour(t: datetime) -> datetime:
    return utc(t).replace(minute=0, second=0, microsecond=0)


def samples(points: Iterable[PointLike], metric: str = "avg_utilization"
            ) -> dict[datetime, tuple[float, float | None]]:
    """hour -> (value, gpus) of one metric; missing hours are left out.

    ``points`` are ``HourlyPoint``s or tuples ``(time, value[, gpus])`` where ``gpus`` is what
    the percentage is of: allocated GPUs for ``avg_utilization`` (the brief's "allocated"),
    capacity for ``allocation_rate``; ignored for ``allocated_gpus``. A value of None is missing.
    Two points for one hour are an error: summing sources is the caller's job (HourlyPoint sums).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'; one of {', '.join(METRICS)}")
    out: dict[datetime, tuple[float, float | None]] = {}
    for p in points:
        if isinstance(p, HourlyPoint):
            t, v, g = p.time, p.allocated_gpus, None
            if metric == "avg_utilization":
                v, g = p.avg_utilization, p.allocated_gpus
                v = v if g > 0 else None
            elif metric == "allocation_rate":
                v, g = p.allocation_rate, p.capacity_gpus
                v = v if g > 0 else None
        else:
            t, v = p[0], p[1]
            has_gpus = len(p) > 2 and p[2] is not None and metric != "allocated_gpus"
            g = float(p[2]) if has_gpus else None
        if v is None:
            continue
        h = _hour(t)
        if h in out:
            raise ValueError(f"two points for hour {iso(h)}")
        out[h] = (float(v), g)
    return out


def scale_floor(metric: str, baseline: float) -> float:
    """The smallest scale allowed (see the module docstring): 2 pp for rates, max(1 GPU, 2 % of
    the baseline) for allocated GPUs."""
    if metric == "allocated_gpus":
        return max(GPU_FLOOR, GPU_FLOOR_FRACTION * abs(baseline))
    return RATE_FLOOR_PP


def weeks_of_history(hours: Iterable[datetime], start: datetime, weeks: int = DEFAULT_WEEKS) -> int:
    """How many of the ``weeks`` weeks before ``start`` hold at least one hour of data."""
    start = _hour(start)
    held = {(start - HOUR - h) // WEEK for h in hours if start - weeks * WEEK <= h < start}
    return len(held)


def hourly_baseline(data: dict[datetime, tuple[float, float | None]], start: datetime,
                    end: datetime, metric: str = "avg_utilization", weeks: int = DEFAULT_WEEKS,
                    floor: float | None = None) -> list[HourBaseline]:
    """Every hour of ``[start, end)`` with its value and same-hour-of-week median and scale."""
    out = []
    t, end = _hour(start), utc(end)
    while t < end:
        value, gpus = data.get(t, (None, None))
        refs = [data[r][0] for r in (t - w * WEEK for w in range(1, weeks + 1)) if r in data]
        if len(refs) < MIN_WEEKS:
            out.append(HourBaseline(t, value, gpus, len(refs)))
        else:
            med = median(refs)
            mad = median(abs(r - med) for r in refs)
            low = floor if floor is not None else scale_floor(metric, med)
            out.append(HourBaseline(t, value, gpus, len(refs), med, max(MAD_TO_SIGMA * mad, low)))
        t += HOUR
    return out


def _episode(metric: str, run: list[HourBaseline]) -> Episode:
    devs = [h.deviation for h in run]
    peak = max(run, key=lambda h: abs(h.deviation))
    if metric == "allocated_gpus":
        affected = sum(abs(d) for d in devs)
    elif all(h.gpus is not None for h in run):
        affected = sum(h.gpus * abs(h.deviation) / 100.0 for h in run)
    else:
        affected = None
    return Episode(
        metric=metric, start=run[0].time, end=run[-1].time + HOUR,
        direction="above" if devs[0] > 0 else "below", hours=len(run),
        peak_time=peak.time, peak_value=peak.value, peak_baseline=peak.median,
        peak_deviation=peak.deviation, peak_z=peak.z,
        mean_deviation=sum(devs) / len(devs), gpu_hours_affected=affected,
    )


def episodes(hours: list[HourBaseline], metric: str = "avg_utilization", k: float = DEFAULT_K,
             min_hours: int = DEFAULT_MIN_HOURS, keep_k: float | None = None) -> list[Episode]:
    """Episodes among ``hours`` (in order, one per hour; see the module docstring).

    A run is a maximal stretch of hours on one side of the baseline with |z| > ``keep_k``
    (default k/2); a missing or not-judged hour ends it. A run is an episode when it holds
    ≥ ``min_hours`` consecutive anomalous hours (|z| > k). The hysteresis keeps a level shift
    or a long drop one episode when single hours dip a little under k.
    """
    keep = k / 2 if keep_k is None else min(keep_k, k)
    found: list[Episode] = []
    run: list[HourBaseline] = []

    def close():
        best = streak = 0
        for h in run:
            streak = streak + 1 if abs(h.z) > k else 0
            best = max(best, streak)
        if best >= min_hours:
            found.append(_episode(metric, run))
        run.clear()

    for h in hours:
        z = h.z
        if z is None or abs(z) <= keep:
            close()
            continue
        if run and (run[-1].deviation > 0) != (h.deviation > 0):
            close()
        run.append(h)
    close()
    return found


def detect(points: Iterable[PointLike], start: datetime, end: datetime,
           metric: str = "avg_utilization", k: float = DEFAULT_K,
           min_hours: int = DEFAULT_MIN_HOURS, weeks: int = DEFAULT_WEEKS,
           floor: float | None = None, keep_k: float | None = None) -> AnomalyResult:
    """Anomaly episodes of ``metric`` in ``[start, end)``.

    ``points`` cover the history (up to ``weeks`` weeks before ``start``) and the period, in any
    order; points outside both are ignored. ``floor`` overrides the metric's scale floor (in the
    metric's units); ``keep_k`` the |z| that keeps an episode open (default k/2; k: none).
    """
    if k <= 0 or min_hours < 1 or weeks < MIN_WEEKS or (floor is not None and floor <= 0):
        raise ValueError("need k > 0, min_hours >= 1, weeks >= 2 and floor > 0")
    data = samples(points, metric)
    start, end = _hour(start), utc(end)
    have = weeks_of_history(data, start, weeks)
    result = AnomalyResult(metric=metric, start=start, end=end, k=k, min_hours=min_hours,
                           weeks_of_history=have)
    if have < MIN_WEEKS:
        what = "no history" if have == 0 else "only 1 week of history"
        result.note = (f"{what} before {iso(start)}: anomaly detection needs the same hours of at "
                       f"least {MIN_WEEKS} previous weeks; nothing was judged")
        return result
    hours = hourly_baseline(data, start, end, metric, weeks, floor)
    result.episodes = episodes(hours, metric, k, min_hours, keep_k)
    result.hours_missing = sum(1 for h in hours if h.value is None)
    result.hours_judged = sum(1 for h in hours if h.value is not None and h.median is not None)
    notes = []
    if have < weeks:
        notes.append(f"baseline from {have} weeks of history ({weeks} wanted)")
    unjudged = sum(1 for h in hours if h.value is not None and h.median is None)
    if unjudged:
        notes.append(f"{_hours(unjudged)} not judged (fewer than {MIN_WEEKS} earlier weeks "
                     f"at that hour of the week)")
    if result.hours_missing:
        notes.append(f"{_hours(result.hours_missing)} without data")
    result.note = "; ".join(notes) or None
    return result
