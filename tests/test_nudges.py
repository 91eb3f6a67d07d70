"""Idle nudges (issue 14, acceptance 2): the owners of idle GPUs are told once, then escalated.

Real parts throughout: the shared demo store (idle workloads scripted by the demo), the
``gpureport`` command line in process (``tests.cli.run``) or as processes, a real aiosmtpd
(``tests.fakes.smtp``), the Slack fake (``tests.fakes.slack_api``), a SQLite state database.
Who *should* be nudged is computed here independently with plain SQL on the demo file: the
workloads whose every one of the last 6 hourly rows held >= 2 GPUs below 10 %, and their user
from the top-level ``gpu_workload`` annotation.

The test schedule repeats after 1 h (not the shipped 24 h) so that ``--now`` can advance hour
by hour inside the demo's data (which ends at NOW); ``stale_after: 6h`` lets those runs still
judge it.
"""

from __future__ import annotations

import email.utils
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from agent.prices import Prices
from reporter.channels.summary import Destination
from reporter.config import Config
from reporter.metrics import REGISTRY
from reporter.nudges import store
from reporter.nudges.addresses import recipients_for
from reporter.nudges.finding import IdleUser, IdleWorkload
from reporter.nudges.message import compose, kubectl_hint
from reporter.nudges.run import nudge_jobs
from reporter.nudges.schedule import NudgeSchedule
from reporter.statedb import open_state
from reporter.statedb.models import nudge_notices, runs
from tests.cli import run
from tests.conftest import NOW
from tests.fakes.slack_api import slack_api
from tests.fakes.smtp import smtp_server

H = timedelta(hours=1)
ROOT = Path(__file__).resolve().parents[1]
USER_KEY = "primus-safe.user.name"
PLATFORM = "gpu-platform@example.com"
ML_OWNERS = "ml-leads@example.com"


