"""``gpureport serve``'s application on a real socket, in this process, for tests.

``live_server(config, source=None)`` runs uvicorn in a thread on a free 127.0.0.1 port — the
same application object ``gpureport serve`` builds, with its lifespan (source, state database,
checkpointer) — so clients talk real HTTP: ``requests``/``httpx`` as the seed's clients did,
a streamed response they can walk away from, a browser. ``serve_config(...)`` builds the
``Config`` the tests need (the demo store, a state database under ``tmp_path``)::

    with live_server(serve_config(tmp_path, demo_db)) as url:
        requests.post(url + "/api/gpu-analysis/chat", json={"query": "..."})

A separate ``gpureport serve`` process is started only where the process boundary is the
point (SIGTERM, ``--workers``): ``start_serve_process``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import uvicorn

from reporter.config import Config
from reporter.serve.app import create_app
from tests.cli import ROOT
from tests.conftest import NOW_ISO
from tests.fakes import free_port


def serve_config(tmp_path: Path, source_url: str | None = None, **server: Any) -> Config:
    data: dict[str, Any] = {
        "state": {"database_url": f"sqlite:///{tmp_path / 'state.db'}"},
        "report_dir": str(tmp_path / "reports"),
        "server": server,
    }
    if source_url is not None:
        data["source"] = {"kind": "sql", "database_url": source_url}
    return Config.model_validate(data)


@contextlib.contextmanager
def live_server(config: Config, *, source=None, now: str | None = NOW_ISO,
                grace: float = 2.0, workers: int = 1) -> Iterator[str]:
    """The service on ``http://127.0.0.1:<port>`` for the ``with`` block (``workers``: the
    application as one of that many worker processes builds it)."""
    app = create_app(config, now_arg=now, source=source, workers=workers)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on",
                                           timeout_graceful_shutdown=grace))
    thread = threading.Thread(target=server.run, name=f"serve-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def sse_events(response: httpx.Response) -> Iterator[dict]:
    """The ``data: {json}`` events of a streamed response, as the seed's clients read them."""
    import json

    for line in response.iter_lines():
        if line.startswith("data: "):
            yield json.loads(line[len("data: "):])


def start_serve_process(config_file: Path, port: int, *args: str,
                        env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m reporter.cli --config FILE serve --port PORT ...`` (stderr to a pipe);
    returns once ``/healthz`` answers."""
    full = dict(os.environ)
    full.setdefault("GPUREPORT_NOW", NOW_ISO)
    full.update(env or {})
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), full.get("PYTHONPATH")) if p)
    proc = subprocess.Popen([sys.executable, "-m", "reporter.cli", "--config", str(config_file),
                             "serve", "--port", str(port), *args], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gpureport serve exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gpureport serve did not answer /healthz within 60 s")
