"""Team digests (issue 14 items 1, 3, 4, 5; acceptance 1, 3, 4, 5).

A fan-out schedule sends every routed team its own digest — at a real aiosmtpd, to the fake
Slack Web API (files upload v2) and the fake Teams webhook — each holding only its team's
figures (checked against plain SQL on the store), with the complete tables as a CSV whose
totals equal the PDF's; exactly once per (schedule, period, team), also when several processes
run it at once. A store with a missing day blocks every digest and tells the admins instead
(or, with ``on_incomplete: send_with_warning``, sends them with a red banner).

The store is the session's Monday demo store (last week = 2026-W47, data up to Monday 06:00);
the gate's cases use a copy with one day of gpu-east deleted.
"""

from __future__ import annotations

import concurrent.futures as cf
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli import run_process
from tests.conftest import MONDAY_ISO
from tests.fakes.slack_api import slack_api
from tests.fakes.smtp import smtp_server
from tests.fakes.teams_webhook import card_problems, teams_webhook
from tests.team_digest_setup import attachments, csv_rows, gpureport, write_config

W47 = ("2026-11-16 00:00:00", "2026-11-23 00:00:00")
SCHEDULE = {
    "name": "team-digests", "cron": "30 7 * * 1", "period": "last-week",
    "reports": ["weekly", "root-cause"], "clusters": ["gpu-east"], "formats": ["html", "pdf"],
    "fan_out": "namespace", "admin": ["platform@example.com"],
    "subject": "GPU digest {{ team }} {{ period_label }}",
}


def namespace_sums(db: Path, namespace: str) -> tuple[float, float]:
    """(GPU-hours, GPU-hour weighted utilization %) of a gpu-east namespace in W47, by hand."""
    with sqlite3.connect(db) as con:
        alloc, weighted = con.execute(
            "SELECT SUM(allocated_gpu_count), SUM(allocated_gpu_count * avg_utilization) "
            "FROM namespace_gpu_hourly_stats WHERE cluster_name = 'gpu-east' AND namespace = ? "
            "AND stat_hour >= ? AND stat_hour < ?", (namespace, *W47)).fetchone()
    return alloc, weighted / alloc


def pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode("utf-8")


def setup(tmp: Path, db: Path, smtp_port: int, schedule: dict | None = None,
          teams: dict | None = None, slack_url: str | None = None) -> Path:
    return write_config(tmp, f"sqlite:///{db}", smtp_port, {**SCHEDULE, **(schedule or {})},
                        teams or {"ml-team": {"email": ["ml-leads@example.com"]}}, slack_url)


@pytest.fixture(scope="module")
def monday_db(monday_demo_store) -> Path:
    return monday_demo_store.path


