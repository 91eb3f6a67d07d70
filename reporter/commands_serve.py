"""``gpureport serve``: the seed's chat API, the web page and ``/metrics`` over HTTP."""

from __future__ import annotations

import click

from reporter.cli import Command


@click.command("serve", cls=Command)
@click.option("--host", help="Address to listen on (config server.host; default 127.0.0.1; "
                             "0.0.0.0 in a container).")
@click.option("--port", type=click.IntRange(1, 65535),
              help="Port (config server.port; default 8001, as the seed).")
@click.option("--workers", type=click.IntRange(1, 64),
              help="Worker processes (config server.workers; default 1).")
@click.pass_obj
def serve(app, host, port, workers) -> None:
    """Serve the chat API (/api/gpu-analysis/chat, /chat/stream), the web page (/ui), past
    reports and /metrics until SIGTERM.

    \b
    Examples:
      gpureport serve                          # http://127.0.0.1:8001/ui
      GPUREPORT_SERVER_TOKEN=s3cret gpureport serve --host 0.0.0.0
      curl -s localhost:8001/api/gpu-analysis/chat -H 'Content-Type: application/json' \\
           -d '{"query": "How many GPUs are in use right now?"}'
    """
    from reporter.serve.server import check_bind, serve as run_server

    cfg = app.config
    host = host or cfg.server.host
    port = port or cfg.server.port
    check_bind(host, port)
    code = run_server(cfg, host=host, port=port, workers=workers or cfg.server.workers,
                      config_path=app.config_path, now_arg=app.now_arg, verbose=app.verbose)
    raise click.exceptions.Exit(code)
