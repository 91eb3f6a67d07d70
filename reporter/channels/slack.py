"""Slack through a bot token: post a file with its summary (files upload v2), post a message,
DM a user — with names resolved to ids, retries, and one clear line when Slack says no.

The API sequence and the fields sent (docs.slack.dev/reference/methods/…; every call is a
``POST {slack.api_url}/<method>`` with ``Authorization: Bearer <bot token>``, answered HTTP 200
``{"ok": true, …}`` or ``{"ok": false, "error": "<code>"}``):

Resolving a destination (``resolve``), cached per client for ``cache_ttl`` seconds:

* ``#ml-gpu`` / ``ml-gpu`` → ``conversations.list`` (form: ``types=public_channel,
  private_channel``, ``exclude_archived=false``, ``limit=200``, ``cursor`` from the previous
  page's ``response_metadata.next_cursor`` until it is empty) → the channel's ``id``. One
  listing serves every name until the cache expires; a name missing from a cached listing
  triggers one fresh listing (a channel created since). Without the ``groups:read`` scope
  (``missing_scope``) the listing falls back to public channels. An unknown name fails with
  ``channel_not_found`` and the closest names (``agent.names.suggestions``).
* ``C…``/``G…``/``D…`` ids are used as they are.
* a user — ``U…``/``W…`` or an email (``users.lookupByEmail``, form ``email``, scope
  ``users:read.email``) — → ``conversations.open`` (form ``users=<U…>``, scope ``im:write``)
  → the DM channel's ``id``. A display name (``@alice``) is refused: they are not unique.

Posting a file (``upload_file``), the files upload v2 flow that replaced ``files.upload``:

1. ``files.getUploadURLExternal`` (form: ``filename``, ``length`` = the byte count, optional
   ``alt_txt``) → ``upload_url``, ``file_id``;
2. ``POST <upload_url>`` with the raw bytes (``Content-Type: application/octet-stream``, and
   *no* Authorization header: the URL is pre-signed and on another host, so the token stays
   with ``slack.api_url``) → HTTP 200;
3. ``files.completeUploadExternal`` (JSON: ``files=[{"id": file_id, "title": …}]``,
   ``channel_id``, ``initial_comment`` = the summary in mrkdwn, optional ``thread_ts``) →
   ``files``. Slack ignores ``blocks`` when ``initial_comment`` is given, so the comment is
   the summary.

Posting a message (``post_message``): ``chat.postMessage`` (JSON: ``channel``, ``text`` as the
notification fallback, ``blocks``, ``unfurl_links=false``, ``unfurl_media=false``).
``auth.test`` (``doctor``) and ``files.info`` (form ``file``; see below) complete the set.
Scopes the app needs: ``chat:write``, ``files:write``, ``files:read``, ``channels:read``
(+ ``groups:read`` for private channels), ``im:write`` and ``users:read.email`` for DMs.

Failures: transport errors, 5xx, 429 (``Retry-After`` honoured up to
``slack.max_retry_after``) and ``ok:false`` with ``ratelimited``/``internal_error``/
``fatal_error``/``service_unavailable``/``request_timeout`` are retried (``channels.http``);
any other ``ok:false`` is final and raises ``DeliveryError`` whose message names the method,
the destination, Slack's error code and what to do (``not_in_channel`` → "invite the app to
#ml-gpu"); the code is also on the exception as ``.code``. ``send`` turns that into a
``DeliveryOutcome``. The token lives only in the ``Authorization`` header: it is not in
``repr()``, messages, or log records (``channels.http`` scrubs them).

Idempotency — an upload cannot be deduplicated by Slack (no idempotency key), so exactly-once
is ours to keep:

* within a call: when ``completeUploadExternal`` fails ambiguously (5xx, timeout after the
  request was sent), ``file_shared(file_id, channel_id)`` (``files.info``: the file's
  ``channels``/``groups``/``ims``/``shares``) is asked before retrying; if the first attempt
  did share the file, it is not shared again;
* across runs, the runner's claim (the exactly-once work) must: (1) claim (schedule, period,
  team, destination) before sending; (2) pass ``on_reserved`` to ``upload_file``/``send`` and
  record the ``file_id`` it is given *before* the share; (3) record the completed
  ``file_id`` (``DeliveryOutcome.remote_id``) with the run's success. A retried run that finds
  a completed ``file_id`` sends nothing; one that finds only a reserved ``file_id`` asks
  ``file_shared(file_id, channel_id)`` — shared means the earlier run did post (record it and
  stop), not shared means upload again. Slack processes files asynchronously, so a share may
  show in ``files.info`` a few seconds late: check after the process that crashed is gone,
  not in the same second. ``chat.postMessage`` has no such check (reading history needs more
  scopes): a message is recorded by its ``ts`` and an ambiguous failure may, rarely, post
  twice.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from agent.errors import DeliveryError
from agent.names import suggestions
from agent.text import mask_url, one_line
from reporter.channels.blockkit import COMMENT_LIMIT, clip, message, mrkdwn
from reporter.channels.http import RetryPolicy, client, delivery_error, with_retries
from reporter.channels.slack_codes import HINTS, answer_json, transient
from reporter.channels.summary import DeliveryOutcome, FileUpload, Summary

if TYPE_CHECKING:  # pragma: no cover
    import httpx

    from reporter.config import SlackSettings

log = logging.getLogger(__name__)

_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{8,}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{8,}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
NAME_LIMIT = 80
LIST_PAGE = 200
MAX_PAGES = 500
CACHE_TTL_S = 600.0
MESSAGE_TEXT_LIMIT = 4000


@dataclass(frozen=True)
class Upload:
    """A shared file. ``confirmed`` means an ambiguous failure was resolved by ``files.info``."""

    file_id: str
    channel_id: str
    target: str
    permalink: str | None = None
    confirmed: bool = False


@dataclass(frozen=True)
class Posted:
    channel_id: str
    ts: str | None
    target: str


def _filename(name: str) -> str:
    base = re.split(r"[\\/]", str(name or ""))[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return clip(base or "report", 255)


class SlackClient:
    """A Slack Web API client for one bot token (see the module docstring). Keep one per run
    (its caches then serve every team's destination); it is not meant to be shared between
    threads."""

    def __init__(self, settings: "SlackSettings", *, transport: Any = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 cache_ttl: float = CACHE_TTL_S) -> None:
        token = settings.bot_token.get_secret_value() if settings.bot_token else ""
        if not token:
            raise delivery_error("Slack: no bot token (config slack.bot_token or "
                                 "SLACK_BOT_TOKEN)", code="not_authed")
        self._token = token
        self.api_url = settings.api_url.rstrip("/")
        self.policy = RetryPolicy.of(settings, "slack")
        self._http = client(self.policy, transport)
        self._sleep, self._clock, self._ttl = sleep, clock, cache_ttl
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}

    def __repr__(self) -> str:
        return f"SlackClient(api_url={mask_url(self.api_url)!r}, token='***')"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "SlackClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------
    # the one way to call a method
    def _call(self, method: str, *, form: dict[str, str] | None = None,
              body: dict[str, Any] | None = None, where: str | None = None,
              already_done: Callable[[], bool] | None = None) -> dict[str, Any]:
        url = f"{self.api_url}/{method}"
        auth = {"Authorization": f"Bearer {self._token}"}
        calls = 0

        def do() -> "httpx.Response":
            nonlocal calls
            calls += 1
            if body is not None:
                return self._http.post(url, content=json.dumps(body, ensure_ascii=False).encode(),
                                       headers={**auth,
                                                "Content-Type": "application/json; charset=utf-8"})
            return self._http.post(url, data=form or {}, headers=auth)

        resp = with_retries(do, what=f"Slack {method}", policy=self.policy, sleep=self._sleep,
                            transient=transient, already_done=already_done,
                            secrets=[self._token])
        if resp is None:
            return {"ok": True, "confirmed": True}
        data = answer_json(resp)
        if resp.status_code != 200 or not isinstance(data, dict):
            body_text = " ".join(resp.text[:120].split())
            raise delivery_error(f"Slack {method}: HTTP {resp.status_code}, not a Slack API "
                                 f"answer ({body_text or 'empty body'}); is slack.api_url "
                                 f"{mask_url(self.api_url)} right?", attempts=calls)
        if not data.get("ok"):
            code = str(data.get("error") or "unknown_error")
            hint = HINTS.get(code, "")
            text = f"Slack {method} refused" + (f" for {where}" if where else "") + f": {code}"
            if hint:
                text += " — " + hint.format(where=where or "the destination",
                                            needed=data.get("needed") or "named by Slack")
            raise delivery_error(text, code=code, attempts=calls)
        warnings = list((data.get("response_metadata") or {}).get("warnings") or [])
        if data.get("warning"):
            warnings.append(data["warning"])
        for w in warnings:
            log.debug("Slack %s warning: %s", method, one_line(str(w), 120))
        return data

    def _cached(self, kind: str, key: str, fetch: Callable[[], Any]) -> Any:
        hit = self._cache.get((kind, key))
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        value = fetch()
        self._cache[(kind, key)] = (self._clock(), value)
        return value

    # ----------------------------------------------------------------------------------------
    # destinations
    @staticmethod
    def shown(target: str) -> str:
        """A destination as messages show it (names and emails are not secrets)."""
        return one_line(str(target or "").strip(), 120) or "(empty)"

    def resolve(self, target: str) -> str:
        """The channel id to post to for ``#name``, a channel id, a user id or an email."""
        text = str(target or "").strip()
        if not text or not text.isprintable():
            raise delivery_error(f"Slack destination {self.shown(target)!r}: expected #channel, "
                                 f"a channel or user id, or an email", code="channel_not_found")
        if text.startswith("#") or _CHANNEL_ID.fullmatch(text):
            return self.channel_id(text)
        if _USER_ID.fullmatch(text) or "@" in text:
            return self.dm_channel(text)
        return self.channel_id(text)

    def channel_id(self, name_or_id: str) -> str:
        text = str(name_or_id).strip()
        if _CHANNEL_ID.fullmatch(text):
            return text
        name = text.removeprefix("#").strip().lower()
        where = f"#{name}"
        if not name or len(name) > NAME_LIMIT or any(ch.isspace() for ch in name):
            raise delivery_error(f"Slack: {self.shown(where)} is not a channel name (lowercase, "
                                 f"no spaces, at most {NAME_LIMIT} characters)",
                                 code="channel_not_found")
        hit = self._cache.get(("channels", ""))
        fresh = hit is None or self._clock() - hit[0] >= self._ttl  # listed just now, below
        for attempt in range(2):
            index = self._cached("channels", "", self._list_channels)
            if name in index:
                cid, archived = index[name]
                if archived:
                    raise delivery_error(f"Slack: {where} is archived — "
                                         + HINTS["is_archived"].format(where=where),
                                         code="is_archived")
                return cid
            if fresh or attempt:
                break
            self._cache.pop(("channels", ""), None)  # a channel created since the listing?
        near = suggestions(name, [n for n, (_, archived) in index.items() if not archived])
        hint = f"; did you mean: {', '.join('#' + n for n in near)}?" if near else ""
        raise delivery_error(f"Slack: no channel {where} that the app can see{hint} (check the "
                             f"name, or invite the app if the channel is private)",
                             code="channel_not_found")

    def _list_channels(self) -> dict[str, tuple[str, bool]]:
        types, cursor = "public_channel,private_channel", ""
        index: dict[str, tuple[str, bool]] = {}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            form = {"types": types, "exclude_archived": "false", "limit": str(LIST_PAGE)}
            if cursor:
                form["cursor"] = cursor
            try:
                data = self._call("conversations.list", form=form)
            except DeliveryError as exc:
                if getattr(exc, "code", None) == "missing_scope" and "," in types and not seen:
                    log.info("Slack: no scope to list private channels; listing public ones")
                    types, index = "public_channel", {}
                    continue
                raise
            for ch in data.get("channels") or []:
                if isinstance(ch, dict) and ch.get("name") and ch.get("id"):
                    index[str(ch["name"]).lower()] = (str(ch["id"]), bool(ch.get("is_archived")))
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "").strip()
            if not cursor:
                return index
            if cursor in seen:
                raise delivery_error("Slack conversations.list: the paging cursor repeats; "
                                     "giving up", permanent=False)
            seen.add(cursor)
        raise delivery_error(f"Slack conversations.list: more than {MAX_PAGES} pages of "
                             f"channels; use the channel id (C…) instead of its name",
                             permanent=False)

    def user_id(self, user: str) -> str:
        """``U…``/``W…`` as is; an email through ``users.lookupByEmail``."""
        text = str(user).strip().removeprefix("@")
        if _USER_ID.fullmatch(text):
            return text
        if not _EMAIL.fullmatch(text):
            raise delivery_error(f"Slack user {self.shown(user)!r}: give the member id (U…) or "
                                 f"the email address; display names are not unique",
                                 code="user_not_found")

        def fetch() -> str:
            data = self._call("users.lookupByEmail", form={"email": text}, where=text)
            uid = (data.get("user") or {}).get("id")
            if not uid:
                raise delivery_error(f"Slack users.lookupByEmail: no user id for {text}",
                                     code="users_not_found")
            return str(uid)

        return self._cached("user", text.lower(), fetch)

    def dm_channel(self, user: str) -> str:
        """The DM channel between the app and ``user`` (``conversations.open``)."""
        uid = self.user_id(user)
        where = self.shown(str(user).strip().removeprefix("@"))

        def fetch() -> str:
            data = self._call("conversations.open", form={"users": uid}, where=where)
            cid = (data.get("channel") or {}).get("id")
            if not cid:
                raise delivery_error(f"Slack conversations.open: no channel id for {where}")
            return str(cid)

        return self._cached("dm", uid, fetch)

    # ----------------------------------------------------------------------------------------
    # posting
    def upload_file(self, target: str, filename: str, content: bytes, *,
                    title: str | None = None, initial_comment: str | None = None,
                    thread_ts: str | None = None, alt_text: str | None = None,
                    on_reserved: Callable[[str], None] | None = None) -> Upload:
        """Share ``content`` as ``filename`` in ``target`` with ``initial_comment`` (module
        docstring: the v2 sequence, and what ``on_reserved`` is for)."""
        name = _filename(filename)
        where = self.shown(target)
        if not content:
            raise delivery_error(f"Slack upload of {name} to {where}: the file is empty")
        channel = self.resolve(target)
        form = {"filename": name, "length": str(len(content))}
        if alt_text:
            form["alt_txt"] = clip(alt_text, 1000)
        data = self._call("files.getUploadURLExternal", form=form, where=where)
        upload_url, file_id = data.get("upload_url"), data.get("file_id")
        if not upload_url or not file_id:
            raise delivery_error("Slack files.getUploadURLExternal: the answer has no "
                                 "upload_url or file_id", permanent=False)
        if on_reserved is not None:
            on_reserved(str(file_id))
        self._send_bytes(str(upload_url), name, content)
        body: dict[str, Any] = {"files": [{"id": file_id, "title": clip(title or name, 250)}],
                                "channel_id": channel}
        if initial_comment:
            body["initial_comment"] = clip(initial_comment, COMMENT_LIMIT)
        if thread_ts:
            body["thread_ts"] = thread_ts
        data = self._call("files.completeUploadExternal", body=body, where=where,
                          already_done=lambda: self.file_shared(str(file_id), channel))
        files = data.get("files") or [{}]
        permalink = files[0].get("permalink") if isinstance(files[0], dict) else None
        return Upload(str(file_id), channel, where, permalink, bool(data.get("confirmed")))

    def _send_bytes(self, upload_url: str, name: str, content: bytes) -> None:
        shown = mask_url(upload_url)
        what = f"Slack upload of {name} to {shown}"
        resp = with_retries(
            lambda: self._http.post(upload_url, content=content,
                                    headers={"Content-Type": "application/octet-stream"}),
            what=what, policy=self.policy, sleep=self._sleep, secrets=[upload_url, self._token])
        if resp is not None and resp.status_code != 200:
            body = " ".join(resp.text[:120].split())
            raise delivery_error(f"{what}: HTTP {resp.status_code}"
                                 + (f" ({body})" if body else ""))

    def file_shared(self, file_id: str, channel_id: str) -> bool:
        """Whether ``file_id`` is shared in ``channel_id`` (``files.info``)."""
        try:
            data = self._call("files.info", form={"file": file_id})
        except DeliveryError as exc:
            if getattr(exc, "code", None) == "file_not_found":
                return False
            raise
        f = data.get("file") or {}
        places = {*(f.get("channels") or []), *(f.get("groups") or []), *(f.get("ims") or [])}
        for scope in ("public", "private"):
            places |= set(((f.get("shares") or {}).get(scope) or {}).keys())
        return channel_id in places

    def post_message(self, target: str, text: str, blocks: list[dict] | None = None, *,
                     thread_ts: str | None = None) -> Posted:
        """``chat.postMessage`` to a channel or (by DM) a user; ``text`` is the fallback."""
        where = self.shown(target)
        if not (text or "").strip() and not blocks:
            raise delivery_error(f"Slack message to {where}: nothing to post", code="no_text")
        channel = self.resolve(target)
        body: dict[str, Any] = {"channel": channel, "text": clip(text or "", MESSAGE_TEXT_LIMIT),
                                "unfurl_links": False, "unfurl_media": False}
        if blocks:
            body["blocks"] = blocks[:50]
        if thread_ts:
            body["thread_ts"] = thread_ts
        data = self._call("chat.postMessage", body=body, where=where)
        return Posted(str(data.get("channel") or channel), data.get("ts"), where)

    def auth_test(self) -> dict[str, Any]:
        """Who the token is (``auth.test``): ``team``, ``user``, ``url``, ``bot_id``."""
        data = self._call("auth.test")
        return {k: data.get(k) for k in ("team", "user", "url", "bot_id", "team_id")}

    def send(self, target: str, summary: Summary, attachment: FileUpload | None = None, *,
             on_reserved: Callable[[str], None] | None = None) -> DeliveryOutcome:
        """The summary (with the file when given) to ``target``; never raises for Slack's no."""
        where = self.shown(target)
        try:
            if attachment is not None:
                up = self.upload_file(target, attachment.filename, attachment.content,
                                      title=attachment.title, initial_comment=mrkdwn(summary),
                                      on_reserved=on_reserved)
                return DeliveryOutcome("slack", where, "sent", remote_id=up.file_id)
            body = message(summary)
            posted = self.post_message(target, body["text"], body["blocks"])
            return DeliveryOutcome("slack", where, "sent", remote_id=posted.ts)
        except DeliveryError as exc:
            return DeliveryOutcome("slack", where, "failed", one_line(exc),
                                   error_code=getattr(exc, "code", None))


__all__ = ["HINTS", "Posted", "SlackClient", "Upload"]