# -- acceptance 1, 3, 4 -------------------------------------------------------------------------
def test_each_routed_team_gets_its_own_digest_by_email_slack_and_teams_exactly_once(
        monday_db, tmp_path):
    with smtp_server() as smtp, slack_api() as slack, teams_webhook() as hook:
        ml_gpu = slack.add_channel("ml-gpu")
        config = setup(tmp_path, monday_db, smtp.port, slack_url=slack.api_url(), teams={
            "ml-team": {"email": ["ml-leads@example.com"], "slack": "#ml-gpu"},
            "cv-team": {"email": ["cv@example.com"], "teams": hook.url()},
        })
        r = gpureport(tmp_path, config, "run", "team-digests")
        assert r.exit_code == 0, r
        # one message per routed team, to its own recipients; the unrouted teams are skipped
        # (no fan_out_default) and the output says why
        by_team = {m.message["Subject"].split()[2]: m for m in smtp.messages}
        assert sorted(by_team) == ["cv-team", "ml-team"]
        assert by_team["ml-team"].rcpt_tos == ["ml-leads@example.com"]
        assert by_team["cv-team"].rcpt_tos == ["cv@example.com"]
        assert ": not sent: no route in config teams" in r.stdout

        for team, m in by_team.items():
            gpu_hours, util = namespace_sums(monday_db, team)
            files = attachments(m.message)
            text = pdf_text(files[f"team-digests-2026-W47-{team}.pdf"])
            # only its team's figures: its utilization against gpu-east's, its GPU-hours
            assert f"{team}: average utilization {util:.1f}% vs" in text
            assert "for gpu-east" in text
            assert f"{gpu_hours:,.0f}" in text
            other = "cv-team" if team == "ml-team" else "ml-team"
            assert other not in text
            # the CSV: complete tables whose totals equal the PDF's GPU-hours
            rows = csv_rows(files[f"team-digests-2026-W47-{team}.csv"])
            users = [row for row in rows if row["level"] == "user"]
            assert sum(float(u["gpu_hours"]) for u in users) == pytest.approx(gpu_hours,
                                                                             abs=0.01)
            assert {row["level"] for row in rows} >= {"user", "idle_workload"}
            assert all(row["namespace"] in ("", team) for row in rows)

        # Slack: the upload v2 sequence into #ml-gpu with the PDF, the summary as the message
        assert not slack.violations
        methods = slack.methods()
        assert methods.index("files.getUploadURLExternal") < \
            methods.index("files.completeUploadExternal")
        (upload,) = slack.uploads.values()
        assert upload.filename == "team-digests-2026-W47-ml-team.pdf"
        assert "ml-team" in pdf_text(upload.data)
        (share,) = slack.shares
        assert share.channel == ml_gpu.id and "ml-team" in share.initial_comment
        # Teams: one valid Adaptive Card naming the team
        (card,) = hook.cards
        assert card_problems({"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}) == []
        assert "cv-team" in str(card)

        # a second run sends nothing: each team's digest was delivered
        again = gpureport(tmp_path, config, "run", "team-digests")
        assert again.exit_code == 0, again
        assert len(smtp.messages) == 2 and len(slack.shares) == 1 and len(hook.cards) == 1
        assert again.stdout.count("already delivered") == 2

    hist = gpureport(tmp_path, config, "history", "--json")
    runs = yaml.safe_load(hist.stdout)
    sent = {r["team"]: r for r in runs if r["status"] == "succeeded"}
    assert set(sent) == {"ml-team", "cv-team"}
    assert {d["channel"] for d in sent["ml-team"]["deliveries"]} == {"email", "slack"}
    assert {d["channel"] for d in sent["cv-team"]["deliveries"]} == {"email", "teams"}
    skipped = [r for r in runs if r["status"] == "skipped" and r["team"] not in sent]
    assert skipped and "no route" in skipped[0]["error"]


def test_a_dry_run_shows_every_teams_outcome_and_sends_nothing(monday_db, tmp_path):
    with smtp_server() as smtp:
        config = setup(tmp_path, monday_db, smtp.port, schedule={"formats": ["html"]})
        r = gpureport(tmp_path, config, "run", "team-digests", "--dry-run")
        assert r.exit_code == 0, r
        assert smtp.messages == []
    assert "team ml-team: dry run, message written to" in r.stdout
    folder = tmp_path / "reports" / "team-digests" / "2026-W47"
    assert (folder / "team-digests-2026-W47-ml-team.eml").exists()
    assert (folder / "team-digests-2026-W47-ml-team.csv").exists()


# -- exactly once under overlap (acceptance 1, the overlap style of tests/test_overlap.py) -------
def test_three_processes_at_once_send_one_digest_per_team(monday_db, tmp_path):
    with smtp_server() as smtp:
        config = setup(tmp_path, monday_db, smtp.port, schedule={"formats": ["html"]},
                       teams={"ml-team": {"email": ["ml@example.com"]},
                              "cv-team": {"email": ["cv@example.com"]}})
        env = {"GPUREPORT_HOME": str(tmp_path / "home"), "GPUREPORT_NOW": MONDAY_ISO}
        with cf.ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: run_process(
                "--config", config, "run", "team-digests", env=env, cwd=tmp_path,
                timeout=300), range(3)))
        assert all(r.exit_code == 0 for r in results), results
        subjects = sorted(str(m.message["Subject"]) for m in smtp.messages)
    assert subjects == ["GPU digest cv-team 2026-W47", "GPU digest ml-team 2026-W47"]


