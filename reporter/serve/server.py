"""Running the service: uvicorn, its logging, its workers, and a graceful stop.

* One worker (the default): the ``ServeContext`` is opened *before* uvicorn starts, so a
  configuration that cannot work (state database unreachable, bad source) fails at once with
  one line, like any other command. uvicorn runs in this process.
* ``--workers N``: uvicorn's supervisor starts N processes that each build the application
  (``app_from_environment``) from the settings handed down in ``GPUREPORT_SERVE_ARGS``;
  ``PROMETHEUS_MULTIPROC_DIR`` points them at a shared metrics directory first (see
  ``reporter.metrics``). The parent checks the configuration the same way before forking.
* SIGTERM/SIGINT: uvicorn stops accepting connections, lets in-flight requests finish for up
  to ``GRACE_S`` seconds, then cancels what is left; the lifespan then abandons unfinished runs
  and closes the source and the state database.
* Logs: the process's log lines on stderr at INFO; the access log (``gpureport.access``) one
  JSON object per line, without query strings or bodies. uvicorn's own access log is off.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from datetime import datetime, timezone

import uvicorn
from fastapi import FastAPI

from agent.errors import ConfigError
from reporter.config import Config, load_config
from reporter.metrics import MULTIPROC_ENV
from reporter.serve.app import create_app
from reporter.serve.context import ServeContext, clock

GRACE_S = 10
ARGS_ENV = "GPUREPORT_SERVE_ARGS"


class JsonLines(logging.Formatter):
    """The access log: the record's JSON message with its time and level added in front."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            body = json.loads(record.getMessage())
        except ValueError:
            body = {"message": record.getMessage()}
        at = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        return json.dumps({"ts": at.replace("+00:00", "Z"), "level": record.levelname.lower(),
                           **body}, ensure_ascii=False)


def configure_logging(verbose: int = 0) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if verbose else logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    elif root.level > logging.INFO:
        root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Lens request is noise
    access = logging.getLogger("gpureport.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False


def app_from_environment() -> FastAPI:
    """The application of one ``--workers`` process (uvicorn calls this factory)."""
    args = json.loads(os.environ.get(ARGS_ENV) or "{}")
    configure_logging(int(args.get("verbose") or 0))
    return create_app(load_config(args.get("config")), now_arg=args.get("now"),
                      workers=int(args.get("workers") or 1))


def _uvicorn_options(host: str, port: int) -> dict:
    return dict(host=host, port=port, log_config=None, access_log=False, server_header=False,
                timeout_graceful_shutdown=GRACE_S, lifespan="on")


def serve(config: Config, *, host: str, port: int, workers: int, config_path: str | None,
          now_arg: str | None, verbose: int = 0) -> int:
    """Serve until SIGTERM/SIGINT; the exit status."""
    configure_logging(verbose)
    ctx = ServeContext(config=config, now=clock(now_arg))
    ctx.open()  # fail fast (one line) on a configuration that cannot work
    if workers == 1:
        server = uvicorn.Server(uvicorn.Config(create_app(config, context=ctx),
                                               **_uvicorn_options(host, port)))
        server.run()
        return 0 if server.started else 1
    ctx.close()
    metrics_dir = tempfile.mkdtemp(prefix="gpureport-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[ARGS_ENV] = json.dumps({"config": config_path, "now": now_arg, "verbose": verbose,
                                       "workers": workers})
    try:
        uvicorn.run("reporter.serve.server:app_from_environment", factory=True, workers=workers,
                    **_uvicorn_options(host, port))
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def check_bind(host: str, port: int) -> None:
    """A port already taken is a configuration problem: say so in one line."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


__all__ = ["serve", "app_from_environment", "configure_logging", "check_bind", "GRACE_S"]
