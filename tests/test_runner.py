"""One run of a schedule: period, rendering, SMTP delivery, run records, idempotency.

The renderer is ``tests.smtp_server.fake_render`` (small HTML, text and a real PDF), so these
tests exercise the runner and not the report engine: passed as ``render=``, or put in place of
the runner's default renderer where the command line is invoked. The SMTP server is a real
aiosmtpd.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import reporter.render.scheduled
import reporter.runner
from agent.errors import RunError
from agent.periods import parse_now
from reporter.config import Config
from reporter.runner import run_schedule
from reporter.schedules import ScheduleError, get_schedule, load_schedules, period_for
from reporter.statedb import open_state
from tests.conftest import NOW
from tests.smtp_server import DroppingServer, fake_render, smtp_server

SCHEDULE = """\
name: team-digest
cron: "0 7 * * 1"
timezone: Asia/Shanghai
reports: [weekly, namespace-drops]
clusters: [gpu-east]
formats: [html, pdf]
recipients: ["ML Leads <leads@example.com>", ops@example.org]
subject: "Digest {{ period_label }} for {{ clusters }}: {{ headline }}"
"""
# NOW = Thursday 2026-11-19 12:00 UTC = 20:00 in Shanghai; the last full ISO week there is
# W46: Monday 2026-11-09 00:00 +08:00 (= 2026-11-08 16:00 UTC) to Monday 2026-11-16 00:00 +08:00.
W46_START = datetime(2026, 11, 8, 16, 0, tzinfo=timezone.utc)
W46_END = datetime(2026, 11, 15, 16, 0, tzinfo=timezone.utc)


@pytest.fixture
def setup(home, tmp_path, monkeypatch):
    """A schedules dir with team-digest, a SQLite state database, and a config factory."""
    sdir = tmp_path / "schedules"
    sdir.mkdir()
    (sdir / "team.yaml").write_text(SCHEDULE)
    state_url = f"sqlite:///{tmp_path / 'state' / 'state.db'}"

    def config(port: int | None = None, **smtp) -> Config:
        return Config.model_validate({
            "state": {"database_url": state_url},
            "schedules_dir": str(sdir),
            "report_dir": str(tmp_path / "reports"),
            "smtp": {"host": "127.0.0.1" if port else None, "port": port or 587,
                     "starttls": False, "from": "gpureport@example.net", "retries": 0,
                     "retry_backoff": 0.05, "timeout": 5, **smtp},
        })

    return SimpleNamespace(config=config, state_url=state_url, sdir=sdir, tmp=tmp_path)


def _fake_default_renderer(monkeypatch) -> None:
    """The CLI renders with ``reporter.render.scheduled.render_for_schedule``: make that the
    fake one."""
    monkeypatch.setattr(reporter.render.scheduled, "render_for_schedule",
                        lambda schedule, period, out, config=None, now=None:
                        fake_render(schedule, period, out))


def _runs(state_url: str):
    with open_state(state_url) as db:
        return [(r, db.list_deliveries(r.id)) for r in reversed(db.list_runs(100))]


def test_run_renders_sends_and_records(setup):
    with smtp_server() as server:
        result = run_schedule(setup.config(server.port), "team-digest", now=NOW,
                              render=fake_render)
        (received,) = server.wait_for(1)

    assert result.status == "succeeded" and result.period.label == "2026-W46"
    msg = received.message
    assert msg["Subject"] == "Digest 2026-W46 for gpu-east: utilization 61.5%"
    assert received.rcpt_tos == ["leads@example.com", "ops@example.org"]
    assert msg["Message-ID"] == result.message_id
    assert "team-digest 2026-W46" in msg.get_body(("html",)).get_content()
    assert "team-digest 2026-W46" in msg.get_body(("plain",)).get_content()
    (pdf,) = [p for p in msg.iter_attachments()]
    assert pdf.get_filename() == "team-digest-2026-W46.pdf"
    assert pdf.get_content().startswith(b"%PDF-")

    ((run, deliveries),) = _runs(setup.state_url)
    assert (run.schedule, run.kind, run.status, run.trigger) == \
        ("team-digest", "weekly,namespace-drops", "succeeded", "cli")
    assert (run.period_start, run.period_end) == (W46_START, W46_END)
    assert run.message_id == result.message_id and run.error is None
    assert run.recipients == ["ML Leads <leads@example.com>", "ops@example.org"]
    out = setup.tmp / "reports" / "team-digest" / "2026-W46"
    assert run.files == [str(out / "report.html"), str(out / "report.pdf")]
    assert all(Path(f).is_file() for f in run.files)
    assert run.finished_at >= run.started_at and run.duration_s >= 0
    ((channel, target, status, mid),) = [(d.channel, d.target, d.status, d.message_id)
                                         for d in deliveries]
    assert (channel, target, status, mid) == \
        ("email", "leads@example.com, ops@example.org", "sent", result.message_id)


def test_same_period_twice_sends_once_and_force_sends_again(setup):
    with smtp_server() as server:
        cfg = setup.config(server.port)
        first = run_schedule(cfg, "team-digest", now=NOW, render=fake_render)
        # a day later it is still the same "last week" in Shanghai
        second = run_schedule(cfg, "team-digest", now=datetime(2026, 11, 20, 9, tzinfo=timezone.utc),
                              render=fake_render)
        assert len(server.wait_for(1)) == 1
        forced = run_schedule(cfg, "team-digest", now=NOW, render=fake_render, force=True)
        assert len(server.wait_for(2)) == 2
        time.sleep(0.2)
        assert len(server.messages) == 2

    assert (first.status, second.status, forced.status) == ("succeeded", "skipped", "succeeded")
    assert second.delivered_by == first.run_id and "--force" in second.summary()
    statuses = [(r.status, r.forced, len(d)) for r, d in _runs(setup.state_url)]
    assert statuses == [("succeeded", False, 1), ("skipped", False, 0), ("succeeded", True, 1)]


def test_failure_between_rendering_and_sending_records_failed_then_next_run_sends_once(
        setup, monkeypatch):
    def fail(**_message):
        raise RunError("injected failure between rendering and sending")

    with smtp_server() as server:
        cfg = setup.config(server.port)
        with monkeypatch.context() as m:  # the message cannot be built: nothing is sent
            m.setattr(reporter.runner, "build_message", fail)
            with pytest.raises(RunError, match="injected failure between rendering and sending"):
                run_schedule(cfg, "team-digest", now=NOW, render=fake_render)
        assert server.messages == []
        again = run_schedule(cfg, "team-digest", now=NOW, render=fake_render)
        third = run_schedule(cfg, "team-digest", now=NOW, render=fake_render)
        time.sleep(0.2)
        assert len(server.messages) == 1

    assert (again.status, third.status) == ("succeeded", "skipped")
    (failed, _), (ok, _), (skipped, _) = _runs(setup.state_url)
    assert failed.status == "failed" and "injected failure" in failed.error
    assert failed.message_id is None and failed.finished_at is not None
    assert len(failed.files) == 2  # what was rendered is still listed
    assert ok.status == "succeeded" and skipped.status == "skipped"


def test_a_run_killed_midway_is_closed_by_the_next_run(setup):
    """A process killed outright leaves ``running``; the next run closes it and sends once."""
    sched = get_schedule("team-digest", setup.sdir)
    period = period_for(sched, NOW)
    with open_state(setup.state_url) as db:
        crashed = db.start_run(schedule="team-digest", kind=sched.kind,
                               period_start=period.start_utc, period_end=period.end_utc)
    with smtp_server() as server:
        result = run_schedule(setup.config(server.port), "team-digest", now=NOW,
                              render=fake_render)
        assert len(server.wait_for(1)) == 1
    (old, _), (new, _) = _runs(setup.state_url)
    assert old.id == crashed and old.status == "failed" and "abandoned" in old.error
    assert new.id == result.run_id and new.status == "succeeded"


def test_smtp_down_retries_then_records_failed_and_cli_exits_1(setup, monkeypatch):
    from reporter.commands_schedule import run as run_cmd

    _fake_default_renderer(monkeypatch)
    down = DroppingServer()
    try:
        cfg = setup.config(down.port, retries=2, retry_backoff=0.05)
        app = SimpleNamespace(config=cfg, now=NOW, verbose=0, tz=None)
        res = CliRunner().invoke(run_cmd, ["team-digest"], obj=app)
        time.sleep(0.1)
        assert down.connections == 3  # first attempt + 2 retries
    finally:
        down.close()
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "failed after 3 attempts" in lines[0] and "Traceback" not in res.output
    ((run, deliveries),) = _runs(setup.state_url)
    assert run.status == "failed" and "server closed the connection" in run.error
    assert [(d.channel, d.status) for d in deliveries] == [("email", "failed")]
    assert deliveries[0].error == run.error


def test_unset_smtp_host_is_a_recorded_failure_that_points_to_dry_run(setup):
    with pytest.raises(RunError, match="smtp.host is not set.*--dry-run"):
        run_schedule(setup.config(None), "team-digest", now=NOW, render=fake_render)
    ((run, _),) = _runs(setup.state_url)
    assert run.status == "failed"


def test_dry_run_writes_eml_and_does_not_count_as_delivered(setup):
    import email
    import email.policy

    cfg = setup.config(None)  # no SMTP server needed
    dry = run_schedule(cfg, "team-digest", now=NOW, render=fake_render, dry_run=True)
    assert dry.status == "succeeded" and dry.eml is not None
    assert dry.eml == setup.tmp / "reports" / "team-digest" / "2026-W46" / \
        "team-digest-2026-W46.eml"
    msg = email.message_from_bytes(dry.eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Digest 2026-W46 for gpu-east: utilization 61.5%"
    assert msg["To"] == "ML Leads <leads@example.com>, ops@example.org"
    assert [p.get_content_type() for p in msg.walk()][-1] == "application/pdf"
    assert str(dry.eml) in dry.summary()

    with smtp_server() as server:
        real = run_schedule(setup.config(server.port), "team-digest", now=NOW,
                            render=fake_render)
        assert real.status == "succeeded" and len(server.wait_for(1)) == 1
    (d_run, d_del), _ = _runs(setup.state_url)
    assert d_run.dry_run is True and d_run.files[-1] == str(dry.eml)
    assert [(d.channel, d.target) for d in d_del] == [("file", str(dry.eml))]


def test_pdf_is_attached_only_when_the_schedule_asks_for_it(setup):
    (setup.sdir / "team.yaml").write_text(SCHEDULE.replace("formats: [html, pdf]", "formats: [html]"))
    with smtp_server() as server:
        run_schedule(setup.config(server.port), "team-digest", now=NOW, render=fake_render)
        (received,) = server.wait_for(1)
    assert list(received.message.iter_attachments()) == []


def test_sigterm_during_a_cli_run_is_recorded_as_failed(setup):
    from reporter.runner import signals_as_exceptions

    def render_then_get_killed(schedule, period, out):
        rendered = fake_render(schedule, period, out)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this
        return rendered

    with smtp_server() as server:
        with signals_as_exceptions(), pytest.raises(RunError, match="interrupted by SIGTERM"):
            run_schedule(setup.config(server.port), "team-digest", now=NOW,
                         render=render_then_get_killed)
        assert server.messages == []
    ((run, _),) = _runs(setup.state_url)
    assert run.status == "failed" and run.error == "interrupted by SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_cli_run_prints_one_summary_line(setup, monkeypatch):
    from reporter.commands_schedule import run as run_cmd

    _fake_default_renderer(monkeypatch)
    with smtp_server() as server:
        app = SimpleNamespace(config=setup.config(server.port), now=NOW, verbose=0, tz=None)
        first = CliRunner().invoke(run_cmd, ["team-digest"], obj=app)
        again = CliRunner().invoke(run_cmd, ["team-digest"], obj=app)
    assert first.exit_code == 0 and again.exit_code == 0
    assert first.stdout.startswith("team-digest 2026-W46: sent to 2 recipients, message-id <")
    assert again.stdout.startswith("team-digest 2026-W46: already delivered by run #1")


# ---------------------------------------------------------------------------------------------
# periods
def _schedule(tmp_path: Path, **fields) -> "object":
    from reporter.schedules import Schedule

    base = dict(name="s", cron="0 7 * * 1", reports=["weekly"], recipients=["a@example.com"])
    return Schedule(**{**base, **fields})


@pytest.mark.parametrize("now, tz, start, end, label", [
    # Thursday in UTC -> the previous Monday..Monday
    ("2026-11-19T12:00:00Z", "UTC", "2026-11-09T00:00:00+00:00", "2026-11-16T00:00:00+00:00", "2026-W46"),
    # Sunday 19:00 UTC is already Monday 03:00 in Shanghai: last week there is W46, not W45
    ("2026-11-15T19:00:00Z", "Asia/Shanghai", "2026-11-09T00:00:00+08:00", "2026-11-16T00:00:00+08:00", "2026-W46"),
    ("2026-11-15T19:00:00Z", "UTC", "2026-11-02T00:00:00+00:00", "2026-11-09T00:00:00+00:00", "2026-W45"),
    # a Monday exactly at midnight: the week that just ended
    ("2026-11-16T00:00:00Z", "UTC", "2026-11-09T00:00:00+00:00", "2026-11-16T00:00:00+00:00", "2026-W46"),
    # ISO week 53 of 2026 spans the new year
    ("2027-01-05T08:00:00Z", "UTC", "2026-12-28T00:00:00+00:00", "2027-01-04T00:00:00+00:00", "2026-W53"),
])
def test_weekly_period_is_the_last_full_iso_week_in_the_schedule_zone(tmp_path, now, tz, start,
                                                                     end, label):
    p = period_for(_schedule(tmp_path, timezone=tz), parse_now(now))
    assert (p.start.isoformat(), p.end.isoformat(), p.label) == (start, end, label)


def test_daily_period_is_yesterday_and_respects_dst(tmp_path):
    s = _schedule(tmp_path, timezone="Europe/Berlin", period="yesterday")
    p = period_for(s, parse_now("2026-03-30T10:00:00Z"))  # the day after the spring change
    assert p.label == "2026-03-29"
    assert p.start.isoformat() == "2026-03-29T00:00:00+01:00"
    assert p.end.isoformat() == "2026-03-30T00:00:00+02:00"
    assert (p.end_utc - p.start_utc).total_seconds() == 23 * 3600


def test_interval_period_runs_from_the_previous_firing_to_the_current_one(tmp_path):
    s = _schedule(tmp_path, cron="*/5 * * * * *", period="interval")
    p = period_for(s, parse_now("2026-11-19T12:00:07Z"))
    assert (p.start_utc.isoformat(), p.end_utc.isoformat()) == \
        ("2026-11-19T12:00:00+00:00", "2026-11-19T12:00:05+00:00")
    weekly = _schedule(tmp_path, cron="0 7 * * 1", period="interval")
    p = period_for(weekly, parse_now("2026-11-19T12:00:00Z"))
    assert (p.start_utc.isoformat(), p.end_utc.isoformat()) == \
        ("2026-11-09T07:00:00+00:00", "2026-11-16T07:00:00+00:00")


def test_now_comes_from_gpureport_now_when_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUREPORT_NOW", "2026-11-19T12:00:00Z")
    assert period_for(_schedule(tmp_path)).label == "2026-W46"


def test_cron_day_of_week_numbers_follow_standard_cron(tmp_path):
    """0 and 7 are Sunday (APScheduler 3 alone would take 0 as Monday)."""
    now = parse_now("2026-11-19T12:00:00Z")  # a Thursday
    assert _schedule(tmp_path, cron="0 7 * * 0").next_fire(now).strftime("%a %d") == "Sun 22"
    assert _schedule(tmp_path, cron="0 7 * * 7").next_fire(now).strftime("%a %d") == "Sun 22"
    assert _schedule(tmp_path, cron="0 7 * * 1").next_fire(now).strftime("%a %d") == "Mon 23"
    assert _schedule(tmp_path, cron="0 7 * * 5-6").next_fire(now).strftime("%a %d") == "Fri 20"


# ---------------------------------------------------------------------------------------------
# schedule files
def test_shipped_schedules_load(home):
    schedules = load_schedules()
    assert {"weekly-digest", "daily-idle-report"} <= set(schedules)
    weekly = schedules["weekly-digest"]
    assert weekly.period == "last-week" and "weekly" in weekly.reports
    assert schedules["daily-idle-report"].period == "yesterday"


def test_user_schedule_with_same_name_replaces_the_shipped_one(tmp_path):
    (tmp_path / "w.yaml").write_text(SCHEDULE.replace("team-digest", "weekly-digest"))
    assert load_schedules(tmp_path)["weekly-digest"].recipients[1] == "ops@example.org"


def test_alert_rules_file_is_not_a_schedule(tmp_path):
    (tmp_path / "alerts.yaml").write_text("rules: []\n")
    (tmp_path / "team.yaml").write_text(SCHEDULE)
    assert "alerts" not in load_schedules(tmp_path)


@pytest.mark.parametrize("change, field, reason", [
    (("0 7 * * 1", "61 7 * * 1"), "cron", "invalid expression '61 7 * * 1'"),
    (("0 7 * * 1", "0 7 * *"), "cron", "expected 5 fields"),
    (("reports: [weekly, namespace-drops]", "reports: [weekly, gpu-poetry]"), "reports.1",
     "unknown report kind 'gpu-poetry' (known: weekly, namespace-drops, root-cause, idle)"),
    (("Asia/Shanghai", "Mars/Olympus_Mons"), "timezone", "unknown time zone 'Mars/Olympus_Mons'"),
    (('recipients: ["ML Leads <leads@example.com>", ops@example.org]\n', ""), "recipients",
     "at least one recipient is required"),
    (('recipients: ["ML Leads <leads@example.com>", ops@example.org]', "recipients: []"),
     "recipients", "at least one recipient is required"),
    (("ops@example.org", "not-an-address"), "recipients", "'not-an-address' is not an email address"),
    (("formats: [html, pdf]", "formats: [docx]"), "formats.0", "Input should be 'html' or 'pdf'"),
    (("name: team-digest", "name: Team Digest"), "name", "lowercase letters"),
    (('subject: "Digest', 'subject: "{{ oops'), "subject", "template error"),
    (("clusters: [gpu-east]", "clusters: [gpu-east]\ncolour: blue"), "colour",
     "Extra inputs are not permitted"),
])
def test_invalid_schedule_files_name_the_file_field_and_reason(tmp_path, change, field, reason):
    path = tmp_path / "team.yaml"
    path.write_text(SCHEDULE.replace(*change))
    with pytest.raises(ScheduleError) as info:
        load_schedules(tmp_path)
    assert str(info.value).startswith(f"{path}: {field}: ")
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_yaml_and_duplicates_and_unknown_names(tmp_path):
    (tmp_path / "a.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ScheduleError, match=r"a\.yaml: line \d+: not valid YAML"):
        load_schedules(tmp_path)
    (tmp_path / "a.yaml").write_text(SCHEDULE)
    (tmp_path / "b.yaml").write_text(SCHEDULE)
    with pytest.raises(ScheduleError, match=r"b\.yaml: name: schedule 'team-digest' is also "
                                            r"defined in .*a\.yaml"):
        load_schedules(tmp_path)
    (tmp_path / "b.yaml").unlink()
    with pytest.raises(ScheduleError, match="unknown schedule 'team-digets'.*did you mean "
                                            "'team-digest'"):
        get_schedule("team-digets", tmp_path)
    with pytest.raises(ScheduleError, match="schedules_dir: .* is not a directory"):
        load_schedules(tmp_path / "missing")


def test_cli_reports_a_bad_schedule_file_in_one_line(setup):
    from reporter.commands_schedule import run as run_cmd

    (setup.sdir / "team.yaml").write_text(SCHEDULE.replace("Asia/Shanghai", "Nowhere/City"))
    app = SimpleNamespace(config=setup.config(None), now=NOW, verbose=0, tz=None)
    res = CliRunner().invoke(run_cmd, ["team-digest"], obj=app)
    assert res.exit_code == 1
    assert res.stderr.strip() == (f"error: {setup.sdir / 'team.yaml'}: timezone: unknown time "
                                  f"zone 'Nowhere/City' (use an IANA name such as "
                                  f"'Europe/Berlin' or 'UTC')")


def test_subject_cannot_inject_headers(tmp_path):
    from reporter.schedules import render_subject

    s = _schedule(tmp_path, subject="{{ headline }}")
    p = period_for(s, NOW)
    assert render_subject(s, p, {"headline": "a\r\nBcc: x@evil.example"}) == \
        "a Bcc: x@evil.example"


# ---------------------------------------------------------------------------------------------
@pytest.mark.slow  # > 4 s: .ci/run runs it with the slow tests (default suite ≤ 4 min)
def test_run_dry_run_end_to_end_with_the_real_renderer(home):
    """``gpureport demo`` then ``gpureport run weekly-digest --dry-run`` as processes (README quick start)."""
    import subprocess
    import sys
    from importlib.util import find_spec

    if find_spec("reporter.reports") is None:
        pytest.skip("reporter.reports (the report engine) is not in this tree yet")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    base = [sys.executable, "-m", "reporter.cli", "--now", "2026-11-19T12:00:00Z"]
    demo = subprocess.run([*base, "demo", "--seed", "7", "--reset"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    run = subprocess.run([*base, "run", "weekly-digest", "--dry-run"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("weekly-digest 2026-W46: dry run, message written to ")
    eml = next(home.glob("reports/weekly-digest/2026-W46/*.eml"))
    import email
    import email.policy

    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"].startswith("GPU weekly digest 2026-W46")
    types = [p.get_content_type() for p in msg.walk()]
    assert types[:4] == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html"]
    assert "application/pdf" in types


# ---------------------------------------------------------------------------------------------
# claims and uncertain deliveries (issue 11); processes racing each other: tests/test_overlap.py
def _history(setup, *args: str):
    from reporter.commands_schedule import history

    app = SimpleNamespace(config=setup.config(None), now=NOW, verbose=0, tz=None)
    return CliRunner().invoke(history, list(args), obj=app)


@pytest.mark.slow  # > 4 s: .ci/run runs it with the slow tests (default suite ≤ 4 min)
def test_smtp_answering_after_the_timeout_is_uncertain_and_never_resent(setup):
    from reporter.delivery import message_id_for

    with smtp_server(answer_delay=2.5) as slow:
        cfg = setup.config(slow.port, timeout=1, retries=3, retry_backoff=0.05)
        with pytest.raises(RunError) as info:
            run_schedule(cfg, "team-digest", now=NOW, render=fake_render)
        message = str(info.value)
        assert "the connection failed after the message data was sent" in message
        assert "it may or may not have been delivered" in message and "\n" not in message
        assert "`gpureport --now 2026-11-15T16:00:00Z run team-digest --force`" in message
        time.sleep(3)  # the server has answered by now: no second attempt arrived meanwhile
        assert len(slow.messages) == 1
        expected = message_id_for("team-digest", W46_START, W46_END,
                                  ["leads@example.com", "ops@example.org"], 1)
        assert slow.messages[0].message["Message-ID"] == expected and expected in message
        assert info.value.result.status == "uncertain"

        later = run_schedule(cfg, "team-digest", now=NOW, render=fake_render)
        assert later.status == "skipped" and later.refused.reason == "uncertain"
        assert "may or may not have arrived" in later.summary() and "--force" in later.summary()
        time.sleep(0.2)
        assert len(slow.messages) == 1

    (run, (delivery,)), (skipped, _) = _runs(setup.state_url)
    assert run.status == "uncertain" and run.message_id == expected
    assert (delivery.status, delivery.message_id) == ("uncertain", expected)
    assert skipped.status == "skipped"
    shown = _history(setup)
    assert shown.exit_code == 0, shown.output
    assert " uncertain " in shown.stdout
    assert f"email uncertain" in shown.stdout and expected in shown.stdout

    with smtp_server() as fast:  # the operator checked: it never arrived; --force sends anew
        # the --now the error line suggests selects the same period, a week later too
        forced = run_schedule(setup.config(fast.port), "team-digest",
                              now=parse_now("2026-11-15T16:00:00Z"), render=fake_render,
                              force=True)
        (received,) = fast.wait_for(1)
    assert forced.period.label == "2026-W46"
    assert forced.status == "succeeded" and received.message["Message-ID"] != expected
    assert received.message["Message-ID"] == message_id_for(
        "team-digest", W46_START, W46_END, ["leads@example.com", "ops@example.org"], 2)


def test_the_heartbeat_keeps_a_slow_run_its_claim(setup):
    """Rendering outlasts the lease twice over; a rival arriving then still finds it held."""
    from reporter.statedb.claims import Holder, RunSpec, claim_delivery

    rival = []

    def slow_render(schedule, period, out):
        time.sleep(2.5)  # lease 1 s: renewed every 0.25 s meanwhile
        with open_state(setup.state_url) as db:
            rival.append(claim_delivery(db, RunSpec(schedule.name, schedule.kind,
                                                    period.start_utc, period.end_utc),
                                        holder=Holder(1, "rival")))
        return fake_render(schedule, period, out)

    with smtp_server() as server:
        cfg = setup.config(server.port)
        cfg.state.claim_lease_s = 1
        result = run_schedule(cfg, "team-digest", now=NOW, render=slow_render)
        assert len(server.wait_for(1)) == 1
    (refused,) = rival
    assert refused.reason == "busy" and refused.by_run == result.run_id
    assert result.status == "succeeded" and result.took_over is None


def test_a_run_that_lost_its_claim_sends_nothing(setup):
    """Stalled past its lease (here: the rival's clock is later), a run is taken over; at DATA
    it finds out and sends nothing, and the one that took over delivers."""
    from reporter.statedb.claims import Claim, Holder, RunSpec, claim_delivery

    taken = []

    def render_and_be_overtaken(schedule, period, out):
        with open_state(setup.state_url) as db:
            later = datetime.now(timezone.utc) + timedelta(seconds=3600)
            taken.append(claim_delivery(db, RunSpec(schedule.name, schedule.kind,
                                                    period.start_utc, period.end_utc),
                                        holder=Holder(1, "rival"), now=later))
        return fake_render(schedule, period, out)

    with smtp_server() as server:
        with pytest.raises(RunError, match="lost the claim on team-digest 2026-W46.*nothing was "
                                           "sent"):
            run_schedule(setup.config(server.port), "team-digest", now=NOW,
                         render=render_and_be_overtaken)
        time.sleep(0.2)
        assert server.messages == []
    (claim,) = taken
    assert isinstance(claim, Claim) and claim.took_over is not None
    (lost, _), (rival, _) = _runs(setup.state_url)
    assert lost.status == "failed" and lost.error.startswith("lost the claim")
    assert rival.status == "running"


def test_a_sent_message_whose_record_failed_is_not_sent_again(setup, monkeypatch):
    """The one window no transaction closes (sent, then the record failed): the claim stays in
    the sending phase, and the run after its lease marks it uncertain instead of resending."""
    from agent.errors import StateError

    real_finish = reporter.runner.StateDB.finish_run

    def finish(self, run_id, status, **kw):
        if status == "succeeded":
            raise StateError("state database: connection lost")
        return real_finish(self, run_id, status, **kw)

    with smtp_server() as server:
        cfg = setup.config(server.port)
        cfg.state.claim_lease_s = 1
        with monkeypatch.context() as m:
            m.setattr(reporter.runner.StateDB, "finish_run", finish)
            m.setattr(reporter.runner, "_retrying", lambda fn, what: fn())
            with pytest.raises(RunError, match="recording run #1 failed"):
                run_schedule(cfg, "team-digest", now=NOW, render=fake_render)
        assert len(server.wait_for(1)) == 1
        time.sleep(1.2)  # the lease runs out
        later = run_schedule(cfg, "team-digest", now=NOW, render=fake_render)
        time.sleep(0.2)
        assert len(server.messages) == 1
    assert later.status == "skipped" and later.refused.reason == "uncertain"
    (first, (d,)), _ = _runs(setup.state_url)
    assert first.status == "uncertain" and d.status == "uncertain"
    assert d.message_id == server.messages[0].message["Message-ID"]


def test_a_run_taking_over_a_dead_holder_names_the_period_as_its_result_line_does(setup, caplog):
    """The warning that a run takes over a dead holder's claim and the run's own line name the
    run alike — "team-digest 2026-W46" — not by the period's first instant in UTC."""
    from reporter.statedb.claims import Holder, RunSpec, claim_delivery

    with open_state(setup.state_url) as db:  # killed an hour ago: its lease has long expired
        dead = claim_delivery(db, RunSpec("team-digest", "weekly,namespace-drops", W46_START,
                                          W46_END), holder=Holder(4242, "gone"), lease_s=30,
                              now=datetime.now(timezone.utc) - timedelta(hours=1))
    with smtp_server() as server, caplog.at_level("WARNING", logger="reporter"):
        result = run_schedule(setup.config(server.port), "team-digest", now=NOW,
                              render=fake_render)
        assert len(server.wait_for(1)) == 1
    assert result.status == "succeeded" and result.took_over == dead.run_id
    assert (f"team-digest 2026-W46: run #{dead.run_id} (pid 4242 on host gone) stopped renewing "
            f"its claim; run #{result.run_id} takes over") in caplog.messages
    assert result.summary().startswith("team-digest 2026-W46: ")
