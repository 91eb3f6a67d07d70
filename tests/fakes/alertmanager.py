"""A real Prometheus Alertmanager for tests (Debian package ``prometheus-alertmanager``).

The contract spoken is Alertmanager's own ``/api/v2`` API (``POST /api/v2/alerts`` to notify,
``GET /api/v2/alerts`` to read back): the binary itself answers.

``running_alertmanager(tmp_path)`` starts ``/usr/bin/prometheus-alertmanager`` on a free
127.0.0.1 port with a minimal configuration (one route to a receiver with no integrations, so
nothing leaves the machine), its own storage directory and clustering disabled
(``--cluster.listen-address=``), waits until ``/-/ready`` answers, yields a handle with the
base URL and stops the process (SIGTERM, then SIGKILL) afterwards.

``AM_BINARY`` (env ``GPUREPORT_ALERTMANAGER``) may point elsewhere; tests skip when it is absent.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

from tests.fakes import free_port

AM_BINARY = os.environ.get("GPUREPORT_ALERTMANAGER", "/usr/bin/prometheus-alertmanager")

CONFIG = """\
route:
  receiver: "null"
  group_by: ["alertname"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
"""


def available() -> bool:
    return Path(AM_BINARY).is_file() or shutil.which(AM_BINARY) is not None


@dataclass
class Alertmanager:
    url: str
    process: subprocess.Popen
    log_path: Path

    def alerts(self, **params: str) -> list[dict]:
        """``GET /api/v2/alerts`` (Alertmanager lists only alerts whose endsAt is ahead)."""
        resp = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=5)
        resp.raise_for_status()
        return resp.json()

    def wait_for(self, predicate, timeout: float = 10.0, **params: str) -> list[dict]:
        """Poll ``alerts()`` until ``predicate(alerts)`` is true; return the last answer."""
        deadline = time.monotonic() + timeout
        found = self.alerts(**params)
        while not predicate(found) and time.monotonic() < deadline:
            time.sleep(0.2)
            found = self.alerts(**params)
        return found

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_alertmanager(workdir: Path, startup_timeout: float = 20.0) -> Iterator[Alertmanager]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(CONFIG)
    storage = workdir / "am-data"
    storage.mkdir(exist_ok=True)
    port = free_port()
    log_path = workdir / "alertmanager.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [AM_BINARY, f"--config.file={config}", f"--storage.path={storage}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    am = Alertmanager(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited with {proc.returncode}: "
                                   f"{am.log()[-2000:]}")
            try:
                if httpx.get(f"{am.url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"alertmanager not ready after {startup_timeout} s: "
                                   f"{am.log()[-2000:]}")
            time.sleep(0.1)
        yield am
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
