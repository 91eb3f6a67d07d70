"""GPU prices and what GPU-hours cost: the one place a price is looked up.

Why one module: money must come out the same in ``ask``, ``--json``, the digest and the API, and
a price that is not configured must never turn into a number (answers.md §5). ``Prices`` is the
``prices:`` section of the configuration (``reporter.config`` composes it; env
``GPUREPORT_GPU_PRICE`` sets the default); ``AgentDeps.prices`` carries it to the tools.

Which price applies to a cluster's GPU-hours (``price_for``): the price of its GPU model when
the source tells the model (``Source.gpu_models``) and a configured model key matches it
(``"MI300X"`` matches ``AMD_Instinct_MI300X_OAM``, case and separators ignored, the longest key
wins), else the cluster's price, else the default; else the cluster is unpriced and its GPU-hours
are reported as such, never costed at 0.

Cost = GPU-hours × price, from GPU-hours the source summed per cluster (one grouped query per
cluster, and one for all clusters when they share a price) — never row by row.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Callable

from pydantic import BaseModel, ConfigDict, Field

from agent import figures
from agent.coverage import coverage, no_data
from agent.periods import Period
from agent.sources.base import PeriodStats, Scope, Source

PRICE_KEY = "prices.default_per_gpu_hour"  # the key an unpriced answer names (answers.md §5)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _norm(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


class Prices(BaseModel):
    """GPU prices per GPU-hour: a default, per cluster, per GPU model (model beats cluster
    beats default)."""

    model_config = ConfigDict(extra="forbid")

    default_per_gpu_hour: float | None = Field(None, ge=0)
    currency: str = Field("USD", min_length=1, max_length=8)
    clusters: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    models: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return self.default_per_gpu_hour is not None or bool(self.clusters or self.models)

    def model_price(self, model: str | None) -> float | None:
        """The price of the longest configured model key found in ``model``."""
        if not model or not self.models:
            return None
        found = _norm(model)
        keys = [k for k in self.models if _norm(k) and _norm(k) in found]
        if not keys:
            return None
        return float(self.models[max(keys, key=lambda k: (len(_norm(k)), k))])

    def price_for(self, cluster: str | None, model: str | None = None) -> float | None:
        """Price per GPU-hour of ``cluster``'s GPUs (of ``model`` when known); None: unpriced."""
        by_model = self.model_price(model)
        if by_model is not None:
            return by_model
        if cluster is not None and cluster in self.clusters:
            return float(self.clusters[cluster])
        return self.default_per_gpu_hour

    def rates(self, source: Source, clusters: list[str]) -> dict[str, float | None]:
        """Price per GPU-hour of each of ``clusters`` (their GPU models asked once)."""
        models = source.gpu_models() if self.models else {}
        return {c: self.price_for(c, models.get(c)) for c in clusters}


def money(gpu_hours: float, rate: float | None) -> float | None:
    return None if rate is None else gpu_hours * rate


def cost_block(stats_by_cluster: dict[str, PeriodStats], rates: dict[str, float | None],
               models: dict[str, str], currency: str) -> dict:
    """Cost figures from per-cluster sums: totals over the priced clusters, the GPU-hours of
    unpriced ones apart, one row per cluster."""
    rows = []
    for cluster, st in sorted(stats_by_cluster.items()):
        rate = rates.get(cluster)
        rows.append({"cluster": cluster, "model": models.get(cluster),
                     "price_per_gpu_hour": rate, "gpu_hours": st.gpu_hours,
                     "idle_gpu_hours": st.idle_gpu_hours,
                     "cost": money(st.gpu_hours, rate), "idle_cost": money(st.idle_gpu_hours, rate)})
    priced = [r for r in rows if r["price_per_gpu_hour"] is not None]
    return {
        "currency": currency,
        "cost": sum(r["cost"] for r in priced) if priced else None,
        "idle_cost": sum(r["idle_cost"] for r in priced) if priced else None,
        "unpriced_gpu_hours": sum(r["gpu_hours"] for r in rows if r["price_per_gpu_hour"] is None),
        "by_cluster": rows,
    }


def scope_costs(source: Source, scope: Scope, start: datetime, end: datetime,
                prices: Prices) -> dict | None:
    """``cost``, ``idle_cost``, ``currency`` (+ per cluster) of ``scope`` over ``[start, end)``;
    None without any price configured.

    One ``period_stats`` per cluster of the scope (a cluster named by the scope: one), so each
    cluster's GPU-hours meet that cluster's price."""
    if not prices.configured:
        return None
    clusters = [scope.cluster] if scope.cluster else source.clusters()
    models = source.gpu_models() if prices.models else {}
    rates = {c: prices.price_for(c, models.get(c)) for c in clusters}
    stats = {c: source.period_stats(scope.with_(cluster=c), start, end) for c in clusters}
    return cost_block(stats, rates, models, prices.currency)


