"""Alerting (issue 6): rules over the demo data, firing/resolved state, and real channels.

Real parts: the demo store (SQLite, seed 42, now = NOW), the state database (SQLite file, and
PostgreSQL where it matters), aiosmtpd for email, a local HTTP server for the Slack-compatible
webhook, and Debian's ``prometheus-alertmanager``. Expected figures are computed here with
plain ``sqlite3`` over the demo file, not through gpureport's data layer.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent.errors import RulesError
from reporter.alerts import alert_jobs, list_alerts, run_check
from reporter.alerts.findings import fingerprint
from reporter.alerts.loading import load_rules, parse_rules
from reporter.config import Config
from tests.cli import run
from tests.conftest import NOW, sqlite_path
from tests.fakes.alertmanager import available as am_available
from tests.fakes.alertmanager import running_alertmanager
from tests.fakes.lens_api import serve_lens
from tests.fakes.slack_webhook import webhook_server
from tests.fakes.smtp import smtp_server

H = timedelta(hours=1)
M = timedelta(minutes=1)
IDLE = ("gpu-east", "ml-team", "llm-eval-server")
TOKEN = "T000/B000/s3cr3t-t0ken"


# ------------------------------------------------------------------------------------------
# helpers: rule files, configuration, independent figures
def rules_yaml(channels: dict[str, dict], *, repeat: str = "1h", idle_for: str = "0m",
               extra_rules: str = "") -> str:
    chan_yaml = json.dumps(channels)  # JSON is YAML
    names = json.dumps(list(channels))
    return f"""
defaults:
  repeat_interval: {repeat}
  channels: {names}
  stale_after: 2h
