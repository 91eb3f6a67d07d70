"""A local HTTP server standing in for a Microsoft Teams incoming webhook (Workflows or the
older connector), validating the Adaptive Card message it is sent.

The contract (learn.microsoft.com "Send Adaptive Cards using an incoming webhook", the Adaptive
Card schema at adaptivecards.io): ``POST <secret path>`` with JSON ``{"type": "message",
"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content":
<card>}]}`` where the card has ``type: AdaptiveCard``, the ``$schema`` URL, a ``version``
Teams renders (1.0–1.5), a non-empty ``body`` of known elements (``TextBlock`` with text,
``FactSet`` of ``{title, value}`` strings, ``Container``/``ColumnSet``/``Image``/
``ActionSet``/``RichTextBlock``/``Table``) and ``actions`` of known types
(``Action.OpenUrl`` needs an http(s) ``url``); at most 28 KB (HTTP 413 beyond).

A valid message is answered like the real endpoint (``mode="workflows"``: 202 with an empty
body; ``mode="connector"``: 200 ``1``) and its card kept in ``cards``; an invalid one gets
400 "Bad payload received by generic incoming webhook." and its ``problems`` are recorded.
``answers`` queues ``(status, body, retry_after)`` to answer instead (429 throttling, 5xx, a
connector's HTTP 200 "Webhook message delivery failed …")::

    with teams_webhook() as hook:
        TeamsWebhook(hook.url()).send(summary)
        (card,) = hook.cards
"""

from __future__ import annotations

import json
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from tests.fakes.slack_api import Replying, serve

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
ELEMENTS = {"TextBlock", "FactSet", "Container", "ColumnSet", "Image", "ActionSet",
            "RichTextBlock", "Table"}
ACTIONS = {"Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility", "Action.Execute",
           "Action.Submit"}
MAX_BYTES = 28 * 1024
BAD_PAYLOAD = "Bad payload received by generic incoming webhook."


def _elements(items: Any, where: str) -> list[str]:
    if not isinstance(items, list):
        return [f"{where} is not a list"]
    problems = []
    for i, el in enumerate(items):
        at = f"{where}[{i}]"
        kind = el.get("type") if isinstance(el, dict) else None
        if kind not in ELEMENTS:
            problems.append(f"{at}: unknown element type {kind!r}")
        elif kind == "TextBlock" and not (isinstance(el.get("text"), str) and el["text"]):
            problems.append(f"{at}: TextBlock without text")
        elif kind == "FactSet":
            facts = el.get("facts")
            if not isinstance(facts, list) or not facts or any(
                    not isinstance(f, dict) or not isinstance(f.get("title"), str)
                    or not isinstance(f.get("value"), str) for f in facts):
                problems.append(f"{at}: FactSet needs facts of {{title, value}} strings")
        elif kind == "Container":
            problems += _elements(el.get("items"), f"{at}.items")
    return problems


def card_problems(message: Any) -> list[str]:
    """Why Teams would refuse ``message`` (empty: it is a valid Adaptive Card message)."""
    if not isinstance(message, dict) or message.get("type") != "message":
        return ['the message needs "type": "message"']
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return ["the message has no attachments"]
    problems = []
    for i, att in enumerate(attachments):
        if not isinstance(att, dict) or att.get("contentType") != CONTENT_TYPE:
            problems.append(f"attachment {i}: contentType must be {CONTENT_TYPE}")
            continue
        card = att.get("content")
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            problems.append(f"attachment {i}: content.type must be AdaptiveCard")
            continue
        if card.get("$schema") != SCHEMA:
            problems.append(f"attachment {i}: $schema must be {SCHEMA}")
        if card.get("version") not in VERSIONS:
            problems.append(f"attachment {i}: version {card.get('version')!r} not rendered")
        if not card.get("body"):
            problems.append(f"attachment {i}: empty body")
        problems += _elements(card.get("body") or [], f"attachment {i} body")
        for j, action in enumerate(card.get("actions") or []):
            kind = action.get("type") if isinstance(action, dict) else None
            if kind not in ACTIONS:
                problems.append(f"attachment {i} action {j}: unknown type {kind!r}")
            elif kind == "Action.OpenUrl" and not str(action.get("url", "")).startswith(
                    ("http://", "https://")):
                problems.append(f"attachment {i} action {j}: Action.OpenUrl needs an http(s) url")
    return problems


@dataclass
class TeamsHook:
    """What the webhook received, and how it answers."""

    mode: str = "workflows"
    path: str = field(default_factory=lambda: f"/workflows/{secrets.token_hex(16)}/triggers/"
                                              f"manual/paths/invoke")
    sig: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    port: int = 0
    requests: list[Any] = field(default_factory=list)  # every body (parsed JSON or raw text)
    cards: list[dict] = field(default_factory=list)  # the cards of accepted messages
    problems: list[list[str]] = field(default_factory=list)
    answers: list[tuple[int, str, float | None]] = field(default_factory=list)

    def url(self) -> str:
        return (f"http://127.0.0.1:{self.port}{self.path}?api-version=2016-06-01"
                f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.sig}")

    def answer(self, path: str, raw: bytes) -> tuple[int, dict[str, str], str]:
        if path.split("?")[0] != self.path or f"sig={self.sig}" not in path:
            return 404, {}, "not found"
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(body)
        if self.answers:
            status, text, retry_after = self.answers.pop(0)
            return status, ({"Retry-After": f"{retry_after:g}"} if retry_after else {}), text
        if len(raw) > MAX_BYTES:
            return 413, {}, "Request Entity Too Large"
        problems = card_problems(body)
        if problems:
            self.problems.append(problems)
            return 400, {}, BAD_PAYLOAD
        self.cards += [a["content"] for a in body["attachments"]]
        return (202, {}, "") if self.mode == "workflows" else (200, {}, "1")


@contextmanager
def teams_webhook(mode: str = "workflows") -> Iterator[TeamsHook]:
    hook = TeamsHook(mode)

    class Handler(Replying):
        def do_POST(self):  # noqa: N802 - http.server hook name
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.reply(*hook.answer(self.path, raw))

    with serve(Handler) as server:
        hook.port = server.server_address[1]
        yield hook


__all__ = ["TeamsHook", "card_problems", "teams_webhook"]
