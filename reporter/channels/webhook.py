"""What every incoming webhook has in common: a secret URL, a JSON post with retries, and an
outcome. ``SlackWebhook`` and ``TeamsWebhook`` say only how a summary looks (``payload``) and
how their service says no (``check``).

The URL is the credential (Slack's path, Teams' path and ``sig``): it is kept private to the
instance, and ``repr()``, messages, logs and ``DeliveryOutcome.target`` show ``mask_url``'s
form only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from agent.errors import DeliveryError
from agent.text import mask_url, one_line
from reporter.channels.http import (RetryPolicy, client, delivery_error, post_webhook,
                                    response_reason, scrub)
from reporter.channels.summary import ChannelKind, DeliveryOutcome, Summary

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import SecretStr


class Webhook:
    """One webhook URL; ``settings`` (a config section) gives timeout, retries, backoff."""

    channel: ClassVar[ChannelKind]
    label: ClassVar[str]  # "Slack webhook"
    section: ClassVar[str]  # the config section named in messages: "slack"

    def __init__(self, url: "str | SecretStr", settings: Any = None, *, transport: Any = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        raw = url.get_secret_value() if hasattr(url, "get_secret_value") else str(url or "")
        self._url = raw.strip()
        self.shown = mask_url(self._url) or "(no URL)"
        self.policy = RetryPolicy.of(settings, self.section) if settings is not None else \
            RetryPolicy(setting=f"{self.section}.max_retry_after")
        self._transport, self._sleep = transport, sleep

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.shown!r})"

    render: ClassVar[Callable[[Summary], dict[str, Any]]]  # summary -> the JSON posted

    def payload(self, summary: Summary) -> dict[str, Any]:
        return type(self).render(summary)

    def check(self, status: int, reason: str, what: str) -> None:
        """Raise ``DeliveryError`` unless the final answer (not 429/5xx: HTTP ``status``, the
        body's one-line ``reason``, already scrubbed) means delivered."""
        raise NotImplementedError

    def post(self, body: dict[str, Any]) -> None:
        """POST ``body``; ``DeliveryError`` (one line, URL masked) when it is not taken."""
        what = f"{self.label} {self.shown}"
        if not self._url.startswith(("http://", "https://")):
            raise delivery_error(f"{what}: not an http(s) URL")
        with client(self.policy, self._transport) as http:
            resp = post_webhook(http, self._url, body, what=what, policy=self.policy,
                                sleep=self._sleep)
        self.check(resp.status_code, scrub(response_reason(resp), [self._url]), what)

    def send(self, summary: Summary) -> DeliveryOutcome:
        """Post the summary; the outcome says what happened (never raises for a refusal)."""
        try:
            self.post(self.payload(summary))
        except DeliveryError as exc:
            return DeliveryOutcome(self.channel, self.shown, "failed", one_line(exc),
                                   error_code=getattr(exc, "code", None))
        return DeliveryOutcome(self.channel, self.shown, "sent")


__all__ = ["Webhook"]