channels: {chan_yaml}
rules:
  - name: idle-allocated-gpus
    kind: idle-gpus
    min_gpus: 8
    max_utilization: 10
    hours: 6
    for: {idle_for}
  - name: namespace-utilization-drop
    kind: namespace-drop
    min_drop_pp: 10
    min_gpu_hours: 50
  - name: stale-data
    kind: stale-data
    severity: critical
    max_age: 2h
{extra_rules}
"""


def email_channel() -> dict:
    return {"type": "email", "to": ["oncall@example.com"], "subject_prefix": "[gpu]"}


def make_config(tmp_path: Path, data_url: str, rules: str, *, smtp_port: int | None = None,
                state_url: str | None = None, public_url: str | None = None) -> Config:
    path = tmp_path / "alerts.yaml"
    path.write_text(rules)
    return Config.model_validate({
        "source": {"database_url": data_url},
        "state": {"database_url": state_url or f"sqlite:///{tmp_path / 'state.db'}"},
        "smtp": {"host": "127.0.0.1" if smtp_port else None, "port": smtp_port or 25,
                 "starttls": False, "retries": 0, "timeout": 5, "from": "gpureport@example.net"},
        "alerts_file": str(path),
        "public_url": public_url,
    })


def check(config: Config, at: datetime, **kw):
    return run_check(config, now=at, sleep=lambda _s: None, **kw)


def sql(db_path: Path, query: str, *params) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(query, params).fetchall()


def make_idle_workload_busy(path: Path) -> None:
    """llm-eval-server works at 55% in its last hour (11:00): the idle condition clears."""
    sql(path, "UPDATE workload_gpu_hourly_stats SET avg_utilization = 55 WHERE workload_name = "
              "'llm-eval-server' AND datetime(stat_hour) = '2026-11-19 11:00:00'")


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def weighted(rows) -> tuple[float, float]:
    """(GPU-hours, GPU-hour weighted utilization) of (allocated, avg_utilization) rows."""
    a = sum(r[0] for r in rows)
    return a, sum(r[0] * r[1] for r in rows) / a


def expected_idle(path: Path, end: datetime = NOW, hours: int = 6, min_gpus: float = 8,
                  max_util: float = 10) -> dict[tuple, tuple[float, float, int]]:
    """Workloads idle in every one of the last ``hours`` hours: key -> (GPU-h, util, hours)."""
    rows = sql(path, "SELECT cluster_name, namespace, workload_name, allocated_gpu_count, "
                     "avg_utilization FROM workload_gpu_hourly_stats "
                     "WHERE datetime(stat_hour) >= ? AND datetime(stat_hour) < ?",
               ts(end - hours * H), ts(end))
    groups: dict[tuple, list] = {}
    for c, ns, w, a, u in rows:
        if a >= min_gpus and u < max_util:
            groups.setdefault((c, ns, w), []).append((a, u))
    return {k: (*weighted(v), len(v)) for k, v in groups.items() if len(v) == hours}


def namespace_util(path: Path, cluster: str, ns: str, start: datetime, end: datetime):
    rows = sql(path, "SELECT allocated_gpu_count, avg_utilization FROM "
                     "namespace_gpu_hourly_stats WHERE cluster_name = ? AND namespace = ? "
                     "AND datetime(stat_hour) >= ? AND datetime(stat_hour) < ?",
               cluster, ns, ts(start), ts(end))
    return weighted(rows) if rows else (0.0, 0.0)


WEEK = datetime(2026, 11, 16, tzinfo=timezone.utc)  # Monday of NOW's ISO week


def expected_drops(path: Path, min_pp: float = 10, min_gh: float = 50) -> dict[tuple, tuple]:
    out = {}
    for c, ns in sql(path, "SELECT DISTINCT cluster_name, namespace FROM "
                           "namespace_gpu_hourly_stats"):
        gh1, u1 = namespace_util(path, c, ns, WEEK, NOW)
        gh0, u0 = namespace_util(path, c, ns, WEEK - 7 * 24 * H, NOW - 7 * 24 * H)
        if gh0 >= min_gh and gh1 >= min_gh and u0 - u1 >= min_pp:
            out[(c, ns)] = (u0, u1, u0 - u1, gh0, gh1)
    return out


def text_part(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def html_part(received) -> str:
    return received.message.get_body(("html",)).get_content()


@pytest.fixture
def smtp():
    with smtp_server("plain") as server:
        yield server


# ==========================================================================================
# 1. the demo's scripted problems fire, with figures that match an independent computation
def test_the_idle_8_gpu_workload_and_the_ml_team_drop_fire_with_exact_figures(
        home, tmp_path, demo_db, smtp):
    cfg = make_config(tmp_path, demo_db, rules_yaml({"ops-mail": email_channel()}),
                      smtp_port=smtp.port)
    result = check(cfg, NOW)
    assert result.exit_code == 0, result.errors

    fired = {(r.rule, r.where) for r in result.active if r.status == "firing"}
    assert fired == {("idle-allocated-gpus", "gpu-east/ml-team/llm-eval-server"),
                     ("namespace-utilization-drop", "gpu-east/ml-team")}

    # independent figures
    path = sqlite_path(demo_db)
    gh, util, hours = expected_idle(path)[IDLE]
    u0, u1, drop, gh0, gh1 = expected_drops(path)[("gpu-east", "ml-team")]
    assert hours == 6 and gh == pytest.approx(48.0)

    by_rule = {r.rule: r for r in result.active}
    idle_fig = by_rule["idle-allocated-gpus"].annotations["figures"]
    assert idle_fig["avg_utilization"] == pytest.approx(util, abs=1e-9)
    assert idle_fig["gpu_hours"] == pytest.approx(gh, abs=1e-9)
    assert idle_fig["idle_gpu_hours"] == pytest.approx(gh * (1 - util / 100), abs=1e-9)
    drop_fig = by_rule["namespace-utilization-drop"].annotations["figures"]
    assert drop_fig["drop_pp"] == pytest.approx(drop, abs=1e-9)
    assert drop_fig["avg_utilization_before"] == pytest.approx(u0, abs=1e-9)
    assert drop_fig["avg_utilization_after"] == pytest.approx(u1, abs=1e-9)

    # one email with both alerts: what, where, how much, since when, how to drill down
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ["oncall@example.com"]
    assert mail.message["Subject"].startswith("[gpu] 2 firing: ")
    text = text_part(mail)
    assert f"ml-team/llm-eval-server on gpu-east holds 8 GPUs at {util:.1f}% utilization" in text
    assert f"{gh:.1f} GPU-hours at {util:.1f}% average utilization" in text
    assert f"{gh * (1 - util / 100):.1f} idle GPU-hours" in text
    assert f"utilization down {drop:.1f} pp week over week ({u0:.1f}% -> {u1:.1f}%)" in text
    assert f"{gh1:.1f} GPU-hours this week so far" in text
    assert f"against {u0:.1f}% on {gh0:.1f} GPU-hours" in text
    assert "Where:       gpu-east/ml-team/llm-eval-server" in text
    assert "firing since 2026-11-19 12:00 UTC" in text
    assert ("gpureport ask 'What is the utilization trend of workload llm-eval-server in "
            "namespace ml-team over the last 24 hours?' --cluster gpu-east") in text
    assert "gpureport ask \"Why is ml-team's utilization lower this week" in text
    assert f"{util:.1f}% utilization" in html_part(mail)


def test_healthy_namespaces_and_smaller_idle_workloads_do_not_fire(home, tmp_path, demo_db):
    """Exactly the independently computed sets fire — no other namespace or workload."""
    cfg = make_config(tmp_path, demo_db, rules_yaml({}))
    result = check(cfg, NOW, dry_run=True)
    path = sqlite_path(demo_db)
    findings = {e.rule: e.findings for e in result.evaluations}
    idle = {(f.labels["cluster"], f.labels["namespace"], f.labels["workload"])
            for f in findings["idle-allocated-gpus"]}
    drops = {(f.labels["cluster"], f.labels["namespace"])
             for f in findings["namespace-utilization-drop"]}
    assert idle == set(expected_idle(path)) == {IDLE}
    assert drops == set(expected_drops(path)) == {("gpu-east", "ml-team")}
    # the demo does have smaller idle workloads (4-GPU research notebook etc.): below min_gpus
    assert len(expected_idle(path, min_gpus=1)) > 1
    assert findings["stale-data"] == []
    assert all(e.covered == {"gpu-east", "gpu-lab", "gpu-west"} for e in result.evaluations)


# ==========================================================================================
# 2. repeat interval and a single resolve notification
def test_repeated_checks_wait_for_the_repeat_interval_and_resolve_once(
        home, tmp_path, demo_copy, smtp):
    url, path = demo_copy, sqlite_path(demo_copy)
    cfg = make_config(tmp_path, url, rules_yaml({"ops-mail": email_channel()}, repeat="1h"),
                      smtp_port=smtp.port)
    assert [d.kind for d in check(cfg, NOW).deliveries] == ["firing", "firing"]
    for later in (NOW + 10 * M, NOW + 59 * M):
        result = check(cfg, later)
        assert result.deliveries == [] and result.changes == []
    assert len(smtp.messages) == 1

    result = check(cfg, NOW + H)  # repeat interval reached: one reminder email, both alerts
    assert sorted(d.kind for d in result.deliveries) == ["repeat", "repeat"]
    assert len(smtp.wait_for(2)) == 2
    assert "(reminder)" in text_part(smtp.messages[1])

    # the idle workload gets busy in its last hour: the condition clears
    make_idle_workload_busy(path)
    result = check(cfg, NOW + H + 10 * M)
    assert [(c.rule, c.before, c.after) for c in result.changes] == [
        ("idle-allocated-gpus", "firing", "resolved")]
    assert [(d.rule, d.kind, d.status) for d in result.deliveries] == [
        ("idle-allocated-gpus", "resolved", "sent")]
    (resolved,) = smtp.wait_for(3)[2:]
    assert resolved.message["Subject"].startswith("[gpu] RESOLVED [warning] idle-allocated-gpus")
    assert "resolved at 2026-11-19 13:10 UTC" in text_part(resolved)

    for later in (NOW + H + 20 * M, NOW + H + 50 * M):  # no second resolve, no new repeat
        assert check(cfg, later).deliveries == []
    assert len(smtp.messages) == 3
    state = {a["rule"]: a for a in list_alerts(cfg, include_resolved=True)}
    assert state["idle-allocated-gpus"]["status"] == "resolved"
    assert state["namespace-utilization-drop"]["status"] == "firing"
    assert state["namespace-utilization-drop"]["deliveries"]["email"]["kind"] == "repeat"


def test_an_alert_stays_pending_until_it_has_held_for_its_for_duration(
        home, tmp_path, demo_db, smtp):
    cfg = make_config(tmp_path, demo_db,
                      rules_yaml({"ops-mail": email_channel()}, idle_for="30m"),
                      smtp_port=smtp.port)
    first = check(cfg, NOW)
    status = {r.rule: r.status for r in first.active}
    assert status == {"idle-allocated-gpus": "pending", "namespace-utilization-drop": "firing"}
    assert [d.rule for d in first.deliveries] == ["namespace-utilization-drop"]
    assert [d.kind for d in check(cfg, NOW + 29 * M).deliveries] == []
    later = check(cfg, NOW + 30 * M)
    assert [(c.rule, c.before, c.after) for c in later.changes] == [
        ("idle-allocated-gpus", "pending", "firing")]
    assert [(d.rule, d.kind) for d in later.deliveries] == [("idle-allocated-gpus", "firing")]
    row = {a["rule"]: a for a in list_alerts(cfg)}["idle-allocated-gpus"]
    assert row["first_seen_at"] == "2026-11-19T12:00:00Z"
    assert row["started_at"] == "2026-11-19T12:30:00Z"


# ==========================================================================================
# 3. a failing webhook does not lose the alert, and email still goes out
def test_a_webhook_500_is_retried_at_the_next_check_while_email_is_delivered(
        home, tmp_path, demo_db, smtp):
    with webhook_server(TOKEN) as hook:
        channels = {"ops-mail": email_channel(),
                    "chat": {"type": "webhook", "url": hook.url(), "retries": 2, "backoff": 0}}
        cfg = make_config(tmp_path, demo_db, rules_yaml(channels), smtp_port=smtp.port)
        hook.statuses = [500, 500, 500]  # every attempt of this check fails

        first = check(cfg, NOW)
        assert len(hook.requests) == 3  # 1 try + 2 retries within the check
        outcome = {(d.channel_type, d.status) for d in first.deliveries}
        assert outcome == {("email", "sent"), ("webhook", "failed")}
        assert first.exit_code == 1
        assert any("HTTP 500" in e for e in first.errors)
        assert TOKEN not in " ".join(first.errors)  # the URL's token is never shown
        assert len(smtp.wait_for(1)) == 1

        second = check(cfg, NOW + 5 * M)  # the webhook is back
        assert {(d.channel_type, d.kind, d.status, d.retry) for d in second.deliveries} == {
            ("webhook", "firing", "sent", True)}
        assert second.exit_code == 0
        assert len(hook.requests) == 4
        path, payload = hook.requests[-1]
        assert path == f"/services/{TOKEN}"
        assert len(smtp.messages) == 1  # email was not sent twice

        third = check(cfg, NOW + 10 * M)
        assert third.deliveries == [] and len(hook.requests) == 4

    headers = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "header"]
    assert headers == ["FIRING: idle-allocated-gpus", "FIRING: namespace-utilization-drop"]
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert "*ml-team/llm-eval-server on gpu-east holds 8 GPUs" in sections[0]
    assert "gpureport ask" in sections[1]
    assert "FIRING idle-allocated-gpus" in payload["text"]
    rows = {a["rule"]: a["deliveries"] for a in list_alerts(cfg)}
    assert rows["idle-allocated-gpus"]["webhook"]["status"] == "sent"
    assert rows["idle-allocated-gpus"]["email"]["status"] == "sent"


def test_hostile_workload_names_are_escaped_in_html_slack_and_shell(
        home, tmp_path, demo_copy, smtp):
    evil = "<script>alert(1)</script><!channel>'; rm -rf ~ #"
    url, path = demo_copy, sqlite_path(demo_copy)
    sql(path, "UPDATE workload_gpu_hourly_stats SET workload_name = ? "
              "WHERE workload_name = 'llm-eval-server'", evil)
    with webhook_server(TOKEN) as hook:
        channels = {"ops-mail": email_channel(),
                    "chat": {"type": "webhook", "url": hook.url(), "backoff": 0}}
        cfg = make_config(tmp_path, url, rules_yaml(channels), smtp_port=smtp.port)
        result = check(cfg, NOW)
        assert result.exit_code == 0, result.errors
        _, payload = hook.requests[0]
    html = html_part(smtp.wait_for(1)[0])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    slack = json.dumps(payload)
    assert "<!channel>" not in slack and "<script>" not in slack
    assert "&lt;!channel&gt;" in slack
    idle = next(r for r in result.active if r.rule == "idle-allocated-gpus")
    assert idle.labels["workload"] == evil  # the data itself is kept as is
    import shlex
    cmd = shlex.split(idle.annotations["drilldown"])
    assert cmd[:2] == ["gpureport", "ask"] and evil in cmd[2] and cmd[3:] == ["--cluster",
                                                                             "gpu-east"]


# ==========================================================================================
# 4. a real Alertmanager shows the alert and then its resolution
@pytest.mark.skipif(not am_available(), reason="prometheus-alertmanager is not installed")
def test_alertmanager_receives_the_alert_and_resolves_it(home, tmp_path, demo_copy):
    url, path = demo_copy, sqlite_path(demo_copy)
    with running_alertmanager(tmp_path / "am") as am:
        channels = {"am": {"type": "alertmanager", "url": am.url, "backoff": 0}}
        cfg = make_config(tmp_path, url, rules_yaml(channels),
                          public_url="https://gpureport.example")
        first = check(cfg, NOW)
        assert {(d.channel_type, d.status) for d in first.deliveries} == {("alertmanager", "sent")}

        def idle_alerts(alerts):
            return [a for a in alerts if a["labels"].get("alertname") == "idle-allocated-gpus"]

        found = idle_alerts(am.wait_for(lambda a: len(a) >= 2))
        assert len(found) == 1
        a = found[0]
        assert a["status"]["state"] == "active"
        assert a["labels"] == {"alertname": "idle-allocated-gpus", "severity": "warning",
                               "source": "gpureport", "kind": "idle-gpus", "cluster": "gpu-east",
                               "namespace": "ml-team", "workload": "llm-eval-server"}
        fp = fingerprint("idle-allocated-gpus", {"cluster": "gpu-east", "namespace": "ml-team",
                                                 "workload": "llm-eval-server"})
        assert a["generatorURL"] == f"https://gpureport.example/alerts/{fp}"
        assert a["annotations"]["fingerprint"] == fp
        assert "holds 8 GPUs" in a["annotations"]["summary"]
        assert a["annotations"]["drilldown"].startswith("gpureport ask ")
        ends = datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00"))
        assert ends > datetime.now(timezone.utc) + H  # kept active between our repeat posts

        make_idle_workload_busy(path)
        resolved = check(cfg, NOW + 10 * M)
        assert [(d.rule, d.kind, d.status) for d in resolved.deliveries] == [
            ("idle-allocated-gpus", "resolved", "sent")]
        remaining = am.wait_for(lambda alerts: not idle_alerts(alerts))
        assert idle_alerts(remaining) == []  # resolved: no longer among its alerts
        assert [x["labels"]["alertname"] for x in remaining] == ["namespace-utilization-drop"]


# ==========================================================================================
# 5. stale data
def test_stale_data_fires_when_no_hourly_stats_arrive_for_more_than_two_hours(
        home, tmp_path, demo_db, smtp):
    cfg = make_config(tmp_path, demo_db, rules_yaml({"ops-mail": email_channel()}),
                      smtp_port=smtp.port)
    check(cfg, NOW)  # idle + drop fire
    # the newest row (11:00) was complete at 12:00: at 14:00 the data is exactly 2 h old
    on_time = check(cfg, NOW + 2 * H)
    assert not [f for e in on_time.evaluations if e.rule == "stale-data" for f in e.findings]
    late = check(cfg, NOW + 2 * H + M)
    stale = {r.labels["cluster"]: r for r in late.active if r.rule == "stale-data"}
    assert set(stale) == {"gpu-east", "gpu-lab", "gpu-west"}
    assert all(r.status == "firing" and r.severity == "critical" for r in stale.values())
    figures = stale["gpu-east"].annotations["figures"]
    assert figures["newest_stat_hour"] == "2026-11-19T11:00:00Z"
    assert figures["lag_hours"] == pytest.approx(2 + 1 / 60)
    assert "no new hourly GPU stats for 2h1m" in stale["gpu-east"].summary
    # the data rules were not evaluated on stale data: their alerts keep firing, none resolved
    assert all(c.after != "resolved" for c in late.changes)
    idle = next(e for e in late.evaluations if e.rule == "idle-allocated-gpus")
    assert idle.covered == set() and set(idle.skipped) == {"gpu-east", "gpu-lab", "gpu-west"}
    assert {r.rule for r in late.active if r.status == "firing"} == {
        "idle-allocated-gpus", "namespace-utilization-drop", "stale-data"}
    mails = smtp.wait_for(3)  # first firing, the 1 h reminder at 14:00, the stale alerts
    assert len(mails) == 3 and "(reminder)" in text_part(mails[1])
    assert mails[2].message["Subject"].startswith("[gpu] 3 firing: gpu-east: no new hourly")


def test_an_unreachable_data_source_keeps_the_alert_state_and_fails_the_check(
        home, tmp_path, demo_db):
    cfg = make_config(tmp_path, demo_db, rules_yaml({}))
    check(cfg, NOW)
    gone = cfg.source.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'gone.db'}"})
    result = check(cfg.model_copy(update={"source": gone}), NOW + 10 * M)
    assert result.exit_code == 1
    assert all(e.error and "does not exist" in e.error for e in result.evaluations)
    assert result.changes == [] and result.deliveries == []
    assert {a["rule"]: a["status"] for a in list_alerts(cfg)} == {
        "idle-allocated-gpus": "firing", "namespace-utilization-drop": "firing"}


# ==========================================================================================
# 6. invalid rule files
BASE = {"channels": {"m": {"type": "email", "to": ["a@example.com"]}},
        "rules": [{"name": "idle", "kind": "idle-gpus"}]}


@pytest.mark.parametrize("change, field, reason", [
    ({"rules": [{"name": "idle", "kind": "idle-gpu"}]}, "rules[0] (idle)",
     "unknown kind 'idle-gpu'"),
    ({"rules": [{"name": "idle", "kind": "idle-gpus", "min_gpus": 0}]},
     "rules[0] (idle).min_gpus", "greater than 0"),
    ({"rules": [{"name": "drop", "kind": "namespace-drop", "min_share_pct": 150}]},
     "rules[0] (drop).min_share_pct", "less than or equal to 100"),
    ({"rules": [{"name": "idle", "kind": "idle-gpus", "for": "soon"}]},
     "rules[0] (idle).for", "'soon' is not a duration"),
    ({"rules": [{"name": "idle", "kind": "idle-gpus", "channels": ["pager"]}]},
     "rules[0] (idle).channels", "unknown channel 'pager'"),
    ({"rules": [{"name": "idle", "kind": "idle-gpus", "treshold": 3}]},
     "rules[0] (idle).treshold", "unknown field"),
    ({"rules": [{"name": "Idle GPUs", "kind": "idle-gpus"}]}, "rules[0] (Idle GPUs).name",
     "lowercase letters"),
    ({"rules": [{"name": "s", "kind": "stale-data", "scope": {"namespaces": ["ml-*"]}}]},
     "rules[0] (s)", "scope.namespaces"),
    ({"channels": {"m": {"type": "email", "to": ["not-an-address"]}}}, "channels.m.to",
     "is not an email address"),
    ({"channels": {"m": {"type": "webhook", "url": "hooks.example.com/x"}}}, "channels.m.url",
     "http:// or https://"),
    ({"channels": {"m": {"type": "pagerduty"}}}, "channels.m", "unknown type 'pagerduty'"),
    ({"channels": {"m": {"type": "webhook", "url": "${GR_TEST_UNSET_HOOK}"}}}, "channels.m.url",
     "environment variable GR_TEST_UNSET_HOOK is not set"),
    ({"check": {"cron": "61 * * * *"}}, "check", "invalid expression '61 * * * *'"),
    ({"defaults": {"repeat_interval": "30s"}}, "defaults.repeat_interval", "at least 1m"),
])
def test_invalid_rule_files_fail_with_file_field_and_reason(tmp_path, monkeypatch, change,
                                                            field, reason):
    monkeypatch.delenv("GR_TEST_UNSET_HOOK", raising=False)
    path = tmp_path / "alerts.yaml"
    path.write_text(json.dumps({**BASE, **change}))
    with pytest.raises(RulesError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}")
    assert reason in message
    assert "\n" not in message


def test_yaml_syntax_errors_and_the_cli_report_one_line(home, tmp_path):
    bad = tmp_path / "alerts.yaml"
    bad.write_text("rules:\n  - name: x\n    kind: [unclosed\n")
    with pytest.raises(RulesError, match=r"alerts.yaml: line \d+: not valid YAML"):
        load_rules(bad)
    res = run("alerts", "check", "--rules", bad)
    assert res.exit_code == 1, res
    assert "not valid YAML" in res.stderr and "Traceback" not in res.stdout + res.stderr


def test_a_rule_may_not_use_two_channels_of_one_type():
    data = {"channels": {"a": {"type": "email", "to": ["a@example.com"]},
                         "b": {"type": "email", "to": ["b@example.com"]}},
            "rules": [{"name": "idle", "kind": "idle-gpus", "channels": ["a", "b"]}]}
    with pytest.raises(RulesError, match=r"rules\[0\] \(idle\)\.channels: 'a' and 'b' are both "
                                         r"email channels"):
        parse_rules(data, "alerts.yaml")


def test_the_shipped_rules_find_only_the_scripted_problems(home, tmp_path, demo_db):
    shipped = Path(__file__).resolve().parent.parent / "schedules" / "alerts.yaml"
    rules = load_rules(shipped)
    kinds = {r.kind for r in rules.rules}
    assert kinds == {"idle-gpus", "namespace-drop", "cluster-low-utilization",
                     "allocation-pressure", "stale-data", "anomaly"}
    assert rules.check is not None and rules.check.cron == "*/15 * * * *"
    cfg = make_config(tmp_path, demo_db, shipped.read_text())
    result = check(cfg, NOW, dry_run=True)
    found = {(e.rule, f.labels.get("namespace")) for e in result.evaluations for f in e.findings}
    # the idle workloads of 2+ GPUs (tests/test_alerts_waste.py checks them one by one), the
    # ml-team drop, and the same drop as an anomaly (its utilization and its allocated GPUs)
    idle = {("idle-allocated-gpus", ns) for _, ns, _ in expected_idle(sqlite_path(demo_db),
                                                                      min_gpus=2)}
    assert found == idle | {("namespace-utilization-drop", "ml-team"),
                            ("unusual-usage", "ml-team")}
    unusual = [f.labels["metric"] for e in result.evaluations for f in e.findings
               if e.rule == "unusual-usage"]
    assert sorted(unusual) == ["allocated_gpus", "avg_utilization"]


# ==========================================================================================
# state, fingerprints, dry runs, secrets, PostgreSQL, the scheduler hook, the CLI
def test_fingerprints_are_sha256_of_rule_and_sorted_labels():
    labels = {"workload": "w", "cluster": "c", "namespace": "n"}
    expected = hashlib.sha256(json.dumps(
        ["r", [["cluster", "c"], ["namespace", "n"], ["workload", "w"]]],
        separators=(",", ":")).encode()).hexdigest()
    assert fingerprint("r", labels) == expected
    assert fingerprint("r", dict(reversed(list(labels.items())))) == expected
    assert fingerprint("other", labels) != expected


def test_dry_run_shows_what_would_happen_and_writes_nothing(home, tmp_path, demo_db, smtp):
    cfg = make_config(tmp_path, demo_db, rules_yaml({"ops-mail": email_channel()}),
                      smtp_port=smtp.port)
    result = check(cfg, NOW, dry_run=True)
    assert {(d.status, d.kind) for d in result.deliveries} == {("planned", "firing")}
    assert any("would send firing via ops-mail" in line for line in result.lines())
    assert list_alerts(cfg, include_resolved=True) == []
    assert smtp.messages == []
    real = check(cfg, NOW)  # the real check after a dry run still notifies
    assert [d.status for d in real.deliveries] == ["sent", "sent"]


def test_cli_list_masks_webhook_secrets(home, tmp_path, demo_db, config_file):
    channels = {"chat": {"type": "webhook", "url": f"http://127.0.0.1:9/services/{TOKEN}",
                         "retries": 0, "timeout": 1}}
    cfg = make_config(tmp_path, demo_db, rules_yaml(channels))
    conf = config_file({"source": {"database_url": demo_db},
                        "state": {"database_url": cfg.state.database_url},
                        "alerts_file": cfg.alerts_file})
    res = run("--config", conf, "alerts", "check")
    assert res.exit_code == 1, res  # nothing listens on port 9: recorded as failed
    assert "FAILED firing via chat (webhook http://127.0.0.1:9/services/***)" in res.stdout + res.stderr
    listing = run("--config", conf, "alerts", "list")
    assert listing.exit_code == 0, listing
    assert "idle-allocated-gpus" in listing.stdout and "webhook:failed" in listing.stdout
    assert "http://127.0.0.1:9/services/***" in listing.stdout
    as_json = run("--config", conf, "alerts", "list", "--json")
    assert as_json.stderr == "", as_json
    data = as_json.json()
    assert {a["rule"] for a in data["alerts"]} == {"idle-allocated-gpus",
                                                  "namespace-utilization-drop"}
    for out in (res, listing, as_json):
        assert TOKEN not in out.stdout + out.stderr and "s3cr3t" not in out.stdout + out.stderr


@pytest.mark.postgres
def test_state_on_postgresql_and_one_check_at_a_time(home, tmp_path, demo_db, pg_url):
    from sqlalchemy import create_engine, text

    from reporter.alerts.state import CHECK_LOCK_KEY, AlertsBusy

    cfg = make_config(tmp_path, demo_db, rules_yaml({}), state_url=pg_url)
    first = check(cfg, NOW)
    assert {r.rule for r in first.active} == {"idle-allocated-gpus", "namespace-utilization-drop"}
    assert check(cfg, NOW + M).changes == []
    engine = create_engine(pg_url)
    with engine.connect() as conn:  # someone else is checking
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": CHECK_LOCK_KEY})
        with pytest.raises(AlertsBusy):
            check(cfg, NOW + 2 * M)
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": CHECK_LOCK_KEY})
    engine.dispose()
    assert check(cfg, NOW + 3 * M).exit_code == 0


def test_the_scheduler_runs_alerts_check_on_the_rule_files_cron(home, tmp_path, demo_db, smtp):
    from reporter.statedb import open_state

    rules = rules_yaml({"ops-mail": email_channel()}) + '\ncheck:\n  cron: "*/15 * * * *"\n'
    cfg = make_config(tmp_path, demo_db, rules, smtp_port=smtp.port)
    with open_state(cfg.state.database_url) as state:
        (job,) = alert_jobs(cfg, state)
        assert job.id == "alerts:check"
        assert job.trigger.get_next_fire_time(None, NOW + M) == NOW + 15 * M
        job.run(NOW + 15 * M)
    assert len(smtp.wait_for(1)) == 1
    assert {a["rule"] for a in list_alerts(cfg)} == {"idle-allocated-gpus",
                                                     "namespace-utilization-drop"}
    no_cron = make_config(tmp_path, demo_db, rules_yaml({}))
    with open_state(no_cron.state.database_url) as state:
        assert alert_jobs(no_cron, state) == []


@pytest.mark.postgres
def test_idle_workloads_agree_between_the_sql_and_lens_sources(pg_url):
    """One grouped query (sql) and the Lens API rows summed (lens) give the same sums."""
    from sqlalchemy import create_engine, insert

    from agent.sources import schema as s
    from agent.sources.lens import LensSource
    from agent.sources.sql import SqlSource

    t0 = datetime(2026, 11, 19, 6)
    cluster = [{"cluster_name": "alpha", "stat_hour": t0 + i * H, "total_gpu_capacity": 64,
                "allocated_gpu_count": 20, "avg_utilization": 50.0} for i in range(6)]
    utils = {"idle-8": [1.0, 2.0, 1.5, 0.5, 3.0, 2.0],       # idle all 6 hours
             "busy-8": [1.0, 2.0, 80.0, 0.5, 3.0, 2.0],      # busy one hour
             "idle-4": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]}       # too few GPUs
    gpus = {"idle-8": 8, "busy-8": 8, "idle-4": 4}
    workload = [{"cluster_name": "alpha", "namespace": "ns", "workload_name": w,
                 "workload_type": "Deployment", "stat_hour": t0 + i * H,
                 "allocated_gpu_count": gpus[w], "avg_utilization": u,
                 "annotations": {"primus-safe.user.name": "u1"}, "labels": {}}
                for w, us in utils.items() for i, u in enumerate(us)]
    engine = create_engine(pg_url)
    s.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(s.cluster_hourly), cluster)
        conn.execute(insert(s.workload_hourly), workload)
    engine.dispose()
    start = datetime(2026, 11, 19, 6, tzinfo=timezone.utc)
    end = start + 6 * H
    sql_src = SqlSource(pg_url)
    with serve_lens(pg_url) as server:
        lens_src = LensSource(server.url, retries=0, timeout=5)
        results = [src.idle_workloads("alpha", start, end, 8, 10) for src in (sql_src, lens_src)]
        lens_src.close()
    sql_src.close()
    for got in results:
        by_name = {p.name: p for p in got}
        assert set(by_name) == {"idle-8", "busy-8"}
        assert by_name["idle-8"].rows == 6 and by_name["busy-8"].rows == 5
        assert by_name["idle-8"].gpu_hours == pytest.approx(48.0)
        assert by_name["idle-8"].avg_utilization == pytest.approx(sum(utils["idle-8"]) / 6)
        assert by_name["idle-8"].capacity_gpu_hours == pytest.approx(6 * 64)
        assert by_name["idle-8"].cluster == "alpha" and by_name["idle-8"].user == "u1"
