"""``gpureport serve`` and ``scheduler run --metrics-port`` as real processes: a graceful SIGTERM,
``--workers``, and a real Prometheus (Debian's) scraping both.

These cross the process boundary on purpose (signals, worker processes, a scraper), and cost
seconds each: marked ``slow`` (``.ci/run`` runs them).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
import yaml

from tests.cli import ROOT
from tests.conftest import NOW_ISO
from tests.fakes import free_port
from tests.fakes.lens_api import serve_lens
from tests.fakes.prometheus import PrometheusServer
from tests.fakes.slack_webhook import webhook_server
from tests.serve_server import live_server, serve_config, start_serve_process, sse_events

pytestmark = pytest.mark.slow
CHAT = "/api/gpu-analysis/chat"


def _config_file(tmp_path, **sections) -> str:
    data = {"state": {"database_url": f"sqlite:///{tmp_path / 'state.db'}"},
            "report_dir": str(tmp_path / "reports"), **sections}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_sigterm_lets_in_flight_requests_finish_then_exits(demo_db, tmp_path):
    """A question in flight when SIGTERM arrives is answered in full; new connections are
    refused from then on; the process ends cleanly within the 10 s grace."""
    with serve_lens(demo_db) as lens:
        cfg = _config_file(tmp_path, source={"kind": "lens", "lens_url": lens.url, "retries": 0})
        port = free_port()
        proc = start_serve_process(cfg, port)
        try:
            url = f"http://127.0.0.1:{port}"
            lens.delay(0.05)  # a question now takes a few seconds
            results: dict = {}

            def ask() -> None:
                r = httpx.post(url + CHAT, json={
                    "query": "What is the GPU utilization trend over the last 7 days?",
                    "cluster_name": "gpu-east"}, timeout=60)
                results["status"], results["body"] = r.status_code, r.json()

            def stream() -> None:
                with httpx.stream("POST", url + "/api/gpu-analysis/chat/stream", timeout=60,
                                  json={"query": "现在集群有多少GPU在使用？"}) as s:
                    results["events"] = [e["type"] for e in sse_events(s)]

            threads = [threading.Thread(target=ask), threading.Thread(target=stream)]
            for t in threads:
                t.start()
            time.sleep(1.0)  # both are in the agent now
            assert "status" not in results
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            with pytest.raises(httpx.ConnectError):
                httpx.get(url + "/healthz", timeout=2)
            for t in threads:
                t.join(30)
            code = proc.wait(20)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
        stderr = proc.stderr.read()
        assert results["status"] == 200, (results, stderr[-2000:])
        assert results["body"]["intent"] == "trend" and results["body"]["figures"]["series"]
        assert "gpu-east" in results["body"]["answer"]
        assert results["events"][0] == "session" and results["events"][-2:] == ["final", "done"]
        # uvicorn re-raises the SIGTERM it caught once it has shut down cleanly
        assert code in (0, -signal.SIGTERM), stderr[-2000:]
        assert "Application shutdown complete" in stderr
        assert took < 12
        assert "Traceback" not in stderr


def test_workers_share_one_metrics_view(demo_db, tmp_path):
    cfg = _config_file(tmp_path, source={"kind": "sql", "database_url": demo_db})
    port = free_port()
    proc = start_serve_process(cfg, port, "--workers", "2")
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(6):
            r = httpx.post(url + CHAT, json={"query": "How many GPUs are in use right now?"},
                           timeout=60)
            assert r.status_code == 200
        text = httpx.get(url + "/metrics", timeout=10).text
        line = next(ln for ln in text.splitlines() if ln.startswith(
            'gpureport_requests_total{endpoint="/api/gpu-analysis/chat",status="200"}'))
        assert float(line.rsplit(" ", 1)[1]) == 6.0, text[:2000]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def _query(prom: PrometheusServer, expr: str) -> list:
    r = httpx.get(prom.url + "/api/v1/query", params={"query": expr}, timeout=10)
    r.raise_for_status()
    return r.json()["data"]["result"]


STALE_RULES = """
defaults: {{channels: [chat], repeat_interval: 1h}}
channels:
  chat: {{type: webhook, url: "{url}", retries: 0, backoff: 0}}
