"""A local HTTP server speaking the Slack Web API subset gpureport uses — and checking it.

The contract is Slack's (docs.slack.dev/reference/methods/…): ``POST /api/<method>`` with the
arguments as a form, a query string or (for the methods that take one) a JSON body, and the
token as ``Authorization: Bearer …``; HTTP 200 with ``{"ok": true, …}`` or ``{"ok": false,
"error": "<code>"}``; HTTP 429 with ``Retry-After`` when rate limited. Served:

``auth.test``, ``conversations.list`` (``types``, ``exclude_archived``, ``limit``, ``cursor``
paging by ``page_size``; private channels only where the bot is a member; ``missing_scope``
for private channels unless ``scopes`` has ``groups:read``), ``users.lookupByEmail``,
``conversations.open`` (one stable ``D…`` per user), ``files.getUploadURLExternal``,
``POST /upload/v1/<key>`` (the upload URL it issued), ``files.completeUploadExternal``,
``files.info``, ``chat.postMessage``; ``files.upload`` answers ``method_deprecated`` as Slack
does now. ``POST /services/T…/B…/<secret>`` is an incoming webhook of the same workspace
(answers ``ok``, or a status with a plain-text reason).

What it checks, as Slack would (an ``ok:false`` error) or beyond (a ``violations`` entry,
which a test asserts is empty): the token; ``filename`` and ``length`` > 0; that the bytes
posted to an upload URL are exactly ``length`` long and go to a URL it issued, *without* the
bot token (the URL is pre-signed; the token must stay with the API host); that
``completeUploadExternal`` names a ``file_id`` it issued whose bytes arrived, and a
``channel_id`` that exists, is not archived and has the bot as a member; Block Kit shape and
limits for messages and webhooks (50 blocks, header 150, section 3,000, 10 fields of 2,000).
Completing the same file twice shares it twice (the fake assumes the worst, so a test sees
a double post).

Everything is recorded: ``calls`` (method, arguments, content type), ``uploads`` (with the
bytes, so a test can run ``pdftotext`` on a PDF), ``shares`` (file, channel, comment, title),
``posts`` and ``hook_posts``. ``fail(method, …)`` makes the next call(s) of a method (or
``"upload"``, ``"webhook"``) fail: an ``ok:false`` ``error``, an HTTP ``status`` (429 with
``retry_after``), a ``delay`` (a slow server), optionally ``after`` doing the work (an
ambiguous failure: it acted, then answered 500)::

    with slack_api(token="xoxb-test") as slack:
        ml = slack.add_channel("ml-gpu")
        slack.fail("files.completeUploadExternal", status=429, retry_after=1)
        ...                                  # point slack.api_url at slack.api_url()
        (share,) = slack.shares
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

JSON_METHODS = {"chat.postMessage", "files.completeUploadExternal",
                "files.getUploadURLExternal", "users.lookupByEmail", "conversations.open"}
BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image", "rich_text",
               "markdown"}
MESSAGE_TEXT_MAX = 40_000


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_member: bool = True


@dataclass
class User:
    id: str
    email: str
    is_bot: bool = False


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    key: str
    alt_txt: str | None = None
    data: bytes | None = None
    upload_content_type: str | None = None
    completions: int = 0


@dataclass
class Share:
    file_id: str
    channel: str | None
    title: str | None
    initial_comment: str | None
    thread_ts: str | None
    ts: str


@dataclass
class Post:
    channel: str
    text: str | None
    blocks: list | None
    thread_ts: str | None
    ts: str


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    content_type: str
    authorized: bool


@dataclass
class Failure:
    error: str | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    after: bool = False
    body: str | None = None


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.extra = error, extra


def block_problems(blocks: Any) -> list[str]:
    """What Slack would call ``invalid_blocks`` in a message's ``blocks``."""
    if not isinstance(blocks, list):
        return ["blocks is not a list"]
    problems = []
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks (at most 50)")
    for i, b in enumerate(blocks):
        kind = b.get("type") if isinstance(b, dict) else None
        if kind not in BLOCK_TYPES:
            problems.append(f"block {i}: unknown type {kind!r}")
            continue
        text = b.get("text")
        if kind == "header":
            if not (isinstance(text, dict) and text.get("type") == "plain_text"
                    and isinstance(text.get("text"), str) and 0 < len(text["text"]) <= 150):
                problems.append(f"block {i}: header needs plain_text of 1..150 characters")
        if kind == "section":
            fields = b.get("fields")
            if text is None and not fields:
                problems.append(f"block {i}: section needs text or fields")
            if text is not None and not (
                    isinstance(text, dict) and text.get("type") in ("mrkdwn", "plain_text")
                    and isinstance(text.get("text"), str) and 0 < len(text["text"]) <= 3000):
                problems.append(f"block {i}: section text must be 1..3000 characters")
            if fields is not None and (not isinstance(fields, list) or len(fields) > 10 or any(
                    not isinstance(f, dict) or not 0 < len(str(f.get("text", ""))) <= 2000
                    for f in fields)):
                problems.append(f"block {i}: at most 10 fields of 1..2000 characters")
    return problems


