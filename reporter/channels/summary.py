"""The shapes every chat channel shares: what to say (``Summary``), where (``Destination``), and
what happened (``DeliveryOutcome``).

A digest, a nudge or a "data incomplete" notice is written once as a ``Summary`` — a title,
an optional warning (the coverage banner), a few lines of prose, a handful of KPI facts and a
link — and each channel renders it its own way: Slack Block Kit or an upload comment
(``blockkit``), a Teams Adaptive Card (``teams``). The texts arrive already worded (and in the
report's language): channels never compute or rephrase a figure, they only lay it out and
escape it.

``Destination`` names one place to deliver to, as a schedule or a team's routing entry would
write it: ``slack:#ml-gpu`` (bot token; also ``slack:C0123ABCD``, ``slack:U0123ABCD`` or
``slack:alice@example.com`` for a DM), ``slack-webhook:https://hooks.slack.com/services/…``
and ``teams:https://….logic.azure.com/workflows/…``. A webhook URL is a secret (its path is the
credential), so ``str()``/``repr()`` of a destination and every outcome show
``agent.text.mask_url``'s form only.

``DeliveryOutcome`` is what a send returns — ``channel``, ``target`` (masked), ``status``
(``sent``/``failed``), ``detail`` (the one-line reason when failed), ``remote_id`` (Slack
``file_id`` or message ``ts``; webhooks have none) and ``error_code`` (Slack's machine-readable
error, e.g. ``not_in_channel``, when there is one). It maps one-to-one onto
``reporter.statedb.DeliveryRecord(channel, target, status, message_id=remote_id,
error=detail)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from agent.errors import UsageError
from agent.text import mask_url

ChannelKind = Literal["slack", "slack_webhook", "teams"]
_PREFIXES: dict[str, ChannelKind] = {"slack": "slack", "slack-webhook": "slack_webhook",
                                     "slack_webhook": "slack_webhook", "teams": "teams",
                                     "msteams": "teams"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Fact:
    """One KPI shown as ``label: value`` (a Slack field, a Teams FactSet row)."""

    label: str
    value: str


@dataclass(frozen=True)
class Summary:
    """What a chat message says. Plain text throughout: each channel escapes it for its markup.

    ``warning`` is shown before everything else and stands out (the data-quality banner);
    ``link`` becomes a button (Slack, Teams) or a link (upload comment) labelled ``link_text``.
    """

    title: str
    lines: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()
    link: str | None = None
    link_text: str = "Open the report"
    warning: str | None = None

    def __post_init__(self) -> None:
        # accept lists and (label, value) pairs from callers; keep the dataclass hashable
        object.__setattr__(self, "lines", tuple(str(x) for x in self.lines))
        object.__setattr__(self, "facts", tuple(
            f if isinstance(f, Fact) else Fact(str(f[0]), str(f[1])) for f in self.facts))
        if self.link is not None and not self.link.startswith(("http://", "https://")):
            raise UsageError(f"summary link must be an http(s) URL, not {self.link[:80]!r}")

    def plain_text(self) -> str:
        """Every part on its own line: a notification fallback and what dry runs show."""
        parts = [self.title]
        if self.warning:
            parts.append(f"! {self.warning}")
        parts += list(self.lines)
        parts += [f"{f.label}: {f.value}" for f in self.facts]
        if self.link:
            parts.append(f"{self.link_text}: {self.link}")
        return "\n".join(parts)


@dataclass(frozen=True)
class FileUpload:
    """A file to post with the summary (Slack bot only): the digest's PDF, a CSV."""

    filename: str
    content: bytes = field(repr=False)
    title: str | None = None


@dataclass(frozen=True)
class Destination:
    """One place to deliver to; ``target`` is a Slack channel/user, or a webhook URL (secret)."""

    kind: ChannelKind
    target: str = field(repr=False)

    @property
    def shown(self) -> str:
        """The target as logs, records and errors may show it."""
        if self.kind == "slack":
            return _CONTROL.sub("", self.target)[:120]
        return mask_url(self.target) or ""

    def __str__(self) -> str:
        prefix = {"slack": "slack", "slack_webhook": "slack-webhook", "teams": "teams"}[self.kind]
        return f"{prefix}:{self.shown}"

    def __repr__(self) -> str:
        return f"Destination({self.kind!r}, {self.shown!r})"


def parse_destination(text: str) -> Destination:
    """``slack:#ml-gpu`` / ``slack-webhook:https://…`` / ``teams:https://…`` -> ``Destination``.

    Raises ``UsageError`` naming the accepted forms (and never the URL: it may be a secret).
    """
    prefix, sep, rest = (text or "").strip().partition(":")
    kind = _PREFIXES.get(prefix.strip().lower()) if sep else None
    rest = rest.strip()
    if kind is None or not rest:
        raise UsageError("a chat destination is slack:<#channel | channel id | user id | email>, "
                         "slack-webhook:<https URL> or teams:<https URL>")
    if kind != "slack" and not rest.startswith(("http://", "https://")):
        raise UsageError(f"{prefix}: expects an http(s) webhook URL")
    return Destination(kind, rest)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one send did. ``target`` is safe to show and store (masked, never a token)."""

    channel: ChannelKind
    target: str
    status: Literal["sent", "failed"]
    detail: str | None = None
    remote_id: str | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "sent"


__all__ = ["ChannelKind", "Destination", "DeliveryOutcome", "Fact", "FileUpload", "Summary",
           "parse_destination"]
