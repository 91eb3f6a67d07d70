"""A local HTTP server standing in for a Slack incoming webhook.

The contract spoken is Slack's: ``POST /services/T…/B…/<token>`` with a JSON body (``text``,
``blocks``), answered ``200 ok``, or an error status with a short text body
(``internal_error``). Every request is recorded as ``(path, json body)``; ``statuses`` lists
the statuses to answer next, in order, before answering 200 again; ``delay`` makes every
answer that many seconds late::

    with webhook_server("T000/B000/s3cr3t") as hook:
        hook.statuses = [500]            # the next post fails
        post(hook.url(), ...)            # http://127.0.0.1:PORT/services/T000/B000/s3cr3t
        path, payload = hook.requests[-1]
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


class Hook:
    """What the webhook received, and what it answers next."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[tuple[str, dict]] = []
        self.statuses: list[int] = []  # answered in order; then 200
        self.delay = 0.0  # seconds before answering (a slow endpoint)
        self.port = 0

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{self.token}"


@contextmanager
def webhook_server(token: str) -> Iterator[Hook]:
    hook = Hook(token)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server hook name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.requests.append((self.path, json.loads(body)))
            if hook.delay:
                time.sleep(hook.delay)
            status = hook.statuses.pop(0) if hook.statuses else 200
            out = b"ok" if status == 200 else b"internal_error"
            self.send_response(status)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
