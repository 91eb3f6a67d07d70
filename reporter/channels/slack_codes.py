"""What Slack's Web API answers mean: which ``ok:false`` codes are worth another attempt, and
what each final one tells the person reading the error to do.

Split from ``slack.py`` (the client) so the client reads as the API sequence; the words here
are the one-line ``DeliveryError`` hints (``not_in_channel`` → "invite the app to #ml-gpu").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import httpx

# ok:false errors that are worth another attempt: code -> may the failed attempt have acted?
TRANSIENT = {"ratelimited": False, "internal_error": True, "fatal_error": True,
             "service_unavailable": True, "request_timeout": True}
_AUTH = "check slack.bot_token / SLACK_BOT_TOKEN (the xoxb- token of the installed app)"
HINTS = {
    "not_in_channel": "invite the app to {where} (/invite @<app> in the channel)",
    "channel_not_found": "no channel {where} that the app can see: check the name, or invite "
                         "the app if the channel is private",
    "is_archived": "{where} is archived: unarchive it or send to another channel",
    "invalid_auth": "Slack rejected the bot token: " + _AUTH,
    "not_authed": "no token reached Slack: " + _AUTH,
    "token_revoked": "the bot token was revoked: reinstall the app and update slack.bot_token",
    "token_expired": "the bot token expired: " + _AUTH,
    "account_inactive": "the app was uninstalled or its bot deactivated: reinstall the app",
    "missing_scope": "the token lacks the scope {needed}: add it under OAuth & Permissions "
                     "and reinstall the app",
    "users_not_found": "no Slack user has the email {where}",
    "user_not_found": "no Slack user {where}",
    "user_disabled": "the Slack user {where} is deactivated",
    "cannot_dm_bot": "{where} is a bot; it cannot be sent a DM",
    "restricted_action": "a workspace setting keeps the app from posting in {where}",
    "ekm_access_denied": "a workspace administrator suspended posting",
    "file_uploads_disabled": "the workspace disabled file uploads: ask an admin, or deliver "
                             "the summary by webhook",
    "file_uploads_except_images_disabled": "the workspace allows only image uploads",
    "file_upload_size_restricted": "the file is larger than the workspace allows",
    "method_deprecated": "Slack retired this method",
    "msg_too_long": "the message is too long for Slack",
}


def answer_json(resp: "httpx.Response") -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def transient(resp: "httpx.Response") -> tuple[str, bool] | None:
    data = answer_json(resp) if resp.status_code == 200 else None
    if isinstance(data, dict) and not data.get("ok") and data.get("error") in TRANSIENT:
        return str(data["error"]), TRANSIENT[data["error"]]
    return None
