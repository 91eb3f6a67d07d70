"""Prometheus metrics of gpureport's long-running processes: ``serve`` and ``scheduler run``.

The metric families of api.md, defined once here (prometheus_client) so the service, the
scheduler and their tests name them the same way:

* the service (``/metrics`` of ``gpureport serve``): ``gpureport_requests_total{endpoint,status}``,
  ``gpureport_request_seconds{endpoint}`` (P50/95/99 come from its buckets),
  ``gpureport_questions_total{intent,language,outcome}`` (answered | clarification | error),
  ``gpureport_llm_calls_total{purpose}``, ``gpureport_llm_tokens_total{kind}``,
  ``gpureport_llm_rejections_total{reason}`` (LLM phrasings the grounding guard rejected),
  ``gpureport_tool_calls_total{tool,outcome}``, ``gpureport_tool_seconds{tool}``, and
  ``gpureport_source_seconds{method}`` (time in data-source calls, to see where time goes),
  ``gpureport_connections_handed_back_total`` (keep-alive connections a saturated worker
  closed: a steady rate means the workers are busy, and unevenly so without it);
* the scheduler (``scheduler run --metrics-port``): ``gpureport_report_runs_total{schedule,
  outcome}``, ``gpureport_report_run_seconds{schedule}``, ``gpureport_deliveries_total{channel,
  outcome}``, ``gpureport_alert_notifications_total{rule,state}`` and
  ``gpureport_data_age_seconds{cluster}`` (read from the source when scraped).

Why module-level families on a registry of our own: a process exposes one set, and the
``record_*`` functions below are what other modules call without passing a metrics object
around: ``runner.run_schedule`` (each run with its outcome and seconds, each delivery) and the
alert check (each notification sent, each channel attempt) — wherever they run, so
``scheduler run`` counts what its jobs did, and a one-shot ``gpureport run`` counts into a
registry nobody reads. Process metrics
(``process_resident_memory_bytes``, CPU seconds) are on the same registry.

With ``serve --workers N`` each worker is its own process: ``PROMETHEUS_MULTIPROC_DIR`` is set
before the workers start, prometheus_client then keeps the values in files there, and
``exposition()`` adds them up, so whichever worker answers a scrape reports the whole service.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from typing import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.coverage import freshness
from agent.settings import SourceSettings
from agent.sources import make_source

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
disable_created_metrics()  # no ``*_created`` series: they double the exposition for nothing
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

# seconds: a rule-path answer takes tens of milliseconds, an LLM answer seconds
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
            30.0, 60.0)

# -- the service -------------------------------------------------------------------------------
REQUESTS = Counter("gpureport_requests", "HTTP requests answered, by route and status code.",
                   ["endpoint", "status"], registry=REGISTRY)
REQUEST_SECONDS = Histogram("gpureport_request_seconds",
                            "Time from request to the end of the response, by route.",
                            ["endpoint"], buckets=_LATENCY, registry=REGISTRY)
QUESTIONS = Counter("gpureport_questions", "Questions put to the agent over HTTP.",
                    ["intent", "language", "outcome"], registry=REGISTRY)
LLM_CALLS = Counter("gpureport_llm_calls", "Language-model calls made for questions.",
                    ["purpose"], registry=REGISTRY)
LLM_REJECTIONS = Counter("gpureport_llm_rejections",
                         "LLM phrasings rejected by the grounding guard (the template answer was "
                         "used), by reason: number | date | direction | entity.", ["reason"],
                         registry=REGISTRY)
LLM_TOKENS = Counter("gpureport_llm_tokens", "Language-model tokens used, by kind.",
                     ["kind"], registry=REGISTRY)
TOOL_CALLS = Counter("gpureport_tool_calls", "Agent tool calls, by tool and outcome.",
                     ["tool", "outcome"], registry=REGISTRY)
TOOL_SECONDS = Histogram("gpureport_tool_seconds", "Time of one agent tool call.", ["tool"],
                         buckets=_LATENCY, registry=REGISTRY)
CONNECTIONS_HANDED_BACK = Counter(
    "gpureport_connections_handed_back",
    "Keep-alive connections a saturated worker closed after its answer so that the client's "
    "next request goes to a less busy worker (serve --workers > 1).", registry=REGISTRY)
SOURCE_SECONDS = Histogram("gpureport_source_seconds",
                           "Time of one data-source call made while answering, by method.",
                           ["method"], buckets=_LATENCY, registry=REGISTRY)

# -- the scheduler -----------------------------------------------------------------------------
REPORT_RUNS = Counter("gpureport_report_runs", "Scheduled report runs, by schedule and outcome.",
                      ["schedule", "outcome"], registry=REGISTRY)
REPORT_RUN_SECONDS = Histogram("gpureport_report_run_seconds", "Time of one report run.",
                               ["schedule"], buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800),
                               registry=REGISTRY)
DELIVERIES = Counter("gpureport_deliveries",
                     "Deliveries of reports and alert notifications, by channel and outcome.",
                     ["channel", "outcome"], registry=REGISTRY)
ALERT_NOTIFICATIONS = Counter("gpureport_alert_notifications",
                              "Alert notifications sent, by rule and state.", ["rule", "state"],
                              registry=REGISTRY)


def observe_request(endpoint: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint, str(status)).inc()
    REQUEST_SECONDS.labels(endpoint).observe(seconds)


def observe_handed_back() -> None:
    CONNECTIONS_HANDED_BACK.inc()


def observe_question(answer: dict | None, outcome: str, *, language: str = "en") -> None:
    """One question: ``answer`` is the ``ask --json`` object (None when the run failed);
    ``outcome`` is answered | clarification | error; a rejected LLM phrasing from
    ``llm_rejected``. Its tool calls and LLM calls are counted as they happen
    (``observe_tool``, ``observe_llm_call``)."""
    answer = answer or {}
    QUESTIONS.labels(answer.get("intent") or "unknown", answer.get("language") or language,
                     outcome).inc()
    if answer.get("llm_rejected"):
        LLM_REJECTIONS.labels(str(answer["llm_rejected"])).inc()


def observe_tool(tool: str, outcome: str, seconds: float | None = None) -> None:
    """One tool call (ok | error | cancelled) with its own timing (from the agent's stream)."""
    TOOL_CALLS.labels(tool, outcome).inc()
    if seconds is not None:
        TOOL_SECONDS.labels(tool).observe(seconds)


def observe_llm_call(purpose: str) -> None:
    """One language-model call (extract | phrase | other), counted when it starts."""
    LLM_CALLS.labels(purpose).inc()


def observe_llm_tokens(kind: str, count: int) -> None:
    """Tokens a model reported using (prompt | completion)."""
    if count > 0:
        LLM_TOKENS.labels(kind).inc(count)


def observe_source_call(method: str, seconds: float) -> None:
    SOURCE_SECONDS.labels(method).observe(seconds)


def record_report_run(schedule: str, outcome: str, seconds: float | None = None) -> None:
    """One report run ended (succeeded | failed | skipped | uncertain | blocked)."""
    REPORT_RUNS.labels(schedule, outcome).inc()
    if seconds is not None:
        REPORT_RUN_SECONDS.labels(schedule).observe(seconds)


def record_delivery(channel: str, outcome: str) -> None:
    """One delivery attempt: a report's (email | file | slack | slack_webhook | teams) or an
    alert channel's (email | webhook | alertmanager); sent | failed | uncertain (the SMTP server may or may not have it)."""
    DELIVERIES.labels(channel, outcome).inc()


def record_alert_notification(rule: str, state: str) -> None:
    """One alert notification (firing | repeat | resolved)."""
    ALERT_NOTIFICATIONS.labels(rule, state).inc()


class DataAge(Collector):
    """``gpureport_data_age_seconds{cluster}``: how old each cluster's newest hourly row is,
    read when Prometheus scrapes (``freshness(now)`` -> the ``agent.figures.freshness`` rows).
    A source that cannot answer yields no samples (and logs), never a failed scrape."""

    def __init__(self, freshness: Callable[[datetime | None], dict],
                 now: Callable[[], datetime | None] = lambda: None) -> None:
        self._freshness = freshness
        self._now = now

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [GaugeMetricFamily("gpureport_data_age_seconds",
                                  "Age of the newest hourly statistics, by cluster.",
                                  labels=["cluster"])]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("gpureport_data_age_seconds",
                                   "Age of the newest hourly statistics, by cluster.",
                                   labels=["cluster"])
        try:
            rows = self._freshness(self._now()).get("clusters") or []
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail on the source
            log.warning("data age: source unavailable: %s", exc)
            rows = []
        for row in rows:
            if row.get("age_hours") is not None:
                family.add_metric([row["cluster"]], row["age_hours"] * 3600.0)
        yield family


def exposition() -> tuple[bytes, str]:
    """The text format of every metric of this process (or of all workers, see above)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve_scheduler_metrics(port: int, source_settings: SourceSettings,
                            now: Callable[[], datetime] | None = None) -> Callable[[], None]:
    """``scheduler run --metrics-port``: ``/metrics`` of this process on ``port``, with
    ``gpureport_data_age_seconds`` read from the configured source at each scrape (age at
    ``now()``, default the clock). Returns a function that stops the endpoint and closes the
    source."""
    source = make_source(source_settings)
    clock = now or (lambda: datetime.now(timezone.utc))
    collector = DataAge(lambda at: freshness(source, None, at or clock()))
    REGISTRY.register(collector)
    stop_http = start_http_server(port)

    def stop() -> None:
        stop_http()
        REGISTRY.unregister(collector)
        source.close()

    return stop


def start_http_server(port: int, host: str = "0.0.0.0") -> Callable[[], None]:
    """Serve ``/metrics`` of this process on ``host:port`` in a daemon thread (the
    scheduler's ``--metrics-port``); returns a function that stops it."""
    from prometheus_client import start_http_server as _start

    server, thread = _start(port, addr=host, registry=REGISTRY)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


__all__ = ["REGISTRY", "DataAge", "exposition", "observe_request", "observe_question",
           "observe_tool", "observe_llm_call", "observe_llm_tokens", "observe_source_call",
           "record_report_run", "record_delivery", "record_alert_notification",
           "serve_scheduler_metrics", "start_http_server"]
