"""What the team-digest tests share (tests/test_team_digests.py, tests/test_label_digests.py):
a configuration with one fan-out schedule, SMTP to the test's aiosmtpd and a routing table;
``gpureport`` run against it on the Monday of the demo; and reading the mails it sent."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from tests.cli import run
from tests.conftest import MONDAY_ISO


def write_config(tmp: Path, source_url: str, smtp_port: int, schedule: dict, teams: dict,
                 slack_url: str | None = None) -> Path:
    """A config (state database, schedules directory, SMTP, routing) for ``--config``, with
    ``schedule`` as the one schedule of its directory."""
    sdir = tmp / "schedules"
    sdir.mkdir(exist_ok=True)
    (sdir / f"{schedule['name']}.yaml").write_text(yaml.safe_dump(schedule))
    cfg = {
        "source": {"database_url": source_url},
        "state": {"database_url": f"sqlite:///{tmp / 'state.db'}"},
        "schedules_dir": str(sdir), "report_dir": str(tmp / "reports"),
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False, "retries": 1,
                 "retry_backoff": 0.1, "from": "gpureport@example.net"},
        "teams": teams,
    }
    if slack_url:
        cfg["slack"] = {"bot_token": "xoxb-0000-test-token", "api_url": slack_url,
                        "retries": 0}
    path = tmp / "gpureport.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def gpureport(tmp: Path, config: Path, *args: str):
    return run("--config", config, *args, cwd=tmp,
               env={"GPUREPORT_HOME": str(tmp / "home"), "GPUREPORT_NOW": MONDAY_ISO})


def csv_rows(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data  # BOM, RFC 4180 line ends
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def attachments(msg) -> dict[str, bytes]:
    return {p.get_filename(): p.get_payload(decode=True) for p in msg.walk() if p.get_filename()}