class Replying(BaseHTTPRequestHandler):
    """A quiet handler with ``reply``: text as text/plain, anything else as JSON."""

    def reply(self, status: int, headers: dict[str, str], body: Any) -> None:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if isinstance(body, str)
                         else "application/json; charset=utf-8")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        try:
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out: fine
            pass

    def log_message(self, *args):  # keep pytest output clean
        pass


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """Run ``handler`` on 127.0.0.1 (a free port) in a thread for the ``with`` block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class SlackAPI:
    """The fake workspace: its state, what it received, and what it is told to fail."""

    def __init__(self, token: str, page_size: int = 100) -> None:
        self.token = token
        self.page_size = page_size
        self.scopes = {"channels:read", "groups:read", "chat:write", "files:write", "files:read",
                       "im:write", "users:read.email"}
        self.port = 0
        self.channels: list[Channel] = []
        self.users: list[User] = []
        self.dms: dict[str, str] = {}  # D… -> U…
        self.uploads: dict[str, Upload] = {}
        self.shares: list[Share] = []
        self.posts: list[Post] = []
        self.hook_posts: list[tuple[str, Any]] = []
        self.hooks: dict[str, str] = {}  # secret path -> channel id
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.warnings: list[str] = []
        self._failures: dict[str, list[Failure]] = {}
        self._lock = threading.Lock()
        self._seq = 0

    # ---------------------------------------------------------------- set-up and inspection
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:09d}"

    def _ts(self) -> str:
        self._seq += 1
        return f"1763550000.{self._seq:06d}"

    def add_channel(self, name: str, *, private: bool = False, archived: bool = False,
                    member: bool = True) -> Channel:
        ch = Channel(self._next("G" if private else "C"), name, private, archived, member)
        self.channels.append(ch)
        return ch

    def add_user(self, email_address: str, *, bot: bool = False) -> User:
        user = User(self._next("U"), email_address, bot)
        self.users.append(user)
        return user

    def add_hook(self, channel: Channel) -> str:
        """An incoming webhook URL posting to ``channel``."""
        path = f"/services/T0TEST/{self._next('B')}/{secrets.token_urlsafe(18)}"
        self.hooks[path] = channel.id
        return f"http://127.0.0.1:{self.port}{path}"

    def fail(self, method: str, *, error: str | None = None, status: int | None = None,
             retry_after: float | None = None, delay: float = 0.0, after: bool = False,
             body: str | None = None, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` (or ``"upload"``/``"webhook"``) fail."""
        self._failures.setdefault(method, []).extend(
            [Failure(error, status, retry_after, delay, after, body)] * times)

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def channel(self, cid: str) -> Channel | None:
        return next((c for c in self.channels if c.id == cid), None)

    # ---------------------------------------------------------------- requests
    def handle_api(self, method: str, args: dict[str, Any], content_type: str,
                   auth: str | None) -> tuple[int, dict[str, str], Any]:
        token = (auth or "").removeprefix("Bearer ").strip() or args.get("token")
        with self._lock:
            self.calls.append(Call(method, dict(args), content_type, token == self.token))
        failure = self._take(method)
        if failure and failure.delay:
            time.sleep(failure.delay)
        if failure and not failure.after and (failure.error or failure.status):
            return self._failure(failure)
        if not token:
            return 200, {}, {"ok": False, "error": "not_authed"}
        if token != self.token:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(
            self, "m_" + method.replace(".", "_"), None)
        try:
            if handler is None:
                raise SlackError("method_deprecated" if method == "files.upload" else
                                 "unknown_method")
            with self._lock:
                result = {"ok": True, **handler(args)}
        except SlackError as exc:
            result = {"ok": False, "error": exc.error, **exc.extra}
        if failure and failure.after:
            return self._failure(failure)
        return 200, {}, result

    def _take(self, method: str) -> Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            return queue.pop(0) if queue else None

    @staticmethod
    def _failure(f: Failure) -> tuple[int, dict[str, str], Any]:
        headers = {"Retry-After": f"{f.retry_after:g}"} if f.retry_after is not None else {}
        status = f.status or 200
        if f.body is not None:
            return status, headers, f.body
        error = f.error or ("ratelimited" if status == 429 else "internal_error")
        return status, headers, {"ok": False, "error": error}

    # ---------------------------------------------------------------- methods
    def m_auth_test(self, args):
        return {"url": "https://gpureport-test.slack.com/", "team": "gpureport test",
                "user": "gpureport", "team_id": "T0TEST", "user_id": "U0BOT", "bot_id": "B0BOT"}

    def m_conversations_list(self, args):
        types = set(str(args.get("types") or "public_channel").split(","))
        if "private_channel" in types and "groups:read" not in self.scopes:
            raise SlackError("missing_scope", needed="groups:read",
                             provided=",".join(sorted(self.scopes)))
        try:
            limit = int(args.get("limit") or 100)
        except ValueError:
            raise SlackError("invalid_limit") from None
        if not 1 <= limit <= 1000:
            raise SlackError("invalid_limit")
        exclude = str(args.get("exclude_archived", "false")).lower() in ("1", "true")
        visible = [c for c in self.channels
                   if (("private_channel" in types and c.is_private and c.is_member)
                       or ("public_channel" in types and not c.is_private))
                   and not (exclude and c.is_archived)]
        cursor = str(args.get("cursor") or "")
        try:
            start = int(base64.b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
        except ValueError:
            raise SlackError("invalid_cursor") from None
        size = min(limit, self.page_size)
        page = visible[start:start + size]
        more = start + size < len(visible)
        nxt = base64.b64encode(f"offset:{start + size}".encode()).decode() if more else ""
        return {"channels": [{"id": c.id, "name": c.name, "is_channel": not c.is_private,
                              "is_private": c.is_private, "is_archived": c.is_archived,
                              "is_member": c.is_member} for c in page],
                "response_metadata": {"next_cursor": nxt}}

    def m_users_lookupByEmail(self, args):  # noqa: N802 - Slack's method name
        address = str(args.get("email") or "")
        if not address:
            raise SlackError("invalid_arguments")
        user = next((u for u in self.users if u.email.lower() == address.lower()), None)
        if user is None:
            raise SlackError("users_not_found")
        return {"user": {"id": user.id, "team_id": "T0TEST", "name": address.split("@")[0],
                         "is_bot": user.is_bot, "profile": {"email": user.email}}}

    def m_conversations_open(self, args):
        ids = [u for u in str(args.get("users") or "").split(",") if u]
        if len(ids) != 1:
            raise SlackError("invalid_arguments" if not ids else "not_enough_users")
        user = next((u for u in self.users if u.id == ids[0]), None)
        if user is None:
            raise SlackError("user_not_found")
        if user.is_bot:
            raise SlackError("cannot_dm_bot")
        dm = next((d for d, u in self.dms.items() if u == user.id), None) or self._next("D")
        self.dms[dm] = user.id
        return {"channel": {"id": dm}}

    def m_files_getUploadURLExternal(self, args):  # noqa: N802
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length") or 0)
        except ValueError:
            raise SlackError("invalid_arguments") from None
        if not filename:
            raise SlackError("invalid_arguments")
        if length <= 0:
            raise SlackError("missing_argument")
        upload = Upload(self._next("F"), filename, length, secrets.token_urlsafe(24),
                        args.get("alt_txt"))
        self.uploads[upload.file_id] = upload
        return {"upload_url": f"http://127.0.0.1:{self.port}/upload/v1/{upload.key}",
                "file_id": upload.file_id}

    def _postable(self, cid: str) -> None:
        if cid in self.dms:
            return
        ch = self.channel(cid)
        if ch is None:
            if cid.startswith("#") or not cid[:1].isupper():
                self.violations.append(f"a channel name was sent where an id belongs: {cid!r}")
            raise SlackError("channel_not_found")
        if ch.is_archived:
            raise SlackError("is_archived")
        if not ch.is_member:
            raise SlackError("not_in_channel")

    def m_files_completeUploadExternal(self, args):  # noqa: N802
        files = args.get("files")
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                raise SlackError("invalid_arguments") from None
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments")
        channel = args.get("channel_id")
        if channel:
            self._postable(str(channel))
        out = []
        for item in files:
            upload = self.uploads.get(str((item or {}).get("id")))
            if upload is None:
                raise SlackError("file_not_found")
            if upload.data is None:
                self.violations.append(f"{upload.file_id} completed before its bytes arrived")
                raise SlackError("file_not_found")
            upload.completions += 1
            title = item.get("title")
            self.shares.append(Share(upload.file_id, channel, title, args.get("initial_comment"),
                                     args.get("thread_ts"), self._ts()))
            out.append({"id": upload.file_id, "name": upload.filename,
                        "title": title or upload.filename,
                        "permalink": f"https://gpureport-test.slack.com/files/{upload.file_id}"})
        return {"files": out}

    def m_files_info(self, args):
        upload = self.uploads.get(str(args.get("file") or ""))
        if upload is None or not upload.completions:
            raise SlackError("file_not_found")
        where = [s.channel for s in self.shares if s.file_id == upload.file_id and s.channel]
        return {"file": {"id": upload.file_id, "name": upload.filename, "size": upload.length,
                         "channels": [c for c in where if c.startswith("C")],
                         "groups": [c for c in where if c.startswith("G")],
                         "ims": [c for c in where if c.startswith("D")]}}

    def m_chat_postMessage(self, args):  # noqa: N802
        cid = str(args.get("channel") or "")
        if not cid:
            raise SlackError("channel_not_found")
        text, blocks = args.get("text"), args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not text and not blocks:
            raise SlackError("no_text")
        if text and len(text) > MESSAGE_TEXT_MAX:
            raise SlackError("msg_too_long")
        if blocks is not None and block_problems(blocks):
            raise SlackError("invalid_blocks", errors=block_problems(blocks))
        self._postable(cid)
        post = Post(cid, text, blocks, args.get("thread_ts"), self._ts())
        self.posts.append(post)
        return {"channel": cid, "ts": post.ts, "message": {"text": text, "ts": post.ts}}

    # ---------------------------------------------------------------- the upload URL
    def handle_upload(self, key: str, body: bytes, content_type: str,
                      auth: str | None) -> tuple[int, str]:
        upload = next((u for u in self.uploads.values() if u.key == key), None)
        self.calls.append(Call("upload", {"key": key, "bytes": len(body)}, content_type,
                               bool(auth)))
        if auth:
            self.violations.append("the bot token was sent to the upload URL")
        failure = self._take("upload")
        if failure and failure.delay:
            time.sleep(failure.delay)
        if failure and failure.status:
            return failure.status, failure.body or "error"
        if upload is None:
            self.violations.append("bytes posted to an upload URL that was never issued")
            return 404, "not found"
        data = body
        if content_type.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + body)
            part = next((p for p in msg.iter_parts()
                         if p.get_param("name", header="content-disposition") in ("file",
                                                                                    "filename")),
                        None)
            data = part.get_payload(decode=True) if part is not None else b""
        if len(data) != upload.length:
            self.violations.append(f"{upload.file_id}: {len(data)} bytes uploaded, "
                                   f"length said {upload.length}")
            return 400, "length mismatch"
        upload.data, upload.upload_content_type = data, content_type
        return 200, f"OK - {len(data)}"

    # ---------------------------------------------------------------- incoming webhooks
    def handle_hook(self, path: str, body: bytes) -> tuple[int, dict[str, str], str]:
        failure = self._take("webhook")
        if failure and failure.delay:
            time.sleep(failure.delay)
        if path not in self.hooks:
            return 404, {}, "no_service"
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, {}, "invalid_payload"
        self.hook_posts.append((path, payload))
        if failure and (failure.status or failure.error):
            headers = {"Retry-After": f"{failure.retry_after:g}"} \
                if failure.retry_after is not None else {}
            return failure.status or 400, headers, failure.body or failure.error or "rollup_error"
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return 400, {}, "no_text"
        if payload.get("blocks") is not None and block_problems(payload["blocks"]):
            return 400, {}, "invalid_blocks"
        ch = self.channel(self.hooks[path])
        if ch is not None and ch.is_archived:
            return 410, {}, "channel_is_archived"
        return 200, {}, "ok"