# -- the data-quality gate (acceptance 5) ------------------------------------------------------
@pytest.fixture
def missing_day(monday_db, tmp_path) -> Path:
    """The Monday store without gpu-east's rows of Wednesday 2026-11-18 (24 of W47's 168 h)."""
    db = tmp_path / "missing-day.db"
    shutil.copyfile(monday_db, db)
    with sqlite3.connect(db) as con:
        for table in ("cluster_gpu_hourly_stats", "namespace_gpu_hourly_stats",
                      "label_gpu_hourly_stats", "workload_gpu_hourly_stats"):
            con.execute(f"DELETE FROM {table} WHERE cluster_name = 'gpu-east' "
                        "AND stat_hour >= '2026-11-18 00:00:00' "
                        "AND stat_hour < '2026-11-19 00:00:00'")
    return db


def test_a_missing_day_blocks_every_digest_and_tells_the_admins(missing_day, tmp_path):
    with smtp_server() as smtp:
        config = setup(tmp_path, missing_day, smtp.port, schedule={"formats": ["html"]})
        r = gpureport(tmp_path, config, "run", "team-digests")
        assert r.exit_code == 1
        (notice,) = smtp.messages
    assert notice.rcpt_tos == ["platform@example.com"]  # the admins, not the team
    body = notice.message.get_body(("plain",)).get_content()
    assert "digest not sent, data incomplete" in str(notice.message["Subject"])
    assert "gpu-east has data for 144 of the 168 hours of 2026-W47 (85.7 %" in body
    assert "blocked, not sent: data incomplete" in r.stdout
    runs = yaml.safe_load(gpureport(tmp_path, config, "history", "--json").stdout)
    assert [x["status"] for x in runs] == ["blocked"]


def test_send_with_warning_sends_the_digest_with_a_red_coverage_banner(missing_day, tmp_path):
    with smtp_server() as smtp:
        config = setup(tmp_path, missing_day, smtp.port,
                       schedule={"formats": ["html"], "on_incomplete": "send_with_warning"})
        r = gpureport(tmp_path, config, "run", "team-digests")
        assert r.exit_code == 0, r
        (digest,) = smtp.messages
    assert digest.rcpt_tos == ["ml-leads@example.com"]
    html = digest.message.get_body(("html",)).get_content()
    assert 'class="banner-incomplete"' in html
    assert "Data incomplete" in html and "144 of the 168 hours" in html


def test_fan_out_and_destinations_are_validated_with_the_file_and_field(tmp_path):
    from agent.errors import ScheduleError
    from reporter.schedules import load_schedules

    for change, field, reason in [
        ({"fan_out": "rack"}, "fan_out",
         "choose namespace, user, label:<key> or annotation:<key> (got 'rack')"),
        ({"fan_out": "label:"}, "fan_out", "(got 'label:')"),
        ({"destinations": ["irc:#gpu"]}, "destinations", "a chat destination is slack:"),
        ({"on_incomplete": "shrug"}, "on_incomplete", "'block' or 'send_with_warning'"),
        ({"fan_out": None}, "recipients", "at least one recipient is required"),
    ]:
        path = tmp_path / "team-digests.yaml"
        path.write_text(yaml.safe_dump({**SCHEDULE, **change}))
        with pytest.raises(ScheduleError) as info:
            load_schedules(tmp_path)
        assert str(info.value).startswith(f"{path}: {field}"), str(info.value)
        assert reason in str(info.value)


