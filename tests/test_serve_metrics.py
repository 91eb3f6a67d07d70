"""The scheduler's metric families of api.md, counted where the work is done: report runs with
their outcome and seconds and each delivery (``runner.run_schedule``), alert notifications per
rule and state and each channel attempt (the alert check). ``scheduler run --metrics-port``
exposes these (the scrape by a real Prometheus is in test_serve_process.py, slow).

Values are read from the process's registry before and after, as deltas: each test starts with
empty families (tests/conftest.py), and a delta says what one step counted.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from agent.errors import RunError
from reporter.alerts import run_check
from reporter.config import Config
from reporter.metrics import REGISTRY
from reporter.runner import run_schedule
from tests.conftest import NOW
from tests.fakes.slack_webhook import webhook_server
from tests.smtp_server import DroppingServer, fake_render, smtp_server

SCHEDULE = """
name: metrics-digest
cron: "0 8 * * 1"
timezone: UTC
reports: [weekly]
recipients: [ops@example.org]
"""


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Sample values at creation; ``of(name, **labels)`` the change since."""

    def __init__(self, *keys: tuple[str, dict]) -> None:
        self._before = {(n, tuple(sorted(ls.items()))): value(n, **ls) for n, ls in keys}

    def of(self, name: str, labels: dict | None = None, **more: str) -> float:
        labels = {**(labels or {}), **more}
        return value(name, **labels) - self._before.get((name, tuple(sorted(labels.items()))), 0.0)


def runs(outcome: str) -> tuple[str, dict]:
    return "gpureport_report_runs_total", {"schedule": "metrics-digest", "outcome": outcome}


def deliveries(channel: str, outcome: str) -> tuple[str, dict]:
    return "gpureport_deliveries_total", {"channel": channel, "outcome": outcome}


SECONDS = ("gpureport_report_run_seconds_count", {"schedule": "metrics-digest"})


@pytest.fixture
def config(home, tmp_path):
    sdir = tmp_path / "schedules"
    sdir.mkdir()
    (sdir / "metrics.yaml").write_text(SCHEDULE)

    def make(port: int | None) -> Config:
        return Config.model_validate({
            "state": {"database_url": f"sqlite:///{tmp_path / 'state.db'}"},
            "schedules_dir": str(sdir), "report_dir": str(tmp_path / "reports"),
            "smtp": {"host": "127.0.0.1" if port else None, "port": port or 587,
                     "starttls": False, "from": "gpureport@example.net", "retries": 0,
                     "timeout": 5}})
    return make


def test_report_runs_and_deliveries_are_counted_with_their_outcome(config):
    keys = [runs(o) for o in ("succeeded", "skipped", "failed")] + [
        deliveries("email", "sent"), deliveries("email", "failed"), deliveries("file", "sent"),
        SECONDS]
    delta = Delta(*keys)
    with smtp_server() as server:
        cfg = config(server.port)
        sent = run_schedule(cfg, "metrics-digest", now=NOW, render=fake_render)
        again = run_schedule(cfg, "metrics-digest", now=NOW, render=fake_render)
        server.wait_for(1)
    dry = run_schedule(config(None), "metrics-digest", now=NOW, render=fake_render,
                       dry_run=True)
    down = DroppingServer()
    try:
        with pytest.raises(RunError):
            run_schedule(config(down.port), "metrics-digest", render=fake_render, force=True,
                         now=NOW + timedelta(days=7))
    finally:
        down.close()
    assert (sent.status, again.status, dry.status) == ("succeeded", "skipped", "succeeded")
    assert delta.of(*runs("succeeded")) == 2  # the real one and the dry run
    assert delta.of(*runs("skipped")) == 1 and delta.of(*runs("failed")) == 1
    assert delta.of(*deliveries("email", "sent")) == 1
    assert delta.of(*deliveries("file", "sent")) == 1
    assert delta.of(*deliveries("email", "failed")) == 1
    assert delta.of(*SECONDS) == 3  # a skipped run did no work: no seconds


def test_alert_notifications_are_counted_per_rule_and_state(demo_db, tmp_path):
    token = "T000/B000/metrics-t0ken"
    with webhook_server(token) as hook:
        rules = {"defaults": {"repeat_interval": "1h", "channels": ["chat"]},
                 "channels": {"chat": {"type": "webhook", "url": hook.url(), "retries": 0,
                                       "backoff": 0}},
                 "rules": [{"name": "idle-allocated-gpus", "kind": "idle-gpus", "min_gpus": 8,
                            "max_utilization": 10, "hours": 6},
                           {"name": "namespace-utilization-drop", "kind": "namespace-drop",
                            "min_drop_pp": 10, "min_gpu_hours": 50}]}
        path = tmp_path / "alerts.yaml"
        path.write_text(json.dumps(rules))  # JSON is YAML
        cfg = Config.model_validate({
            "source": {"database_url": demo_db},
            "state": {"database_url": f"sqlite:///{tmp_path / 'state.db'}"},
            "alerts_file": str(path)})
        names = ("idle-allocated-gpus", "namespace-utilization-drop")
        keys = [("gpureport_alert_notifications_total", {"rule": r, "state": "firing"})
                for r in names] + [deliveries("webhook", "sent"), deliveries("webhook", "failed")]

        delta = Delta(*keys)
        hook.statuses = [500] * 20  # every attempt of the first check fails
        first = run_check(cfg, now=NOW, sleep=lambda _s: None)
        failed = len(first.deliveries)
        assert failed >= 2 and {d.status for d in first.deliveries} == {"failed"}
        assert delta.of(*deliveries("webhook", "failed")) == failed
        assert all(delta.of(*k) == 0 for k in keys[:2])  # nothing was notified

        hook.statuses = []
        second = run_check(cfg, now=NOW + timedelta(minutes=1), sleep=lambda _s: None)
    sent = Counter((d.rule, d.kind) for d in second.deliveries if d.status == "sent")
    assert sum(sent.values()) == failed  # the failed notifications, retried
    for rule in names:
        assert sent[(rule, "firing")] >= 1, sent
        assert delta.of("gpureport_alert_notifications_total", rule=rule, state="firing") == \
            sent[(rule, "firing")]
    assert delta.of(*deliveries("webhook", "sent")) == failed
