"""Anomaly detection (issue 15, item 2 and acceptance 1): evaluation and behaviour.

The evaluation runs the detector with its defaults over the generated series of
``tests/anomaly_series.py`` (known injected episodes). A detected episode is a true positive
when it overlaps an injected one; precision = true-positive detections / all detections,
recall = injected episodes found / all injected. ``pytest -s`` prints both with counts.
The defaults were chosen on EVAL_SEEDS only; HOLDOUT_SEEDS checks they are not overfit.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import pytest

from agent.anomalies import (DEFAULT_K, RATE_FLOOR_PP, AnomalyResult, detect,
                             hourly_baseline, samples)
from agent.sources.base import HourlyPoint
from tests.anomaly_series import (EVAL_SEEDS, HOLDOUT_SEEDS, KINDS, METRICS, _diurnal,
                                  make_series, series_set)

START = datetime(2026, 3, 2, tzinfo=timezone.utc)  # Monday
END = START + timedelta(days=7)
H = timedelta(hours=1)


# -- evaluation on generated series --------------------------------------------------------------
def _overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


@lru_cache(maxsize=None)
def evaluate(seeds: tuple[int, ...]) -> dict:
    detected = true_pos = injected = found = 0
    quiet_series_fired = []
    for s in series_set(seeds):
        r = detect(s.points, s.start, s.end, metric=s.metric)
        assert r.detected and r.weeks_of_history == 4
        for e in r.episodes:
            detected += 1
            true_pos += any(_overlaps(e.start, e.end, i.start, i.end) for i in s.injected)
        for i in s.injected:
            injected += 1
            found += any(_overlaps(e.start, e.end, i.start, i.end) for e in r.episodes)
        if not s.injected and r.episodes:
            quiet_series_fired.append(s.name)
    return {"series": len(seeds), "detected": detected, "true_pos": true_pos,
            "injected": injected, "found": found,
            "precision": true_pos / detected if detected else 1.0,
            "recall": found / injected if injected else 1.0,
            "quiet_series_fired": quiet_series_fired}


def _report(name: str, ev: dict) -> None:
    print(f"\nanomaly detection, {name} ({ev['series']} series, k={DEFAULT_K:g}, min 3 h): "
          f"precision {ev['precision']:.3f} ({ev['true_pos']}/{ev['detected']} detected episodes "
          f"overlap an injected one), recall {ev['recall']:.3f} ({ev['found']}/{ev['injected']} "
          f"injected episodes found); clean/holiday series that fired: "
          f"{len(ev['quiet_series_fired'])}")


def test_generator_is_deterministic_and_has_the_promised_mix():
    a, b = make_series(1234, "mixed", "avg_utilization"), make_series(1234, "mixed", "avg_utilization")
    assert [(p.time, p.utilized_gpus) for p in a.points] == [(p.time, p.utilized_gpus) for p in b.points]
    assert a.injected == b.injected and len(a.injected) == 2
    eval_set = series_set(EVAL_SEEDS)
    assert len(eval_set) >= 60 and not set(EVAL_SEEDS) & set(HOLDOUT_SEEDS)
    assert {(s.kind, s.metric) for s in eval_set} == {(k, m) for k in KINDS for m in METRICS}
    kinds = {i.kind for s in eval_set for i in s.injected}
    assert kinds == {"spike", "drop", "shift"}
    for s in eval_set:
        for i in s.injected:
            hours = (i.end - i.start) / H
            assert {"spike": 3 <= hours <= 6, "drop": 3 <= hours <= 12,
                    "shift": i.end == s.end}[i.kind], (s.name, i)


def test_precision_and_recall_on_the_evaluation_set():
    ev = evaluate(EVAL_SEEDS)
    _report("evaluation seeds", ev)
    assert ev["precision"] >= 0.9 and ev["recall"] >= 0.9


def test_precision_and_recall_hold_on_the_holdout_set():
    ev = evaluate(HOLDOUT_SEEDS)
    _report("hold-out seeds", ev)
    assert ev["precision"] >= 0.85 and ev["recall"] >= 0.85


# -- hand-made series: behaviour ------------------------------------------------------------------
def usual(t: datetime) -> float:
    """A weekly pattern with a little week-to-week variation (so MAD > 0): busy afternoons,
    quiet nights and weekends, a 0/1/2 pp wobble from week to week."""
    week = (t - START) // timedelta(days=7)  # -4 .. 0
    level = 30 + 40 * _diurnal(t.hour) * (0.7 if t.weekday() >= 5 else 1.0)
    return level + (week % 3)


def series(value=usual, *, weeks: int = 4, alloc=lambda t: 10.0, capacity: float = 40.0,
           skip=()) -> list[HourlyPoint]:
    """HourlyPoints from ``weeks`` weeks before START to END; ``value(t)`` is the utilization."""
    out, t = [], START - weeks * timedelta(days=7)
    while t < END:
        if t not in skip:
            a = alloc(t)
            u = value(t)
            out.append(HourlyPoint(time=t, allocated_gpus=a, utilized_gpus=a * u / 100.0,
                                   utilization_sum=u, rows=1, capacity_gpus=capacity))
        t += H
    return out


def with_change(change: dict[datetime, float], base=usual):
    """``base`` plus ``change[t]`` pp at the hours given (analysed week only)."""
    return lambda t: base(t) + change.get(t, 0.0)


def hours_from(start: datetime, n: int, delta: float) -> dict[datetime, float]:
    return {start + i * H: delta for i in range(n)}


WED_10 = START + timedelta(days=2, hours=10)


def test_a_quiet_day_that_repeats_every_week_does_not_fire():
    def holiday_wednesdays(t):
        return usual(t) * (0.3 if t.weekday() == 2 else 1.0)

    r = detect(series(holiday_wednesdays), START, END)
    assert r.detected and r.episodes == []
    # the same quiet Wednesday only in the analysed week is unusual: one episode, below
    only_now = series(lambda t: holiday_wednesdays(t) if t >= START else usual(t))
    r = detect(only_now, START, END)
    assert [(e.direction, e.start.weekday(), e.end.weekday()) for e in r.episodes] == [("below", 2, 3)]


def test_a_two_hour_blip_does_not_fire_with_the_default_three_hours():
    blip = series(with_change(hours_from(WED_10, 2, 30.0)))
    assert detect(blip, START, END).episodes == []
    assert len(detect(blip, START, END, min_hours=2).episodes) == 1
    three = detect(series(with_change(hours_from(WED_10, 3, 30.0))), START, END)
    (e,) = three.episodes
    assert (e.start, e.end, e.hours, e.direction) == (WED_10, WED_10 + 3 * H, 3, "above")


def test_one_week_of_history_is_not_enough_and_says_why():
    r = detect(series(with_change(hours_from(WED_10, 6, -40.0)), weeks=1), START, END)
    assert (r.detected, r.weeks_of_history, r.episodes) == (False, 1, [])
    assert "only 1 week of history" in r.note and "at least 2" in r.note
    r = detect([p for p in series() if p.time >= START], START, END)
    assert (r.detected, r.weeks_of_history) == (False, 0) and "no history" in r.note


def test_three_weeks_of_history_detect_and_say_so():
    r = detect(series(with_change(hours_from(WED_10, 6, -40.0)), weeks=3), START, END)
    assert r.detected and r.weeks_of_history == 3
    assert "3 weeks of history (4 wanted)" in r.note
    (e,) = r.episodes
    assert (e.start, e.hours, e.direction) == (WED_10, 6, "below")


def test_missing_hours_split_an_episode_and_are_not_anomalies():
    gap = WED_10 + 4 * H
    r = detect(series(with_change(hours_from(WED_10, 10, -40.0)), skip={gap}), START, END)
    assert [(e.start, e.end) for e in r.episodes] == [(WED_10, gap), (gap + H, WED_10 + 10 * H)]
    assert r.hours_missing == 1 and r.hours_judged == 167 and "1 hour without data" in r.note
    # an hour without allocated GPUs has no utilization: missing, not a drop to 0
    r = detect(series(alloc=lambda t: 0.0 if WED_10 <= t < WED_10 + 5 * H else 10.0), START, END)
    assert r.episodes == [] and r.hours_missing == 5


def test_flat_history_uses_the_scale_floor_instead_of_a_zero_mad():
    flat = 50.0
    # MAD = 0; scale = floor = 2.5 pp; anomalous above k·2.5 = 10 pp
    hours = hourly_baseline(samples(series(lambda t: flat)), START, END)
    assert {(h.median, h.scale) for h in hours} == {(flat, RATE_FLOOR_PP)}
    small = series(lambda t: flat + (9.9 if WED_10 <= t < WED_10 + 6 * H else 0.0))
    assert detect(small, START, END).episodes == []
    big = series(lambda t: flat + (10.5 if WED_10 <= t < WED_10 + 6 * H else 0.0))
    (e,) = detect(big, START, END).episodes
    assert e.peak_deviation == pytest.approx(10.5) and e.peak_z == pytest.approx(10.5 / RATE_FLOOR_PP)
    # an explicit floor replaces the default one
    assert detect(big, START, END, floor=3.0).episodes == []


def test_gpu_hours_affected_equals_a_hand_computed_value():
    # utilization: baseline 60 % (median of 60, 59, 61, 60, MAD 0.5), episode at 20/25/30 % on 10/12/8 GPUs
    # -> utilized GPU-hours lost = 10·40/100 + 12·35/100 + 8·30/100 = 10.6
    def util(t):
        if t < START:
            return 60.0 + {-1: 0.0, -2: -1.0, -3: 1.0, -4: 0.0}[(t - START) // timedelta(days=7)]
        return {WED_10: 20.0, WED_10 + H: 25.0, WED_10 + 2 * H: 30.0}.get(t, 60.0)

    def alloc(t):
        return {WED_10: 10.0, WED_10 + H: 12.0, WED_10 + 2 * H: 8.0}.get(t, 10.0)

    r = detect(series(util, alloc=alloc), START, END)
    (e,) = r.episodes
    assert e.gpu_hours_affected == pytest.approx(10.6)
    assert (e.direction, e.hours, e.peak_value, e.peak_baseline) == ("below", 3, 20.0, 60.0)
    assert e.peak_deviation == pytest.approx(-40.0) and e.mean_deviation == pytest.approx(-35.0)
    # the median 60 with MAD 0.5 gives scale max(0.74, 2.5) = 2.5: peak z = −40/2.5
    assert e.peak_z == pytest.approx(-16.0)

    # allocated GPUs: baseline 20, 4 hours at 30, 31, 32, 30 -> Σ|x − 20| = 43 GPU-hours
    extra = {WED_10 + i * H: v for i, v in enumerate((30.0, 31.0, 32.0, 30.0))}
    pts = series(alloc=lambda t: extra.get(t, 20.0))
    (e,) = detect(pts, START, END, metric="allocated_gpus").episodes
    assert (e.hours, e.direction, e.gpu_hours_affected) == (4, "above", pytest.approx(43.0))
    # the same hours as an allocation rate of 40 GPUs: capacity × |Δrate| / 100 = 43 again
    (e,) = detect(pts, START, END, metric="allocation_rate").episodes
    assert e.gpu_hours_affected == pytest.approx(43.0)
    assert e.peak_value == pytest.approx(80.0) and e.peak_baseline == pytest.approx(50.0)


def test_a_long_drop_stays_one_episode_when_an_hour_dips_a_little_under_k():
    # −30 pp for 12 h with one hour at −8 pp: |z| 3.2 is under k = 4 but over k/2
    change = hours_from(WED_10, 12, -30.0) | {WED_10 + 6 * H: -8.0}
    (e,) = detect(series(with_change(change)), START, END).episodes
    assert (e.start, e.hours) == (WED_10, 12)
    # without the hysteresis (keep_k = k), or back at the baseline for that hour: two episodes
    assert len(detect(series(with_change(change)), START, END, keep_k=DEFAULT_K).episodes) == 2
    change[WED_10 + 6 * H] = 0.0
    assert len(detect(series(with_change(change)), START, END).episodes) == 2


def test_tuples_give_the_same_episodes_as_hourly_points():
    pts = series(with_change(hours_from(WED_10, 5, 25.0)))
    a = detect(pts, START, END)
    b = detect([(p.time, p.avg_utilization, p.allocated_gpus) for p in reversed(pts)], START, END)
    assert a.as_dict() == b.as_dict() and len(a.episodes) == 1
    # without the allocated GPUs the GPU-hours affected are unknown, the rest is the same
    c = detect([(p.time, p.avg_utilization) for p in pts], START, END)
    assert c.episodes[0].gpu_hours_affected is None
    assert c.episodes[0].peak_z == a.episodes[0].peak_z
    with pytest.raises(ValueError):
        detect(pts + pts[:1], START, END)
    with pytest.raises(ValueError):
        detect(pts, START, END, metric="temperature")


def test_result_is_json_ready_with_iso_times():
    r = detect(series(with_change(hours_from(WED_10, 4, -35.0), base=lambda t: 50.0)), START, END)
    assert isinstance(r, AnomalyResult)
    d = json.loads(json.dumps(r.as_dict()))
    assert d["metric"] == "avg_utilization" and d["unit"] == "pp" and d["k"] == DEFAULT_K
    assert (d["weeks_of_history"], d["detected"], d["note"]) == (4, True, None)
    (e,) = d["episodes"]
    assert (e["start"], e["end"], e["direction"], e["hours"]) == \
        ("2026-03-04T10:00:00Z", "2026-03-04T14:00:00Z", "below", 4)
    assert set(e["peak"]) == {"time", "value", "baseline", "deviation", "z"}
    assert e["gpu_hours_affected"] == pytest.approx(4 * 10 * 35 / 100)
