"""Chat delivery: Slack (bot token: files upload v2, messages, DMs; incoming webhooks) and
Microsoft Teams (incoming webhook / Workflows, Adaptive Card).

What a caller (team digests, nudges, admin notices) needs::

    from reporter.channels import Channels, FileUpload, Summary, Fact

    summary = Summary(title="ml-team GPU digest, 2026-W47",
                      warning=None,                            # or the coverage banner
                      lines=["Utilization fell 12.4 pp week over week."],
                      facts=[Fact("GPU-hours", "1,234.5"), Fact("Utilization", "41.2 %")],
                      link="https://reports.example.com/ml-team/2026-W47")
    with Channels.from_config(config) as channels:
        outcome = channels.send("slack:#ml-gpu", summary,
                                FileUpload("weekly-2026-W47.pdf", pdf_bytes),
                                on_reserved=lambda file_id: claim.note(file_id))
    # outcome: DeliveryOutcome(channel, target (masked), status, detail, remote_id, error_code)

Modules, one job each:

``summary``        ``Summary``/``Fact`` (what to say), ``FileUpload``, ``Destination`` and
                   ``parse_destination`` (``slack:…``, ``slack-webhook:…``, ``teams:…``),
                   ``DeliveryOutcome`` (what happened; maps onto the state DB's delivery row)
``blockkit``       a summary as Slack Block Kit / mrkdwn, limits respected, names escaped
``slack``          ``SlackClient``: resolution (``#name``, ids, email → DM), ``upload_file``
                   (the v2 sequence), ``post_message``, ``file_shared``, ``auth_test``, ``send``
``webhook``        what Slack's and Teams' webhooks share (secret URL, post, outcome)
``slack_webhook``  ``SlackWebhook``: summary-only posts to an incoming webhook
``teams``          ``TeamsWebhook``: the Adaptive Card and its envelope, size-bounded
``http``           the retry loop (backoff, bounded ``Retry-After``, "did it take effect?"),
                   and the filter that keeps webhook URLs out of httpx's log lines
``dispatch``       ``Channels``: one object per run that sends to any destination

Every module docstring gives the exact API calls and fields sent; ``slack`` also says how the
runner's exactly-once claim must use ``file_id``s so that a retried run does not post twice.
Nothing here imports httpx until a request is made.
"""

from __future__ import annotations

from reporter.channels.dispatch import SUMMARY_ONLY, Channels
from reporter.channels.slack import SlackClient
from reporter.channels.slack_webhook import SlackWebhook
from reporter.channels.summary import (ChannelKind, DeliveryOutcome, Destination, Fact,
                                       FileUpload, Summary, parse_destination)
from reporter.channels.teams import TeamsWebhook

__all__ = ["ChannelKind", "Channels", "DeliveryOutcome", "Destination", "Fact", "FileUpload",
           "SUMMARY_ONLY", "SlackClient", "SlackWebhook", "Summary", "TeamsWebhook",
           "parse_destination"]
