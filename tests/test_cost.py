"""Money: GPU prices from the configuration, cost figures in `ask` (text and --json, English
and Chinese) and in the digest — each equal to GPU-hours summed here by SQL × the price that
applies (model beats cluster beats default) — and no currency anywhere without a price.

The demo store tells the GPU model of gpu-east (AMD_Instinct_MI300X_OAM) and gpu-west
(NVIDIA H100 80GB HBM3); gpu-lab's is not known, so its cluster price or the default applies.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest

from agent.periods import last_week
from agent.prices import Prices
from tests.cli import run
from tests.conftest import NOW, sqlite_path

PRICES = {"default_per_gpu_hour": 2.0, "currency": "USD",
          "clusters": {"gpu-lab": 1.0, "gpu-east": 9.0},  # gpu-east: its model's price wins
          "models": {"MI300X": 3.5, "H100": 4.0}}
RATE = {"gpu-east": 3.5, "gpu-west": 4.0, "gpu-lab": 1.0}
WEEK = last_week(NOW)  # [Nov 9, Nov 16)


@pytest.fixture(autouse=True)
def asking_the_demo_store(home, demo_db, monkeypatch):
    monkeypatch.setenv("GPUREPORT_DATABASE_URL", demo_db)


@pytest.fixture
def priced(config_file):
    return str(config_file({"prices": PRICES}))


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def gpu_hours(demo_db: str, table: str, where: str = "", args: tuple = ()) -> dict[str, tuple]:
    """Per cluster: (GPU-hours, idle GPU-hours) of ``table`` last week, summed by SQLite."""
    sql = (f"SELECT cluster_name, SUM(allocated_gpu_count), "
           f"SUM(allocated_gpu_count * (1 - avg_utilization / 100.0)) FROM {table} "
           f"WHERE stat_hour >= ? AND stat_hour < ? {where} GROUP BY cluster_name")
    with sqlite3.connect(sqlite_path(demo_db)) as con:
        rows = con.execute(sql, (_ts(WEEK.start), _ts(WEEK.end), *args)).fetchall()
    return {c: (g, i) for c, g, i in rows}


def ask(question: str, *extra: str) -> dict:
    r = run(*extra, "ask", question, "--json")
    assert r.exit_code == 0, r
    return r.json()


# -- which price applies ---------------------------------------------------------------------

def test_a_model_price_beats_the_cluster_price_which_beats_the_default():
    prices = Prices(**PRICES)
    assert prices.price_for("gpu-east", "AMD_Instinct_MI300X_OAM") == 3.5  # not gpu-east's 9.0
    assert prices.price_for("gpu-east", None) == 9.0
    assert prices.price_for("gpu-lab", "some unknown GPU") == 1.0
    assert prices.price_for("elsewhere", None) == 2.0
    assert Prices().price_for("gpu-east", "H100") is None and not Prices().configured


def test_the_demo_store_tells_each_clusters_gpu_model(demo_db):
    from agent.sources.sql import SqlSource

    src = SqlSource(demo_db)
    try:
        assert src.gpu_models() == {"gpu-east": "AMD_Instinct_MI300X_OAM",
                                    "gpu-west": "NVIDIA H100 80GB HBM3"}
    finally:
        src.close()


def test_the_gpu_price_variable_sets_the_default_price(monkeypatch):
    from reporter.config import load_config

    cfg = load_config(None, env={"GPUREPORT_GPU_PRICE": "2.75", "GPUREPORT_GPU_CURRENCY": "EUR"})
    assert cfg.prices.default_per_gpu_hour == 2.75 and cfg.prices.currency == "EUR"


# -- ask: figures, text, both languages ------------------------------------------------------

def test_what_a_namespace_cost_last_week_is_its_gpu_hours_times_its_models_price(demo_db, priced):
    (hours, idle), = gpu_hours(demo_db, "namespace_gpu_hourly_stats",
                               "AND cluster_name = 'gpu-east' AND namespace = 'ml-team'").values()
    out = ask("How much did ml-team cost last week?", "--config", priced)
    f = out["figures"]
    assert out["intent"] == "cost" and f["currency"] == "USD"
    assert f["gpu_hours"] == pytest.approx(hours)
    assert f["cost"] == pytest.approx(hours * 3.5) and f["idle_cost"] == pytest.approx(idle * 3.5)
    assert f["by_cluster"] == [pytest.approx({
        "cluster": "gpu-east", "model": "AMD_Instinct_MI300X_OAM", "price_per_gpu_hour": 3.5,
        "gpu_hours": hours, "idle_gpu_hours": idle, "cost": hours * 3.5,
        "idle_cost": idle * 3.5})]
    assert out["answer"].startswith(f"ml-team (gpu-east) cost USD {hours * 3.5:,.0f} last "
                                    f"week: {hours:,.0f} GPU-hours")
    assert f"USD {idle * 3.5:,.0f}" in out["answer"]


def test_what_idle_gpus_cost_is_every_clusters_idle_gpu_hours_at_its_own_price(demo_db, priced):
    per = gpu_hours(demo_db, "cluster_gpu_hourly_stats")
    idle_cost = sum(i * RATE[c] for c, (_, i) in per.items())
    cost = sum(g * RATE[c] for c, (g, _) in per.items())
    out = ask("What did idle GPUs cost us last week?", "--config", priced)
    f = out["figures"]
    assert (out["intent"], f["focus"]) == ("cost", "idle")
    assert f["idle_cost"] == pytest.approx(idle_cost) and f["cost"] == pytest.approx(cost)
    assert {r["cluster"]: r["price_per_gpu_hour"] for r in f["by_cluster"]} == RATE
    assert out["answer"].startswith(f"Idle GPUs of all clusters cost USD {idle_cost:,.0f}")
    # the costliest namespaces by idle GPU-hours, each at its own cluster's price
    for item in f["top"]["items"]:
        assert item["idle_cost"] == pytest.approx(item["idle_gpu_hours"] * RATE[item["cluster"]])


def test_the_chinese_question_gets_the_same_figures_in_chinese(demo_db, priced):
    (hours, idle), = gpu_hours(demo_db, "namespace_gpu_hourly_stats",
                               "AND cluster_name = 'gpu-east' AND namespace = 'ml-team'").values()
    out = ask("ml-team 上周花了多少钱", "--config", priced)
    assert out["intent"] == "cost" and out["language"] == "zh"
    assert out["answer"].startswith(f"命名空间 ml-team（gpu-east）在上周花费 USD {hours * 3.5:,.0f}")
    r = run("--config", priced, "ask", "上周空闲GPU花了多少钱")
    assert r.exit_code == 0, r
    per = gpu_hours(demo_db, "cluster_gpu_hourly_stats")
    assert f"空闲GPU花费 USD {sum(i * RATE[c] for c, (_, i) in per.items()):,.0f}" in r.stdout


def test_trend_and_ranking_answers_carry_cost_when_priced(demo_db, priced):
    (hours, idle), = gpu_hours(demo_db, "namespace_gpu_hourly_stats",
                               "AND cluster_name = 'gpu-east' AND namespace = 'ml-team'").values()
    out = ask("What was the GPU utilization trend of ml-team last week?", "--config", priced)
    assert out["figures"]["cost"] == pytest.approx(hours * 3.5)
    assert f"Cost: USD {hours * 3.5:,.0f} (USD {idle * 3.5:,.0f} of it idle)." in out["insights"]
    rank = ask("Which workloads of gpu-west wasted the most GPU hours last week?", "--config",
               priced)
    assert rank["figures"]["currency"] == "USD"
    for item in rank["figures"]["items"]:
        assert item["idle_cost"] == pytest.approx(item["idle_gpu_hours"] * 4.0)


def test_without_a_price_no_answer_shows_a_currency(demo_db):
    (hours, idle), = gpu_hours(demo_db, "namespace_gpu_hourly_stats",
                               "AND cluster_name = 'gpu-east' AND namespace = 'ml-team'").values()
    r = run("ask", "How much did ml-team cost last week?", "--json")
    assert r.exit_code == 0, r
    out = r.json()
    assert out["figures"]["cost"] is None and not out["figures"]["priced"]
    assert out["answer"].startswith(f"ml-team (gpu-east) used {hours:,.0f} GPU-hours")
    assert any(n.startswith("No GPU price is configured (set prices.default_per_gpu_hour")
               for n in out["notes"])
    for question in ("How much did ml-team cost last week?", "ml-team 上周花了多少钱",
                     "What was the GPU utilization trend of ml-team last week?",
                     "Which workloads of gpu-west wasted the most GPU hours last week?",
                     "How can we save GPUs?"):
        for extra in ((), ("--json",)):
            r = run("ask", question, *extra)
            assert r.exit_code == 0, r
            assert "USD" not in r.stdout and "currency" not in r.stdout, (question, r.stdout)


# -- the digest ------------------------------------------------------------------------------

def test_the_digest_shows_cost_tiles_and_idle_costs_only_when_priced(demo_db):
    from agent.sources.sql import SqlSource
    from reporter.render.email import render_email
    from reporter.render.html import render_html
    from reporter.reports.build import build_report

    (hours, idle), = gpu_hours(demo_db, "cluster_gpu_hourly_stats",
                               "AND cluster_name = 'gpu-west'").values()
    src = SqlSource(demo_db)
    try:
        ctx = build_report("weekly", src, NOW, cluster="gpu-west", period="last-week",
                           prices=Prices(**PRICES))
        plain = build_report("weekly", src, NOW, cluster="gpu-west", period="last-week")
    finally:
        src.close()
    (sec,) = ctx.sections
    tiles = {k.key: k for k in sec.kpis}
    assert tiles["cost"].value == pytest.approx(hours * 4.0) and tiles["cost"].currency == "USD"
    assert tiles["idle_cost"].value == pytest.approx(idle * 4.0)
    assert all(w["idle_cost"] == pytest.approx(w["idle_gpu_hours"] * 4.0) for w in sec.idle)
    html = render_html(ctx)
    assert f"USD {hours * 4.0:,.0f}" in html and f"USD {idle * 4.0:,.0f}" in html
    assert "Idle cost" in html
    _, text = render_email(ctx)  # the digest email's KPI lines
    assert f"- Cost: USD {hours * 4.0:,.0f} (" in text
    assert f"- Cost of idle GPU-hours: USD {idle * 4.0:,.0f} (" in text
    assert {k.key for k in plain.sections[0].kpis} == {"avg_utilization", "allocation_rate",
                                                       "gpu_hours", "idle_gpu_hours"}
    assert "USD" not in render_html(plain) and "USD" not in "".join(render_email(plain))


def test_a_bad_price_is_one_line_naming_the_key(config_file):
    r = run("--config", str(config_file({"prices": {"models": {"H100": -1}}})),
            "ask", "How much did ml-team cost last week?")
    assert r.exit_code != 0 and "prices.models.H100" in r.error_line(), r
    r = run("ask", "How much did ml-team cost last week?", env={"GPUREPORT_GPU_PRICE": "cheap"})
    assert r.exit_code != 0 and "prices.default_per_gpu_hour" in r.error_line(), r


@pytest.mark.parametrize("with_prices", [False, True])
def test_the_cost_of_a_month_before_the_data_starts_is_no_data_not_zero(with_prices, priced):
    """answers.md §2 for money too: the demo store has no rows in September, so its cost is
    null with "data starts …", never "no GPU usage" or 0 GPU-hours / USD 0.00."""
    out = ask("how much did ml-team cost in September?",
              *(("--config", priced) if with_prices else ()))
    f = out["figures"]
    assert f["no_data"] is True
    assert f["gpu_hours"] is None and f["idle_gpu_hours"] is None and f["cost"] is None
    assert out["answer"].startswith("No data for ml-team (gpu-east) in September")
    assert "data starts" in out["answer"]
    assert "USD 0" not in " ".join([out["answer"], *out["insights"]])
    assert "0.0 GPU-hours" not in " ".join(out["insights"])
