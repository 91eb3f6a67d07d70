"""A ``Summary`` as Slack sees it: Block Kit for messages and webhooks, mrkdwn for an upload's
comment. Pure functions, no I/O, so dry runs and tests can show exactly what would be posted.

Slack's limits (Block Kit reference, docs.slack.dev/reference/block-kit): at most 50 blocks a
message; a ``header`` holds 150 characters of plain text; a ``section`` text 3,000 characters;
a section's ``fields`` at most 10, each 2,000 characters; a message's top-level ``text`` (the
notification fallback when blocks are given) is cut here at 3,000 characters, and an
``initial_comment`` at 4,000. Text past a limit is cut with "…"; lines that do not fit in the
blocks left become one "… and N more" line — a Slack post never fails for being long.

Escaping: names in a summary come from the data (anyone who can create a pod names a
workload), so every text that Slack parses as mrkdwn goes through ``slack_escape`` (``&``,
``<``, ``>`` → entities): that defuses ``<!channel>``, ``<@U…>`` mentions and ``<url|text>``
links smuggled in through a name. ``plain_text`` objects (the header) are not parsed and are
left as they are. A link is written ``<url|text>`` with the URL's ``|``, ``<``, ``>`` and
spaces percent-encoded, so a URL cannot end the link early.

The link is a mrkdwn link in a section rather than a ``button``: a URL button also sends an
interaction payload to the app, which an incoming webhook (or an app without interactivity)
answers with a warning icon next to the button.
"""

from __future__ import annotations

from typing import Any

from reporter.channels.summary import Summary

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_PER_SECTION = 10
MAX_BLOCKS = 50
FALLBACK_LIMIT = 3000
COMMENT_LIMIT = 4000


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters as entities (docs.slack.dev "Formatting text")."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_link(url: str, text: str) -> str:
    """``<url|text>`` that neither the URL nor the text can break out of."""
    safe = (url.replace("&", "&amp;").replace("|", "%7C").replace("<", "%3C")
            .replace(">", "%3E").replace(" ", "%20"))
    return f"<{safe}|{slack_escape(text)}>"


def _warning(summary: Summary) -> str:
    return f":warning: *{slack_escape(summary.warning)}*" if summary.warning else ""


def _fact(label: str, value: str) -> str:
    return f"*{slack_escape(label)}:* {slack_escape(value)}"


def fallback_text(summary: Summary) -> str:
    """The notification text (shown in alerts and where blocks cannot be)."""
    text = summary.title + (f" — {summary.warning}" if summary.warning else "")
    return clip(slack_escape(" ".join(text.split())), FALLBACK_LIMIT)


def mrkdwn(summary: Summary, limit: int = COMMENT_LIMIT) -> str:
    """The summary as one mrkdwn text (an upload's ``initial_comment``), at most ``limit``:
    lines that do not fit are dropped from the end and counted in a last "… and N more"."""
    head = [f"*{slack_escape(summary.title)}*"] + ([_warning(summary)] if summary.warning else [])
    tail = [f"• {_fact(f.label, f.value)}" for f in summary.facts]
    if summary.link:
        tail.append(slack_link(summary.link, summary.link_text))
    lines = [slack_escape(line) for line in summary.lines]
    text = ""
    for keep in range(len(lines), -1, -1):
        more = [f"… and {len(lines) - keep} more"] if keep < len(lines) else []
        text = "\n".join(head + lines[:keep] + more + tail)
        if len(text) <= limit:
            return text
    return clip(text, limit)


def _pack(lines: list[str], limit: int) -> list[tuple[str, int]]:
    """Lines joined into as few texts of at most ``limit`` characters as possible, each with
    the number of lines it holds."""
    out: list[tuple[str, int]] = []
    for line in lines:
        line = clip(line, limit)
        if out and len(out[-1][0]) + 1 + len(line) <= limit:
            out[-1] = (out[-1][0] + "\n" + line, out[-1][1] + 1)
        else:
            out.append((line, 1))
    return out


def blocks(summary: Summary) -> list[dict[str, Any]]:
    """Header, warning, lines, facts, link — never more than ``MAX_BLOCKS`` blocks."""
    head: list[dict[str, Any]] = [{"type": "header", "text": {
        "type": "plain_text", "text": clip(" ".join(summary.title.split()) or "-", HEADER_LIMIT)}}]
    if summary.warning:
        head.append(_section(clip(_warning(summary), SECTION_LIMIT)))
    tail: list[dict[str, Any]] = []
    fields = [{"type": "mrkdwn", "text": clip(_fact(f.label, f.value), FIELD_LIMIT)}
              for f in summary.facts]
    for i in range(0, len(fields), FIELDS_PER_SECTION):
        tail.append({"type": "section", "fields": fields[i:i + FIELDS_PER_SECTION]})
    if summary.link:
        tail.append(_section(clip(slack_link(summary.link, summary.link_text), SECTION_LIMIT)))
    tail = tail[: MAX_BLOCKS - len(head) - 1]
    room = MAX_BLOCKS - len(head) - len(tail)
    packed = _pack([slack_escape(line) for line in summary.lines], SECTION_LIMIT)
    texts = [text for text, _ in packed]
    if len(packed) > room:
        kept = packed[: room - 1]
        texts = [text for text, _ in kept] + \
            [f"… and {len(summary.lines) - sum(n for _, n in kept)} more"]
    return head + [_section(t) for t in texts] + tail


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def message(summary: Summary) -> dict[str, Any]:
    """``{"text", "blocks"}``: the body of a webhook post or of ``chat.postMessage``."""
    return {"text": fallback_text(summary), "blocks": blocks(summary)}


__all__ = ["blocks", "clip", "fallback_text", "message", "mrkdwn", "slack_escape", "slack_link"]
