"""A local OpenAI-compatible HTTP server that answers with scripted completions.

The contract spoken is OpenAI's Chat Completions API (``POST /v1/chat/completions``, tool
calls, ``GET /v1/models``), as vLLM, Ollama and OpenAI serve it.

The LLM path is exercised for real: langchain-openai's ``ChatOpenAI`` talks HTTP to this server
exactly as it would to vLLM, Ollama or OpenAI. Each request to ``/v1/chat/completions`` takes the
next scripted reply:

* ``{"tool": {...arguments...}}`` — a tool call (what ``with_structured_output`` expects), named
  after the tool the request offered;
* ``{"content": "text"}`` — a plain assistant message;
* ``{"status": 500}`` — an HTTP error; ``{"sleep": 5}`` — answer late (client timeout).

``requests`` keeps every request body received, so tests can count LLM calls.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


class ScriptedOpenAI:
    def __init__(self) -> None:
        self.script: list[dict] = []
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(body)
            step = self.script.pop(0) if self.script else {"content": "(no scripted reply)"}
        if "sleep" in step:
            time.sleep(step["sleep"])
            step = {"content": "too late"}
        if "status" in step:
            return step["status"], {"error": {"message": "scripted failure", "type": "server_error"}}
        message: dict = {"role": "assistant", "content": None}
        finish = "stop"
        if "tool" in step:
            tools = body.get("tools") or []
            name = tools[0]["function"]["name"] if tools else "Extraction"
            message["tool_calls"] = [{"id": "call_1", "type": "function",
                                      "function": {"name": name, "arguments": json.dumps(step["tool"])}}]
            finish = "tool_calls"
        else:
            message["content"] = step.get("content", "")
        return 200, {
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": 0,
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }


@contextmanager
def serve_openai() -> Iterator[ScriptedOpenAI]:
    state = ScriptedOpenAI()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.endswith("/chat/completions"):
                self._send(404, {"error": {"message": "not found"}})
                return
            status, payload = state.reply(body)
            try:
                self._send(status, payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send(self, status: int, payload: dict):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.server = server
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