def _args(query: str, body: bytes, content_type: str, method: str,
          warnings: list[str]) -> dict[str, Any]:
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if content_type.startswith("application/json"):
        if "charset" not in content_type:
            warnings.append(f"{method}: missing_charset")
        if method in JSON_METHODS:  # other methods ignore a JSON body, as Slack does
            loaded = json.loads(body or b"{}")
            if isinstance(loaded, dict):
                args.update(loaded)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return args


@contextmanager
def slack_api(token: str = "xoxb-0000-test-token", *, page_size: int = 100) -> Iterator[SlackAPI]:
    """A running fake Slack workspace (see the module docstring)."""
    api = SlackAPI(token, page_size)

    class Handler(Replying):
        def _handle(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ctype = self.headers.get("Content-Type") or ""
            auth = self.headers.get("Authorization")
            if url.path.startswith("/api/"):
                method = url.path.removeprefix("/api/")
                try:
                    args = _args(url.query, body, ctype, method, api.warnings)
                except ValueError:
                    self.reply(200, {}, {"ok": False, "error": "invalid_json"})
                    return
                self.reply(*api.handle_api(method, args, ctype, auth))
            elif url.path.startswith("/upload/v1/"):
                status, text = api.handle_upload(url.path.removeprefix("/upload/v1/"), body,
                                                 ctype, auth)
                self.reply(status, {}, text)
            elif url.path.startswith("/services/"):
                self.reply(*api.handle_hook(url.path, body))
            else:
                self.reply(404, {}, "not found")

        do_POST = _handle  # noqa: N815 - http.server hook names
        do_GET = _handle  # noqa: N815

    with serve(Handler) as server:
        api.port = server.server_address[1]
        yield api


__all__ = ["Replying", "SlackAPI", "block_problems", "serve", "slack_api"]