# -- one team's failure does not stop the others ------------------------------------------------
def test_one_teams_failed_destination_fails_only_that_team_and_tells_the_admins(
        monday_db, tmp_path):
    with smtp_server() as smtp, slack_api() as slack:
        config = setup(tmp_path, monday_db, smtp.port, slack_url=slack.api_url(),
                       schedule={"formats": ["html", "pdf"]}, teams={
                           "ml-team": {"email": ["ml@example.com"], "slack": "#no-such-channel"},
                           "cv-team": {"email": ["cv@example.com"]}})
        r = gpureport(tmp_path, config, "run", "team-digests")
        assert r.exit_code == 1  # a team failed
        to = sorted(tuple(m.rcpt_tos) for m in smtp.messages)
        notice = next(m for m in smtp.messages if m.rcpt_tos == ["platform@example.com"])
    # both teams got their email; the admins were told about ml-team's Slack post
    assert to == [("cv@example.com",), ("ml@example.com",), ("platform@example.com",)]
    assert "ml-team" in str(notice.message["Subject"])
    assert "no channel #no-such-channel that the app can see" in \
        notice.message.get_body(("plain",)).get_content()
    assert "team cv-team: sent to 1 recipient" in r.stdout
    assert "team ml-team: failed:" in r.stdout
    assert slack.shares == [] and not slack.violations


# -- a schedule without fan-out can post to chat too --------------------------------------------
def test_a_plain_digest_goes_to_slack_as_a_pdf_with_its_summary_without_smtp(
        monday_db, tmp_path):
    with slack_api() as slack:
        platform = slack.add_channel("gpu-platform")
        config = setup(tmp_path, monday_db, 1, slack_url=slack.api_url(), schedule={
            "name": "team-digests", "fan_out": None, "destinations": ["slack:#gpu-platform"],
            "subject": "GPU digest {{ period_label }}"})
        cfg = yaml.safe_load(config.read_text())
        del cfg["smtp"]  # nobody to email: no SMTP needed
        config.write_text(yaml.safe_dump(cfg))
        r = gpureport(tmp_path, config, "run", "team-digests")
        assert r.exit_code == 0, r
    (share,) = slack.shares
    (upload,) = slack.uploads.values()
    assert share.channel == platform.id and share.title == "GPU digest 2026-W47"
    assert upload.filename == "team-digests-2026-W47.pdf"
    assert "gpu-east" in pdf_text(upload.data) and "Average utilization" in share.initial_comment
    assert not slack.violations


# -- a digest per user ------------------------------------------------------------------------
def test_fan_out_by_user_sends_each_routed_user_their_workloads(monday_db, tmp_path):
    with sqlite3.connect(monday_db) as con:  # user_b's GPU-hours and utilization, by hand
        gpu_hours, util = con.execute(
            "SELECT SUM(allocated_gpu_count), SUM(allocated_gpu_count * avg_utilization) / "
            "SUM(allocated_gpu_count) FROM label_gpu_hourly_stats WHERE cluster_name = "
            "'gpu-east' AND dimension_type = 'annotation' AND dimension_value = 'user_b' "
            "AND stat_hour >= ? AND stat_hour < ?", W47).fetchone()
    with smtp_server() as smtp:
        config = setup(tmp_path, monday_db, smtp.port, schedule={"fan_out": "user"},
                       teams={"user_b": {"email": ["b@example.com"]}})
        r = gpureport(tmp_path, config, "run", "team-digests")
        assert r.exit_code == 0, r
        (m,) = smtp.messages
    assert m.rcpt_tos == ["b@example.com"] and "user_b" in str(m.message["Subject"])
    files = attachments(m.message)
    text = pdf_text(files["team-digests-2026-W47-user_b.pdf"])
    assert f"user_b: average utilization {util:.1f}% vs" in text and f"{gpu_hours:,.0f}" in text
    assert "Workloads, week over week" in text
    rows = csv_rows(files["team-digests-2026-W47-user_b.csv"])
    table = [row for row in rows if row["level"] == "workload" and row["gpu_hours"]]
    assert sum(float(w["gpu_hours"]) for w in table) == pytest.approx(gpu_hours, abs=0.01)
    assert all(row["user"] in ("", "user_b") for row in rows)
