"""Logging without secrets (issue 11, item 3 and acceptance 2).

* ``reporter.logs.redact`` on the shapes a secret takes in a log line;
* the redaction reaches every record — any logger, ``%``-arguments, exceptions, a handler a
  library adds after configuration — and third-party HTTP loggers stay at WARNING at ``-vv``;
* acceptance 2: ``gpureport scheduler run`` (a real process firing a schedule and the alert
  check) and ``gpureport alerts check``, at ``-v`` and ``-vv``, with a Slack webhook token, an
  Alertmanager basic-auth URL, an SMTP password and a PostgreSQL password configured: none of
  them appears in stdout, stderr or any file the runs wrote.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from reporter import logs
from tests.cli import run
from tests.conftest import NOW_ISO, PG_ADMIN_URL
from tests.fakes.alertmanager import available as am_available
from tests.fakes.alertmanager import running_alertmanager
from tests.fakes.slack_webhook import webhook_server
from tests.fakes.smtp import smtp_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("line, secret, kept", [
    ("POST http://127.0.0.1:8080/services/T000/B000/s3cr3tT0ken \"HTTP/1.1 200 OK\"",
     "s3cr3tT0ken", "http://127.0.0.1:8080/services/***"),
    ("HTTP Request: POST http://admin:hunter22@am:9093/api/v2/alerts", "hunter22",
     "http://am:9093/api/v2/alerts"),
    ("state database postgresql+psycopg://gp:PgPass99@db:5432/state", "PgPass99",
     "postgresql+psycopg://gp:***@db:5432/state"),
    ("headers {'Authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.abc'}", "eyJhbGciOiJIUzI1NiJ9",
     "'Authorization': 'Bearer ***"),
    ("Authorization: Basic YWRtaW46aHVudGVyMg==", "YWRtaW46aHVudGVyMg", "Authorization: Basic ***"),
    ("login with password=hunter22 failed", "hunter22", "password=***"),
    ('{"api_key": "sk-abcdefghijklmnopqrstu"}', "abcdefghijklmnop", '"api_key": "***'),
    ("slack token xoxb-123456-abcdef in config", "123456-abcdef", "xoxb-***"),
    ("smtp_password: Zebra-Pass", "Zebra-Pass", "smtp_password: ***"),
    ("retrying /services/T0AB/B0CD/tok3nValue in 2 s", "tok3nValue", "/services/***"),
    ("dsn=host=db user=gp password=Secr3t dbname=x", "Secr3t", "password=***"),
    ("webhook https://hooks.example/x?token=abc123&team=ml", "abc123", "team=ml"),
])
def test_redact_masks_each_shape_and_keeps_the_rest(line, secret, kept):
    out = logs.redact(line)
    assert secret not in out and kept in out, out


def test_ordinary_lines_are_left_alone():
    for line in ("scheduling 2 job(s) as host:123: schedule:weekly-digest, alerts:check",
                 "weekly-digest 2026-W46: sent to 2 recipients, message-id <ab@gpureport>",
                 "max tokens: 5, keys: cluster, namespace", "http://127.0.0.1:9090/api/v1/query"):
        assert logs.redact(line) == line


def test_every_record_is_redacted_whatever_logger_handler_or_arguments(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    for name in (*logs.QUIET, "psycopg"):  # configure quiets them: give their levels back
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    logs.configure(2)
    late = io.StringIO()
    library = logging.getLogger("some.library")
    handler = logging.StreamHandler(late)  # a handler added after configure, by a library
    library.addHandler(handler)
    try:
        logs.add_secrets(["Unguessable-Pa55"])
        library.warning("connecting to %s with %s", "http://u:pw123456@h/x", "Unguessable-Pa55")
        try:
            raise RuntimeError("failed for https://h/services/T1/B2/tok3nSecretXYZ")
        except RuntimeError:
            library.exception("boom")
        text = late.getvalue()
        assert "pw123456" not in text and "Unguessable-Pa55" not in text
        assert "tok3nSecretXYZ" not in text and "services/***" in text
        assert "Traceback" in text  # the exception is still shown, redacted
        # third-party HTTP loggers stay at WARNING even at -vv; ours do not
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert not logging.getLogger("httpcore").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("urllib3").isEnabledFor(logging.INFO)
        assert logging.getLogger("reporter.runner").isEnabledFor(logging.DEBUG)
        assert all(logs.REDACTOR in h.filters for h in root.handlers)
    finally:
        library.removeHandler(handler)


# ---------------------------------------------------------------------------------------------
# acceptance 2
SLACK = "T0AB12CD/B0EF34GH/hookS3cretT0ken9876"
SECRETS = {"webhook token": "hookS3cretT0ken9876", "alertmanager password": "AmS3cretPassw0rd",
           "smtp password": "SmtpS3cretPassw0rd", "postgres password": "PgS3cretPassw0rd",
           "llm key": "sk-llmS3cretKey0123456789"}


def _pg_url_with_password(pg_url: str) -> str:
    user_host = PG_ADMIN_URL.split("://", 1)[1].split("/", 1)[0]  # postgres@127.0.0.1:5432
    user, host = user_host.split("@", 1)
    return pg_url.replace(f"{user}@{host}", f"{user}:{SECRETS['postgres password']}@{host}")


def _write(tmp: Path, demo_db: str, state_url: str, smtp_port: int, hook_url: str,
           am_url: str | None) -> Path:
    sdir = tmp / "schedules"
    sdir.mkdir()
    (sdir / "tick.yaml").write_text(yaml.safe_dump({
        "name": "tick", "cron": "*/2 * * * * *", "period": "interval", "reports": ["idle"],
        "clusters": ["gpu-east"], "formats": ["html"], "recipients": ["ops@example.org"],
        # two seconds of the real clock over the demo's past data: the data-quality gate
        # would block the digest; sent with its banner, it still goes through every channel
        "on_incomplete": "send_with_warning", "misfire_grace_s": 30}))
    for name in ("weekly-digest", "daily-idle-report"):
        (sdir / f"{name}.yaml").write_text(yaml.safe_dump({
            "name": name, "enabled": False, "cron": "0 7 * * 1", "reports": ["weekly"],
            "recipients": ["nobody@example.org"]}))
    channels = {"mail": {"type": "email", "to": ["oncall@example.com"]},
                "hook": {"type": "webhook", "url": hook_url, "retries": 0, "timeout": 5}}
    if am_url:
        channels["am"] = {"type": "alertmanager", "url": am_url, "retries": 0, "timeout": 5}
    (sdir / "alerts.yaml").write_text(yaml.safe_dump({
        "check": {"cron": "*/3 * * * * *", "misfire_grace_s": 30},
        "defaults": {"channels": list(channels), "repeat_interval": "1h"},
        "channels": channels,
        "rules": [{"name": "idle", "kind": "idle-gpus", "min_gpus": 8, "max_utilization": 10,
                   "hours": 6},
                  {"name": "stale", "kind": "stale-data", "max_age": "2h"}]}))
    cfg = tmp / "gpureport.yaml"
    cfg.write_text(yaml.safe_dump({
        "source": {"database_url": demo_db},
        "state": {"database_url": state_url},
        "schedules_dir": str(sdir), "report_dir": str(tmp / "reports"),
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False,
                 "user": "gpureport", "password": SECRETS["smtp password"],
                 "from": "gpureport@example.net", "retries": 0, "timeout": 5},
        "llm": {"api_key": SECRETS["llm key"]},
    }))
    return cfg


def _leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def _files_written(tmp: Path, skip: set[Path]) -> dict[Path, str]:
    out = {}
    for path in tmp.rglob("*"):
        if path.is_file() and path not in skip and path.suffix not in (".db",):
            out[path] = path.read_text(errors="replace")
    return out


@pytest.mark.slow  # > 4 s (two scheduler processes): .ci/run runs it with the slow tests
@pytest.mark.postgres
def test_no_secret_in_any_output_or_log_file_at_v_and_vv(tmp_path, demo_copy, pg_url):
    state_url = _pg_url_with_password(pg_url)
    am_cm = running_alertmanager(tmp_path / "am") if am_available() else None
    am = am_cm.__enter__() if am_cm else None
    try:
        with smtp_server(auth=("gpureport", SECRETS["smtp password"])) as smtp, \
                webhook_server(SLACK) as hook:
            am_url = None
            if am is not None:
                am_url = am.url.replace("http://", f"http://admin:{SECRETS['alertmanager password']}@")
            work = tmp_path / "work"
            work.mkdir()
            cfg = _write(work, demo_copy, state_url, smtp.port, hook.url(), am_url)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_",
                                                                           "GPUREPORT_NOW"))}
            env.update(PYTHONPATH=str(ROOT), GPUREPORT_HOME=str(work / "home"))
            outputs: dict[str, str] = {}
            for flag in ("-v", "-vv"):
                log_path = work / f"scheduler{flag}.log"
                with open(log_path, "wb") as log:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "reporter.cli", flag, "--config", str(cfg),
                         "scheduler", "run", "--poll-interval", "0.3"],
                        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
                    try:
                        deadline = time.monotonic() + 60
                        while time.monotonic() < deadline:
                            text = log_path.read_text(errors="replace")
                            if "tick " in text and "sent to 1 recipient" in text and \
                                    "rule(s) evaluated" in text:
                                break
                            assert proc.poll() is None, text
                            time.sleep(0.3)
                        time.sleep(1)
                    finally:
                        proc.send_signal(signal.SIGTERM)
                        proc.wait(60)
                outputs[f"scheduler run {flag}"] = log_path.read_text(errors="replace")

                r = run(flag, "--config", cfg, "--now", NOW_ISO, "alerts", "check",
                        env={"GPUREPORT_HOME": str(work / "home")})
                outputs[f"alerts check {flag}"] = r.stdout + r.stderr
                r = run(flag, "--config", cfg, "--now", NOW_ISO, "alerts", "check", "--json",
                        env={"GPUREPORT_HOME": str(work / "home")})
                outputs[f"alerts check --json {flag}"] = r.stdout + r.stderr

            # the runs really went through every channel with those secrets
            assert smtp.messages and all(m.login == "gpureport" for m in smtp.messages)
            assert hook.requests and hook.requests[0][0] == f"/services/{SLACK}"
            if am is not None:
                assert am.alerts()
    finally:
        if am_cm:
            am_cm.__exit__(None, None, None)

    sched = outputs["scheduler run -vv"]
    assert "DEBUG" in sched and "sent to 1 recipient" in sched
    assert "HTTP Request:" not in sched  # httpx stays at WARNING at -vv
    assert "/services/***" in outputs["alerts check -v"]
    leaks = {where: _leaks(text) for where, text in outputs.items() if _leaks(text)}
    files = _files_written(work, skip={cfg, work / "schedules" / "alerts.yaml"})
    leaks.update({str(p): _leaks(t) for p, t in files.items() if _leaks(t)})
    print(f"\n[secrets] outputs checked: {sorted(outputs)}; files checked: {len(files)}; "
          f"alertmanager: {'yes' if am is not None else 'not installed'}")
    assert leaks == {}, json.dumps(leaks, indent=2)