rules:
  - {{name: stale-data, kind: stale-data, max_age: 2h}}
check: {{cron: "*/2 * * * * *"}}
"""


def test_a_real_prometheus_scrapes_the_service_and_the_scheduler(demo_db, tmp_path):
    """The service's request histogram and the scheduler's families, scraped by Debian's
    Prometheus: the scheduler's alert check runs every 2 s on the wall clock, where the demo's
    data (ending 2026-11-19) is stale, and notifies a webhook."""
    hook_cm = webhook_server("T000/B000/prom-t0ken")
    hook = hook_cm.__enter__()
    (tmp_path / "schedules").mkdir()
    rules = tmp_path / "alerts.yaml"
    rules.write_text(STALE_RULES.format(url=hook.url()))
    cfg_path = _config_file(tmp_path, source={"kind": "sql", "database_url": demo_db},
                            schedules_dir=str(tmp_path / "schedules"), alerts_file=str(rules))
    sched_port = free_port()
    env = {"PYTHONPATH": str(ROOT), "GPUREPORT_NOW": NOW_ISO, "PATH": "/usr/bin:/bin"}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "reporter.cli", "--config", str(cfg_path), "scheduler", "run",
         "--metrics-port", str(sched_port), "--poll-interval", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with live_server(serve_config(tmp_path / "svc", demo_db)) as url:
            serve_target = url.removeprefix("http://")
            stop = threading.Event()

            def traffic() -> None:
                while not stop.is_set():
                    httpx.post(url + CHAT, json={"query": "How many GPUs are in use right now?"},
                               timeout=60)
                    time.sleep(0.05)

            load = threading.Thread(target=traffic)
            load.start()
            try:
                with PrometheusServer(tmp_path / "tsdb", scrape_interval="1s", scrape_targets={
                        "gpureport-serve": serve_target,
                        "gpureport-scheduler": f"127.0.0.1:{sched_port}"}) as prom:
                    deadline = time.monotonic() + 40
                    p95 = ages = notified = []
                    while time.monotonic() < deadline:
                        time.sleep(1)
                        p95 = _query(prom, "histogram_quantile(0.95, sum by (le) "
                                           "(rate(gpureport_request_seconds_bucket[1m])))")
                        ages = _query(prom, "gpureport_data_age_seconds")
                        notified = _query(prom, "gpureport_alert_notifications_total")
                        if p95 and p95[0]["value"][1] != "NaN" and len(ages) == 3 \
                                and notified:
                            break
                    sent = _query(prom, 'gpureport_deliveries_total{channel="webhook"}')
                    up = {r["metric"]["job"]: r["value"][1] for r in _query(prom, "up")}
            finally:
                stop.set()
                load.join(30)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(30)
        hook_cm.__exit__(None, None, None)
    assert up == {"gpureport-serve": "1", "gpureport-scheduler": "1"}, scheduler.stderr.read()
    # one stale-data notification per cluster, sent once (repeat interval 1 h), by the scheduler
    assert {(r["metric"]["job"], r["metric"]["rule"], r["metric"]["state"], r["value"][1])
            for r in notified} == {("gpureport-scheduler", "stale-data", "firing", "3")}
    assert {(r["metric"]["job"], r["metric"]["outcome"], r["value"][1]) for r in sent} == {
        ("gpureport-scheduler", "sent", "3")}
    (_, payload), = hook.requests  # the webhook gets one message per check
    assert all(f"stale-data: {c}" in json.dumps(payload)
               for c in ("gpu-east", "gpu-lab", "gpu-west"))
    value = float(p95[0]["value"][1])
    assert 0 < value < 5, p95
    # the demo's newest hour starts 11:00 and NOW is 12:00: complete, 0 s old
    assert {r["metric"]["cluster"]: float(r["value"][1]) for r in ages} == {
        "gpu-east": 0.0, "gpu-lab": 0.0, "gpu-west": 0.0}
