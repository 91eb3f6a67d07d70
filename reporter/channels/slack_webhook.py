"""A Slack incoming webhook: the summary only (a webhook cannot carry a file).

The contract (docs.slack.dev/messaging/sending-messages-using-incoming-webhooks):
``POST https://hooks.slack.com/services/T…/B…/<secret>`` with ``Content-Type:
application/json; charset=utf-8`` and the body ``{"text": <fallback>, "blocks": [...]}``
(``blockkit.message``: header, warning, lines, KPI fields, link; Slack's block and text
limits respected, names escaped for mrkdwn). Slack answers ``200 ok`` (text/plain), or an
HTTP error with a short plain-text reason: 400 ``invalid_payload``/``no_text``/
``invalid_blocks``, 403 ``action_prohibited``/``invalid_token``, 404 ``channel_not_found``/
``no_service``, 410 ``channel_is_archived``, 429 with ``Retry-After``, 500 ``rollup_error``.

429, 5xx and transport errors are retried (``channels.http``: backoff, ``Retry-After`` up to
``slack.max_retry_after``); any other error is final, and the ``DeliveryError`` names the
status, Slack's reason and what to do about it (``channel_is_archived`` → "unarchive it or
create a webhook for another channel"). The URL's path is the credential: messages, logs and
``DeliveryOutcome.target`` only ever show ``mask_url``'s form (``…/services/***``).

A webhook post cannot be deduplicated either; the runner records it like a Slack message
(no remote id: the claim alone keeps it exactly-once, and an ambiguous 5xx may, rarely, post
twice).
"""

from __future__ import annotations

from typing import Any

from reporter.channels.blockkit import message
from reporter.channels.http import delivery_error
from reporter.channels.summary import Summary
from reporter.channels.webhook import Webhook

_BUG = "Slack could not read the message (a gpureport bug: please report it)"
_REVOKED = "the webhook was revoked or its URL is wrong: create a new incoming webhook"
HINTS = {
    "invalid_payload": _BUG, "no_text": _BUG, "invalid_blocks": _BUG,
    "invalid_blocks_format": _BUG, "missing_text_or_fallback_or_attachments": _BUG,
    "channel_not_found": "the webhook's channel no longer exists: create a new webhook",
    "user_not_found": "the webhook's user no longer exists: create a new webhook",
    "channel_is_archived": "the channel is archived: unarchive it or create a webhook for "
                           "another channel",
    "action_prohibited": "a workspace administrator restricted this webhook",
    "posting_to_general_channel_denied": "only admins may post to #general: use another channel",
    "invalid_token": _REVOKED, "no_service": _REVOKED, "no_active_hooks": _REVOKED,
    "no_team": _REVOKED, "team_disabled": "the workspace is disabled",
}


def payload(summary: Summary) -> dict[str, Any]:
    """Exactly what is posted (for ``--dry-run`` and tests)."""
    return message(summary)


class SlackWebhook(Webhook):
    """One Slack incoming webhook URL (a secret); ``settings`` is the ``slack:`` section."""

    channel, label, section = "slack_webhook", "Slack webhook", "slack"
    render = staticmethod(payload)

    def check(self, status: int, reason: str, what: str) -> None:
        if 200 <= status < 300:
            return
        hint = HINTS.get(reason.strip().lower(), "")
        raise delivery_error(f"{what} refused the post: HTTP {status}"
                             + (f" {reason}" if reason else "") + (f" — {hint}" if hint else ""),
                             code=reason.strip().lower() or None, attempts=1)


__all__ = ["HINTS", "SlackWebhook", "payload"]
