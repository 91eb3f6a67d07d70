"""One object a run uses to send to any chat destination: ``Channels(config).send(dest, …)``.

Built from the ``slack:`` and ``msteams:`` config sections, it keeps one ``SlackClient`` for
the whole run (so one channel listing serves every team's ``#channel``) and opens webhooks as
needed. ``send`` never raises for a delivery problem — one team's failure must not stop the
others — it returns the ``DeliveryOutcome`` for the run record; programming errors still
raise. ``preview`` returns what *would* be sent, for ``--dry-run``.

A file (``FileUpload``: the PDF, a CSV) goes only where it can: the Slack bot uploads it with
the summary as its comment; a webhook carries the summary alone and the outcome says so.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from agent.errors import DeliveryError
from agent.text import one_line
from reporter.channels import blockkit, slack_webhook, teams
from reporter.channels.slack import SlackClient
from reporter.channels.slack_webhook import SlackWebhook
from reporter.channels.summary import (DeliveryOutcome, Destination, FileUpload, Summary,
                                       parse_destination)
from reporter.channels.teams import TeamsWebhook

if TYPE_CHECKING:  # pragma: no cover
    from reporter.config import Config, MSTeamsSettings, SlackSettings

SUMMARY_ONLY = "summary only: a webhook cannot carry files"


class Channels:
    """Chat delivery for one run (see the module docstring). Use as a context manager."""

    def __init__(self, slack: "SlackSettings", msteams: "MSTeamsSettings", *,
                 transport: Any = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.slack_settings, self.msteams_settings = slack, msteams
        self._transport, self._sleep = transport, sleep
        self._slack: SlackClient | None = None

    @classmethod
    def from_config(cls, config: "Config", **kwargs: Any) -> "Channels":
        return cls(config.slack, config.msteams, **kwargs)

    def __enter__(self) -> "Channels":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._slack is not None:
            self._slack.close()
            self._slack = None

    @property
    def slack(self) -> SlackClient:
        """The bot client (``DeliveryError`` when no token is configured)."""
        if self._slack is None:
            self._slack = SlackClient(self.slack_settings, transport=self._transport,
                                      sleep=self._sleep)
        return self._slack

    def webhook(self, destination: Destination) -> SlackWebhook | TeamsWebhook:
        if destination.kind == "slack_webhook":
            return SlackWebhook(destination.target, self.slack_settings,
                                transport=self._transport, sleep=self._sleep)
        return TeamsWebhook(destination.target, self.msteams_settings,
                            transport=self._transport, sleep=self._sleep)

    def send(self, destination: Destination | str, summary: Summary,
             attachment: FileUpload | None = None, *,
             on_reserved: Callable[[str], None] | None = None) -> DeliveryOutcome:
        """Deliver ``summary`` (and ``attachment`` where possible) to ``destination``."""
        dest = destination if isinstance(destination, Destination) else \
            parse_destination(destination)
        if dest.kind == "slack":
            try:
                client = self.slack
            except DeliveryError as exc:
                return DeliveryOutcome("slack", dest.shown, "failed", one_line(exc),
                                       error_code=getattr(exc, "code", None))
            return client.send(dest.target, summary, attachment, on_reserved=on_reserved)
        outcome = self.webhook(dest).send(summary)
        if attachment is not None and outcome.ok:
            return DeliveryOutcome(outcome.channel, outcome.target, "sent", SUMMARY_ONLY)
        return outcome

    @staticmethod
    def preview(destination: Destination | str, summary: Summary,
                attachment: FileUpload | None = None) -> dict[str, Any]:
        """What ``send`` would post, without sending: for ``--dry-run`` (target masked)."""
        dest = destination if isinstance(destination, Destination) else \
            parse_destination(destination)
        out: dict[str, Any] = {"channel": dest.kind, "target": dest.shown}
        if dest.kind == "slack" and attachment is not None:
            out.update(method="files.completeUploadExternal", filename=attachment.filename,
                       bytes=len(attachment.content), initial_comment=blockkit.mrkdwn(summary))
        elif dest.kind == "slack":
            out.update(method="chat.postMessage", **blockkit.message(summary))
        elif dest.kind == "slack_webhook":
            out.update(payload=slack_webhook.payload(summary))
        else:
            out.update(payload=teams.payload(summary))
        if attachment is not None and dest.kind != "slack":
            out["note"] = SUMMARY_ONLY
        return out


__all__ = ["Channels", "SUMMARY_ONLY"]