def add_costs(block: dict, source: Source, scope: Scope, start: datetime, end: datetime,
              prices: Prices | None) -> dict:
    """``block`` (a figure with ``gpu_hours``) with ``cost``, ``idle_cost`` and ``currency``
    of the same scope and period added when a price is configured; unchanged otherwise."""
    found = scope_costs(source, scope, start, end, prices) if prices is not None else None
    if found is not None:
        block.update(cost=found["cost"], idle_cost=found["idle_cost"],
                     currency=found["currency"])
    return block


def cost_figures(source: Source, scope: Scope, period: Period, prices: Prices | None,
                 focus: str = "total", top: int = 5) -> dict:
    """The figures of "how much did ml-team cost last week" / "what did idle GPUs cost us":
    the scope's GPU-hours, idle GPU-hours and utilization, their cost per cluster and in total
    when priced (``priced`` False and ``price_key`` otherwise: answers.md §5), and the scope's
    children (namespaces of a cluster, workloads of a namespace) that cost the most — by idle
    GPU-hours when the question is about idle GPUs."""
    start, end = period.start, period.end
    priced = prices is not None and prices.configured
    clusters = [scope.cluster] if scope.cluster else source.clusters()
    if priced:
        models = source.gpu_models()
        rates = {c: prices.price_for(c, models.get(c)) for c in clusters}
        per = {c: source.period_stats(scope.with_(cluster=c), start, end) for c in clusters}
        total = PeriodStats(name=scope.name)
        for st in per.values():
            total = total.add(st)
        money_block = cost_block(per, rates, models, prices.currency)
    else:
        total = source.period_stats(scope, start, end)
        money_block = {"cost": None, "idle_cost": None, "price_key": PRICE_KEY}
    out = {"focus": focus, "priced": priced, "gpu_hours": total.gpu_hours,
           "idle_gpu_hours": total.idle_gpu_hours, "avg_utilization": total.avg_utilization,
           "workloads": total.workloads, **money_block}
    child = {"cluster": "namespace", "namespace": "workload"}.get(scope.kind)
    if child and top:
        by = "idle" if focus == "idle" else "gpu_hours"
        items: list[dict] = []
        # per cluster, so that each row meets its cluster's price (a namespace name can live
        # in several clusters at different prices)
        for c in clusters:
            one = scope.with_(cluster=c)
            ranked = figures.ranking(source, one, child, period, by, top)["items"]
            price = item_pricer(source, one, prices)
            for item in ranked:
                item["cluster"] = c
                if price is not None:
                    price(item)
            items += ranked
        items.sort(key=lambda i: (-(i["idle_gpu_hours"] if by == "idle" else i["gpu_hours"]),
                                  i["name"], i["cluster"]))
        out["top"] = {"entity": child, "by": by, "items": items[:top]}
    # answers.md §2: no rows in the period is no data (null, "data starts …"), not 0 GPU-hours
    out["coverage"] = coverage(source, scope.cluster, period)
    if not total.rows and not out["coverage"]["hours"]:
        out = {**no_data(out), "cost": None, "idle_cost": None}
    return out


def item_pricer(source: Source, scope: Scope, prices: Prices | None
                ) -> Callable[[dict], None] | None:
    """A function adding ``cost``/``idle_cost`` to a figure row (a ranking item, a
    recommendation) from its ``gpu_hours``/``idle_gpu_hours``, at the price of the row's
    ``cluster`` (else the scope's; across clusters of different prices a row without a cluster
    stays unpriced). None without prices."""
    if prices is None or not prices.configured:
        return None
    clusters = [scope.cluster] if scope.cluster else source.clusters()
    rates = prices.rates(source, clusters)
    shared = set(rates.values())
    fallback = rates.get(scope.cluster) if scope.cluster else (
        next(iter(shared)) if len(shared) == 1 else None)

    def price(row: dict) -> None:
        rate = rates.get(row["cluster"]) if row.get("cluster") in rates else fallback
        if rate is None:
            return
        for key, out in (("gpu_hours", "cost"), ("idle_gpu_hours", "idle_cost"),
                         ("saving_gpu_hours", "saving_cost")):
            if key in row and row[key] is not None:
                row[out] = row[key] * rate

    return price


__all__ = ["Prices", "PRICE_KEY", "money", "cost_block", "scope_costs", "add_costs",
           "cost_figures", "item_pricer"]