def at(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def sql(path: Path, query: str, *params) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(query, params).fetchall()


def expected_idle(path: Path, end: datetime = NOW, hours: int = 6, min_gpus: float = 2,
                  max_util: float = 10) -> dict[str, dict[tuple, float]]:
    """user -> {(cluster, namespace, workload): idle GPU-hours}, by plain SQL and Python."""
    rows = sql(path, "SELECT cluster_name, namespace, workload_name, allocated_gpu_count, "
                     "avg_utilization FROM workload_gpu_hourly_stats WHERE "
                     "datetime(stat_hour) >= ? AND datetime(stat_hour) < ?",
               (end - hours * H).strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S"))
    groups: dict[tuple, list] = {}
    for c, ns, w, a, u in rows:
        if a >= min_gpus and u < max_util:
            groups.setdefault((c, ns, w), []).append(a * (1 - u / 100))
    out: dict[str, dict[tuple, float]] = {}
    for (c, ns, w), idle in groups.items():
        if len(idle) != hours:
            continue
        (user,) = sql(path, "SELECT json_extract(annotations, ?) FROM gpu_workload WHERE "
                            "namespace = ? AND name = ? AND coalesce(parent_uid, '') = ''",
                      f'$."{USER_KEY}"', ns, w)[0]
        out.setdefault(user, {})[(c, ns, w)] = sum(idle)
    return out


def addr(user: str) -> str:
    return f"{user}@example.com"


class Nudges:
    """A config + schedules dir + state database around one nudge schedule, run by the CLI."""

    def __init__(self, tmp_path: Path, data_url: str, smtp_port: int | None, **schedule):
        self.tmp = tmp_path
        sdir = tmp_path / "schedules"
        sdir.mkdir(exist_ok=True)
        spec = {"name": "idle-nudges", "kind": "nudge", "cron": "15 * * * *",
                "repeat_after": "1h", "stale_after": "6h", "escalate_to": [PLATFORM],
                "address_pattern": "{user}@example.com", **schedule}
        (sdir / "idle-nudges.yaml").write_text(yaml.safe_dump(spec))
        self.state_url = f"sqlite:///{tmp_path / 'state.db'}"
        self.config = {
            "source": {"database_url": data_url},
            "state": {"database_url": self.state_url, "claim_lease_s": 30},
            "schedules_dir": str(sdir),
            "smtp": {"host": "127.0.0.1" if smtp_port else None, "port": smtp_port or 25,
                     "starttls": False, "retries": 0, "timeout": 10,
                     "from": "gpureport@example.net"},
            "teams": {"ml-team": {"email": [ML_OWNERS]}},
        }
        self.write()

    def write(self, **changes) -> None:
        self.config.update(changes)
        self.path = self.tmp / "gpureport.yaml"
        self.path.write_text(yaml.safe_dump(self.config))

    def run(self, now: datetime, *args: str):
        return run("--config", self.path, "--now", at(now), "run", "idle-nudges", *args)

    def cli(self, *args: str):
        return run("--config", self.path, *args)

    def notices(self) -> list:
        with open_state(self.state_url) as db, db.engine.connect() as c:
            return list(c.execute(select(nudge_notices).order_by(nudge_notices.c.id)))


def recipients(msg) -> tuple[list[str], list[str]]:
    to = [a for _, a in email.utils.getaddresses([str(msg.get("To", ""))])]
    cc = [a for _, a in email.utils.getaddresses([str(msg.get("Cc", ""))])] if msg.get("Cc") \
        else []
    return to, cc


@pytest.fixture
def smtp():
    with smtp_server("plain") as server:
        yield server


# ==========================================================================================
def test_the_idle_workloads_users_are_nudged_once_and_no_healthy_workloads_user(
        tmp_path, demo_store, smtp):
    expected = expected_idle(demo_store.path)
    # the demo's scripted idle workloads, and smaller/busy ones that are not idle all 6 hours
    assert set(expected) == {"mallory", "olivia", "peggy", "user_b", "walter"}
    n = Nudges(tmp_path, demo_store.url, smtp.port)

    r = n.run(NOW)
    assert r.exit_code == 0, r
    assert "nudged 5 user(s)" in r.stdout
    by_to = {recipients(m.message)[0][0]: m.message for m in smtp.messages}
    assert set(by_to) == {addr(u) for u in expected}  # exactly the idle users, nobody healthy
    for user, workloads in expected.items():
        msg = by_to[addr(user)]
        assert recipients(msg)[1] == []  # the first notice goes to the user alone
        assert "(notice 1 of 3)" in msg["Subject"]
        text = msg.get_body(("plain",)).get_content()
        for (cluster, ns, w), idle in workloads.items():
            assert f"{cluster}/{ns}/{w}" in text
            assert f"{idle:,.1f} idle GPU-hours" in text  # the figure of independent SQL
            assert any(line.strip().startswith(f"kubectl -n {ns} ") and w in line
                       for line in text.splitlines())  # what to do, written out
        total = sum(workloads.values())
        assert f"Idle GPU-hours in total: {total:,.1f}" in text
        assert "USD" not in text and "cost" not in text.lower()  # no prices configured

    # the same hour again: nobody is told twice
    again = n.run(NOW)
    assert again.exit_code == 0, again
    assert len(smtp.messages) == 5
    assert "notice 2 not before 2026-11-19 13:00 UTC" in again.stdout
    notices = n.notices()
    assert sorted((x.user, x.level, x.route, x.status) for x in notices) == \
        [(u, 1, "email", "sent") for u in sorted(expected)]


def test_still_idle_users_escalate_to_team_owners_then_the_platform(tmp_path, demo_store, smtp):
    n = Nudges(tmp_path, demo_store.url, smtp.port)
    levels = {}
    for i in range(4):  # 12:00 (1st), 13:00 (2nd), 14:00 (3rd), 15:00 (nothing more)
        r = n.run(NOW + i * H)
        assert r.exit_code == 0, r
        levels[i] = [m for m in smtp.messages if recipients(m.message)[0] == [addr("user_b")]]
    first, second, third = levels[2]
    assert len(levels[3]) == 3  # the fourth run sends nothing more
    assert "notice 3 of 3 already sent" in r.stdout
    assert recipients(first.message) == ([addr("user_b")], [])
    # user_b's idle workload is in ml-team: its owners are copied from the 2nd notice on
    assert recipients(second.message) == ([addr("user_b")], [ML_OWNERS])
    assert sorted(second.rcpt_tos) == sorted([addr("user_b"), ML_OWNERS])
    assert recipients(third.message) == ([addr("user_b")], [ML_OWNERS, PLATFORM])
    assert "(notice 3 of 3)" in third.message["Subject"]
    assert "platform team is copied" in third.message.get_body(("plain",)).get_content()
    # walter's namespace has no team entry: the 2nd notice is his alone, the 3rd adds platform
    walter = [recipients(m.message) for m in smtp.messages
              if recipients(m.message)[0] == [addr("walter")]]
    assert walter == [([addr("walter")], []), ([addr("walter")], []),
                      ([addr("walter")], [PLATFORM])]

    listing = n.cli("nudges", "list")
    assert listing.exit_code == 0, listing
    line = next(x for x in listing.stdout.splitlines() if " user_b " in x)
    assert "3/3" in line and "ml-team/llm-eval-server" in line
    history = n.cli("history", "--schedule", "idle-nudges")
    assert history.exit_code == 0, history
    assert "- user_b notice 3 email sent" in history.stdout
    assert "- user_b notice 2 email sent" in history.stdout
    newest = n.cli("history", "--schedule", "idle-nudges", "--json").json()
    sent = [(x["user"], x["level"], x["status"]) for r in newest for x in r.get("notices", [])]
    assert ("user_b", 3, "sent") in sent and ("walter", 1, "sent") in sent
    state = {x["user"]: x for x in n.cli("nudges", "list", "--json").json()}
    assert (state["user_b"]["level"], state["user_b"]["episode"]) == (3, 1)


def test_allow_listed_users_and_workloads_are_never_nudged(tmp_path, demo_store, smtp):
    n = Nudges(tmp_path, demo_store.url, smtp.port,
               allow={"users": ["oliv*"], "workloads": ["inference/*"]})
    for i in range(3):
        assert n.run(NOW + i * H).exit_code == 0
    told = {recipients(m.message)[0][0] for m in smtp.messages}
    # peggy's idle workloads are both in namespace inference; olivia is allow-listed by name
    assert told == {addr("mallory"), addr("user_b"), addr("walter")}
    assert len(smtp.messages) == 9  # three users x three notices
    dry = n.run(NOW, "--dry-run")
    assert "olivia: not nudged for gpu-east/research/research-notebook (user on the " \
           "allow-list)" in dry.stdout
    assert "peggy: not nudged for gpu-west/inference/shadow-api (workload on the " \
           "allow-list)" in dry.stdout
    assert {x.user for x in n.notices()} == {"mallory", "user_b", "walter"}


def test_a_user_whose_workloads_stop_idling_starts_over(tmp_path, demo_copy, smtp):
    path = Path(demo_copy.removeprefix("sqlite:///"))
    n = Nudges(tmp_path, demo_copy, smtp.port)
    assert n.run(NOW).exit_code == 0
    busy = ("UPDATE workload_gpu_hourly_stats SET avg_utilization = ? WHERE workload_name = "
            "'llm-eval-server' AND datetime(stat_hour) = '2026-11-19 11:00:00'")
    (old,) = sql(path, "SELECT avg_utilization FROM workload_gpu_hourly_stats WHERE "
                       "workload_name = 'llm-eval-server' AND datetime(stat_hour) = "
                       "'2026-11-19 11:00:00'")[0]
    sql(path, busy, 55.0)
    assert "user_b" not in expected_idle(path)
    r = n.run(NOW + H)
    assert r.exit_code == 0, r
    assert "user_b: no longer idle; starts over at notice 1" in r.stdout
    assert sum(recipients(m.message)[0] == [addr("user_b")] for m in smtp.messages) == 1
    idle_again = sql(path, busy, old)  # idle again: a new spell, a first notice again
    assert idle_again == []
    assert n.run(NOW + 2 * H).exit_code == 0
    to_b = [m.message for m in smtp.messages if recipients(m.message)[0] == [addr("user_b")]]
    assert [("(notice 1 of 3)" in m["Subject"]) for m in to_b] == [True, True]
    assert to_b[0]["Message-ID"] != to_b[1]["Message-ID"]
    with open_state(n.state_url) as db:
        (state,) = [s for s in store.list_states(db, "idle-nudges") if s.user == "user_b"]
    assert (state.episode, state.level) == (2, 1)


def test_users_without_an_address_are_recorded_and_listed_by_the_dry_run(
        tmp_path, demo_store, smtp):
    n = Nudges(tmp_path, demo_store.url, smtp.port, address_pattern=None)
    n.write(users={"olivia": ["olivia@research.example.com"]})
    dry = n.run(NOW, "--dry-run")
    assert dry.exit_code == 0, dry
    assert "would nudge 5 user(s) (dry run)" in dry.stdout
    assert "olivia: notice 1 of 3 (idle now, not told yet in this idle spell)" in dry.stdout
    assert "to: olivia@research.example.com" in dry.stdout
    walter = dry.stdout.split("  walter:")[1]
    assert "no address for this user" in walter.splitlines()[1]
    assert smtp.messages == [] and n.notices() == []  # a dry run sends and records no notice

    assert n.run(NOW).exit_code == 0
    assert [recipients(m.message)[0] for m in smtp.messages] == [
        ["olivia@research.example.com"]]
    statuses = {(x.user, x.status) for x in n.notices()}
    assert statuses == {("olivia", "sent"), ("mallory", "no_address"), ("peggy", "no_address"),
                        ("user_b", "no_address"), ("walter", "no_address")}
    # nobody could be told: the escalation reaches the owners, then the platform
    assert n.run(NOW + H).exit_code == 0
    owners = [m.message for m in smtp.messages if recipients(m.message)[0] == [ML_OWNERS]]
    assert len(owners) == 1 and "user_b" in owners[0]["Subject"]


def test_slack_direct_messages_and_the_team_channel(tmp_path, demo_store):
    expected = expected_idle(demo_store.path)
    with slack_api() as slack:
        ids = {u: slack.add_user(addr(u)).id for u in expected}
        ml = slack.add_channel("ml-gpu")
        n = Nudges(tmp_path, demo_store.url, None, via=["slack"])
        n.write(slack={"bot_token": slack.token, "api_url": slack.api_url(), "retries": 0},
                teams={"ml-team": {"slack": "#ml-gpu"}})
        assert n.run(NOW).exit_code == 0
        dms = {slack.dms[p.channel]: p for p in slack.posts}
        assert set(dms) == set(ids.values())  # one DM per idle user, nobody else
        for user, workloads in expected.items():
            text = str(dms[ids[user]].blocks) + str(dms[ids[user]].text)
            for (cluster, ns, w), idle in workloads.items():
                assert f"{cluster}/{ns}/{w}" in text and f"{idle:,.1f} idle GPU-hours" in text
        r = n.run(NOW + H)  # 2nd notice: user_b's DM again and ml-team's channel
        assert r.exit_code == 0, r
        assert [p for p in slack.posts if p.channel == ml.id][0].text.startswith(
            "Idle GPUs held by user_b (notice 2 of 3)")
        assert slack.violations == []
    assert {(x.user, x.level, x.route) for x in n.notices() if x.user == "user_b"} == {
        ("user_b", 1, f"slack:{addr('user_b')}"), ("user_b", 2, f"slack:{addr('user_b')}"),
        ("user_b", 2, "slack:#ml-gpu")}


def test_an_unreachable_data_source_fails_the_run_in_one_line_and_changes_nothing(
        tmp_path, smtp):
    n = Nudges(tmp_path, f"sqlite:///{tmp_path / 'missing' / 'lens.db'}", smtp.port)
    before = REGISTRY.get_sample_value("gpureport_report_runs_total",
                                       {"schedule": "idle-nudges", "outcome": "failed"}) or 0
    r = n.run(NOW)
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1, r
    assert r.error_line().startswith("error: ")
    with open_state(n.state_url) as db:
        (record,) = db.list_runs(5, "idle-nudges")
        assert record.status == "failed" and record.error
        assert store.list_states(db) == [] and n.notices() == []
    assert smtp.messages == []
    assert REGISTRY.get_sample_value("gpureport_report_runs_total", {
        "schedule": "idle-nudges", "outcome": "failed"}) == before + 1


def test_the_third_notice_reaches_the_platform_webhook_without_storing_its_secret(
        tmp_path, demo_store, smtp):
    with slack_api() as slack:
        hook = slack.add_hook(slack.add_channel("gpu-platform"))
        n = Nudges(tmp_path, demo_store.url, smtp.port,
                   escalate_to=[PLATFORM, f"slack-webhook:{hook}"])
        for i in range(3):
            assert n.run(NOW + i * H).exit_code == 0
        titles = sorted(p["text"].split(" (notice")[0] for _, p in slack.hook_posts)
        assert titles == [f"Idle GPUs held by {u}" for u in sorted(expected_idle(
            demo_store.path))]  # one post per user, at the third notice only
    secret = hook.rsplit("/", 1)[1]
    hooks = [x for x in n.notices() if x.channel == "slack_webhook"]
    assert {x.level for x in hooks} == {3} and all(x.status == "sent" for x in hooks)
    assert all(secret not in x.target and secret not in x.route for x in hooks)


@pytest.mark.slow  # > 4 s: .ci/run runs it with the slow tests (default suite ≤ 4 min)
def test_concurrent_runs_send_one_notice_per_user_and_level(tmp_path, demo_store, smtp):
    n = Nudges(tmp_path, demo_store.url, smtp.port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "GPUREPORT_NOW"))}
    env.update(PYTHONPATH=str(ROOT), GPUREPORT_HOME=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-m", "reporter.cli", "--config", str(n.path),
                               "--now", at(NOW), "run", "idle-nudges"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
             for _ in range(4)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    to = sorted(recipients(m.message)[0][0] for m in smtp.messages)
    assert to == sorted(addr(u) for u in expected_idle(demo_store.path))  # one each
    with open_state(n.state_url) as db, db.engine.connect() as c:
        statuses = sorted(r.status for r in c.execute(select(runs)))
    # one run did the work; the others found it busy or found everyone told already
    assert statuses.count("succeeded") + statuses.count("skipped") == 4
    assert len(n.notices()) == 5


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_notice_route_is_claimed_once_in_the_state_database(tmp_path, request, database):
    url = (f"sqlite:///{tmp_path / 's.db'}" if database == "sqlite"
           else request.getfixturevalue("pg_url"))
    with open_state(url) as db:
        args = dict(run_id=None, schedule="s", user="u", episode=1, level=1, route="email",
                    channel="email", target="u@example.com", workloads=[], idle_gpu_hours=1.0,
                    now=NOW)
        first = store.claim_notice(db, **args)
        assert first is not None and store.claim_notice(db, **args) is None
        store.finish_notice(db, first, "failed", error="connection refused", now=NOW)
        retry = store.claim_notice(db, **args)  # a failed send is taken again, once
        assert retry == first and store.claim_notice(db, **args) is None


def test_the_scheduler_fires_nudge_schedules_as_jobs(tmp_path, demo_store, smtp):
    n = Nudges(tmp_path, demo_store.url, smtp.port, cron="15 * * * *")
    config = Config.model_validate(n.config)
    with open_state(n.state_url) as db:
        jobs = [j for j in nudge_jobs(config, db) if j.id.startswith("nudge:")]
        assert [j.id for j in jobs] == ["nudge:idle-nudges"]
        jobs[0].run(NOW + timedelta(minutes=15))  # what the scheduler calls at a firing
        (record,) = list(db.list_runs(5, "idle-nudges"))
    assert (record.kind, record.trigger, record.status) == ("nudge", "scheduler", "succeeded")
    assert len(smtp.messages) == 5


def test_the_cost_of_idle_gpu_hours_is_shown_only_with_a_price():
    user = _user("user_b", "llm-eval-server")
    schedule = NudgeSchedule(name="n")
    assert "Cost" not in compose(user, 1, schedule, Config()).text
    priced = Config(prices=Prices(default_per_gpu_hour=2.5, currency="EUR",
                                  clusters={"gpu-east": 3.0}))
    text = compose(user, 1, schedule, priced).text
    assert "Cost of the idle GPU-hours: 141.90 EUR" in text  # 47.3 idle GPU-hours x 3.0


def _user(name: str, workload: str, ns: str = "ml-team", kind: str = "PyTorchJob") -> IdleUser:
    w = IdleWorkload("gpu-east", ns, workload, kind, 8, 48, 47.3, 1.4, 6, NOW - 6 * H, NOW)
    return IdleUser(name, [w])


def test_chinese_notices_and_names_from_the_data_are_escaped_and_quoted():
    schedule = NudgeSchedule(name="n", language="zh")
    config = Config()
    hostile = _user("eve<b>", "x;rm -rf ~<script>", kind="Deployment")
    notice = compose(hostile, 2, schedule, config)
    assert "第 2/3 次提醒" in notice.subject and "空闲 GPU 小时" in notice.text
    assert "<script>" not in notice.html and "&lt;script&gt;" in notice.html
    assert "eve&lt;b&gt;" in notice.html
    assert kubectl_hint(hostile.workloads[0]) == \
        "kubectl -n ml-team scale deployment/'x;rm -rf ~<script>' --replicas=0"
    assert kubectl_hint(_user("a", "train", kind="PyTorchJob").workloads[0]) == \
        "kubectl -n ml-team delete pytorchjob train"


def test_an_unsafe_user_name_never_becomes_an_address():
    schedule = NudgeSchedule(name="n", address_pattern="{user}@example.com", via=["email"])
    config = Config.model_validate({"teams": {"ml-team": {"email": [ML_OWNERS]}}})
    rec = recipients_for("bob@evil.example,x", ["ml-team"], 2, config, schedule)
    assert rec.to == [] and not rec.user_reachable and rec.cc == [ML_OWNERS]
    rec = recipients_for("alice", ["ml-team"], 1, config, schedule)
    assert rec.to == ["alice@example.com"] and rec.cc == []
    slack = NudgeSchedule(name="n", address_pattern="{user}@example.com", via=["slack"])
    assert recipients_for("alice", [], 1, config, slack).chats == [
        Destination("slack", "alice@example.com")]


@pytest.mark.parametrize("change, error", [
    ({"hours": 0}, "hours: Input should be greater than or equal to 1"),
    ({"repeat_after": "soon"}, "repeat_after: 'soon' is not a duration"),
    ({"repeat_after": 24}, "repeat_after: 24 has no unit (write e.g. 24s, 24m or 24h)"),
    ({"address_pattern": "{user}"}, "address_pattern: expected an address with one {user}"),
    ({"escalate_to": ["pager"]}, "escalate_to: 'pager'...: expected an email address"),
    ({"via": ["sms"]}, "via.0: Input should be 'email' or 'slack'"),
])
def test_bad_nudge_schedules_fail_with_file_field_and_reason(tmp_path, change, error):
    sdir = tmp_path / "schedules"
    sdir.mkdir()
    (sdir / "idle-nudges.yaml").write_text(yaml.safe_dump({"kind": "nudge", **change}))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"schedules_dir": str(sdir)}))
    r = run("--config", cfg, "run", "idle-nudges", "--dry-run")
    assert r.exit_code == 1
    assert r.error_line().startswith(f"error: {sdir / 'idle-nudges.yaml'}: {error}"), r
