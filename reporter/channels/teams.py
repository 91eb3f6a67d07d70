"""Microsoft Teams: the summary as an Adaptive Card, posted to an incoming webhook.

The contract (learn.microsoft.com, "Create incoming webhooks" / "Send Adaptive Cards using an
incoming webhook"; the Workflows app's "Post to a channel when a webhook request is received"
takes the same body): ``POST <webhook URL>`` with JSON ::

    {"type": "message",
     "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                      "contentUrl": null,
                      "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                                  "type": "AdaptiveCard", "version": "1.4",
                                  "msteams": {"width": "Full"},
                                  "body": [...], "actions": [...]}}]}

The card (``card``): a large bold ``TextBlock`` title; the warning (coverage banner) as a bold
``TextBlock`` in the ``Attention`` colour; one wrapping ``TextBlock`` per line; a ``FactSet``
of the KPI facts; and, when the summary has a link, one ``Action.OpenUrl`` button. Version 1.4
is what Teams renders everywhere today.

Limits: Microsoft documents 28 KB per message (HTTP 413 beyond it, or a 200 whose body says
the delivery failed on the old connectors); others measured less on connectors, so a payload
is kept under ``MAX_BYTES`` (20,000 bytes of UTF-8 JSON) by dropping lines from the end (then
facts), counted in a last "… and N more" line. Teams throttles more than 4 posts a second
per webhook with HTTP 429: retried with ``Retry-After`` like every channel (``channels.http``).

Text in ``TextBlock``/``FactSet`` is parsed as (a subset of) Markdown, so names from the data
are escaped with backslashes (``\\ * _ [ ] ` ~``, a leading ``>``, and a leading ``-``/``+``/
``#``/``1.`` followed by a space):
``App_Pool_01`` stays as written and ``[x](https://evil)`` in a name is not a link.

Answers: the Workflows endpoint answers 202 with an empty body, the old connector 200 ``1``;
both mean delivered. Connector errors may arrive as HTTP 200 with a body starting "Webhook
message delivery failed" — treated as a failure. 4xx are final (the URL is wrong or the
webhook was removed, or the card was refused); the ``DeliveryError`` says which, with the URL
masked (its path and ``sig`` are the credential).
"""

from __future__ import annotations

import json
import re
from typing import Any

from reporter.channels.http import delivery_error
from reporter.channels.summary import Fact, Summary
from reporter.channels.webhook import Webhook

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
VERSION = "1.4"
MAX_BYTES = 20_000
TEXT_LIMIT = 2000
_MD = re.compile(r"([\\*_\[\]`~])")
_LEADING = re.compile(r"^(\s*)(>|[-+#](?=\s))")  # a quote, a bullet, a heading
_NUMBERED = re.compile(r"^(\s*\d+)\.(?=\s)")  # "1. " starts a numbered list
_REMOVED = ("the webhook was removed or its URL is wrong: create a new one (Workflows: "
            "'Post to a channel when a webhook request is received')")
HINTS = {400: "Teams could not read the card (a gpureport bug: please report it)",
         401: _REMOVED, 403: _REMOVED, 404: _REMOVED, 410: _REMOVED,
         413: "the card is larger than Teams accepts (a gpureport bug: please report it)"}


def md_escape(text: str) -> str:
    """``text`` shown literally by Teams' Markdown (see the module docstring)."""
    text = " ".join(str(text).split())
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - 1] + "…"
    text = _MD.sub(r"\\\1", text)
    return _NUMBERED.sub(r"\1\\.", _LEADING.sub(r"\1\\\2", text))


def card(summary: Summary, *, lines: int | None = None, facts: int | None = None
         ) -> dict[str, Any]:
    """The Adaptive Card for ``summary``, with at most ``lines`` lines and ``facts`` facts."""
    shown_lines = list(summary.lines[:lines] if lines is not None else summary.lines)
    shown_facts: list[Fact] = list(summary.facts[:facts] if facts is not None else summary.facts)
    left = (len(summary.lines) - len(shown_lines)) + (len(summary.facts) - len(shown_facts))
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": md_escape(summary.title) or "-",
                                   "size": "Large", "weight": "Bolder", "wrap": True}]
    if summary.warning:
        body.append({"type": "TextBlock", "text": md_escape(summary.warning),
                     "color": "Attention", "weight": "Bolder", "wrap": True})
    body += [{"type": "TextBlock", "text": md_escape(line), "wrap": True, "spacing": "Small"}
             for line in shown_lines]
    if left:
        body.append({"type": "TextBlock", "text": f"… and {left} more", "wrap": True,
                     "isSubtle": True, "spacing": "Small"})
    if shown_facts:
        body.append({"type": "FactSet", "facts": [
            {"title": md_escape(f.label), "value": md_escape(f.value)} for f in shown_facts]})
    content: dict[str, Any] = {"$schema": SCHEMA, "type": "AdaptiveCard", "version": VERSION,
                               "msteams": {"width": "Full"}, "body": body}
    if summary.link:
        content["actions"] = [{"type": "Action.OpenUrl", "title": summary.link_text[:100],
                               "url": summary.link}]
    return content


def envelope(content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "attachments": [
        {"contentType": CONTENT_TYPE, "contentUrl": None, "content": content}]}


def size(body: dict[str, Any]) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode())


def payload(summary: Summary) -> dict[str, Any]:
    """Exactly what is posted: the message with the card, under ``MAX_BYTES``."""
    n_lines, n_facts = len(summary.lines), len(summary.facts)
    body = envelope(card(summary))
    while size(body) > MAX_BYTES and (n_lines or n_facts):
        if n_lines:
            n_lines -= max(1, n_lines // 8)
        else:
            n_facts -= max(1, n_facts // 8)
        body = envelope(card(summary, lines=n_lines, facts=n_facts))
    return body


class TeamsWebhook(Webhook):
    """One Teams incoming webhook / Workflows URL (a secret); ``settings``: ``msteams:``."""

    channel, label, section = "teams", "Teams webhook", "msteams"
    render = staticmethod(payload)

    def check(self, status: int, reason: str, what: str) -> None:
        if 200 <= status < 300:
            if "delivery failed" not in reason.lower():
                return
            raise delivery_error(f"{what}: {reason}", attempts=1)
        hint = HINTS.get(status, "")
        raise delivery_error(f"{what} refused the card: HTTP {status}"
                             + (f" ({reason})" if reason else "") + (f" — {hint}" if hint else ""),
                             code=str(status), attempts=1)


__all__ = ["CONTENT_TYPE", "MAX_BYTES", "SCHEMA", "TeamsWebhook", "card", "envelope",
           "md_escape", "payload"]
