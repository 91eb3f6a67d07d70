"""HTTP for the chat channels: one retry loop, honest about what a retry may repeat.

``with_retries(do, ...)`` calls ``do()`` (one HTTP request) until the answer is final:

* **transient** — a transport error, HTTP 5xx, HTTP 429, or a body the caller's
  ``transient(resp)`` hook calls transient (Slack answers ``{"ok": false, "error":
  "ratelimited"}`` or ``internal_error`` with HTTP 200) — is tried again, up to
  ``policy.retries`` more times, after ``backoff * 2**n`` seconds (capped at 60 s);
* a 429 waits what its ``Retry-After`` header says (seconds or an HTTP date). A wait longer
  than ``policy.max_retry_after`` is not sat out: the send fails at once with a line that says
  so, and the next run tries again (a scheduler thread blocked for an hour helps nobody);
* anything else (2xx, 4xx) is returned for the caller to interpret.

Why "ambiguous" matters: a connect error means the request never left, a 429 means it was
refused — retrying those cannot post twice. A 5xx, a read timeout or a dropped connection
after the request was sent may mean the server *did* act. For those, the caller can pass
``already_done()``: asked before each retry, it checks whether the first attempt took effect
(Slack: ``files.info`` shows the file shared in the channel), and if so the loop stops and
returns ``None`` instead of repeating the post.

When attempts run out, ``DeliveryError`` says what was tried, how often and the last reason,
with ``permanent=False``. Messages and log lines name the request by ``what`` (already
masked by the caller) and pass every text through ``scrub`` with the caller's secrets, so a
token or a webhook path never reaches an exception, a log record or a run record.

Importing this module also puts a filter on httpx's own logger: httpx logs every request's
full URL at INFO, which for a webhook or a Slack upload URL *is* the credential; the filter
rewrites those URLs to ``mask_url``'s form.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import urlsplit

from agent.errors import DeliveryError
from agent.text import MASK, mask_url, one_line

if TYPE_CHECKING:  # pragma: no cover
    import httpx

log = logging.getLogger(__name__)
USER_AGENT = "gpureport-channels"
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    max_retry_after: float = 60.0
    setting: str = "max_retry_after"  # the config key named when a Retry-After is too long

    @classmethod
    def of(cls, settings, section: str) -> "RetryPolicy":
        """From a ``SlackSettings``/``MSTeamsSettings`` (``section`` names it in messages)."""
        return cls(settings.timeout, settings.retries, settings.retry_backoff,
                   settings.max_retry_after, f"{section}.max_retry_after")


def delivery_error(message: str, *, code: str | None = None, attempts: int = 0,
                   permanent: bool = True) -> DeliveryError:
    """A one-line ``DeliveryError``; ``code`` (the service's error code, e.g. Slack's
    ``not_in_channel``) is kept on it as ``.code`` for callers that branch on it."""
    err = DeliveryError(one_line(message), attempts=attempts, permanent=permanent)
    err.code = code  # type: ignore[attr-defined]
    return err


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (a token, a raw URL) replaced by ``***``, on one line."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return one_line(text)


def retry_after(resp: "httpx.Response", now: datetime | None = None) -> float | None:
    """Seconds a 429 asks us to wait (``Retry-After``: delta-seconds or an HTTP date)."""
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _body(resp: "httpx.Response", limit: int = 160) -> str:
    try:
        return " ".join(resp.text[:limit].split())
    except Exception:  # noqa: BLE001 - an undecodable body is not worth failing over
        return ""


def with_retries(do: Callable[[], "httpx.Response"], *, what: str, policy: RetryPolicy,
                 sleep: Callable[[float], None] = time.sleep,
                 transient: Callable[["httpx.Response"], tuple[str, bool] | None] | None = None,
                 already_done: Callable[[], bool] | None = None,
                 secrets: Iterable[str | None] = ()) -> "httpx.Response | None":
    """The final response of ``do()`` (see the module docstring); ``None`` when a retry was
    skipped because ``already_done()`` found that an earlier attempt took effect."""
    import httpx

    secrets = list(secrets)
    attempts = policy.retries + 1
    last = ""
    for attempt in range(1, attempts + 1):
        ambiguous = False
        delay = min(MAX_BACKOFF_S, policy.backoff * 2 ** (attempt - 1))
        try:
            resp = do()
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise DeliveryError(scrub(f"{what}: not a usable URL ({exc})", secrets),
                                attempts=attempt, permanent=True) from None
        except httpx.TransportError as exc:
            last = scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                         secrets)
            # ConnectError/ConnectTimeout: nothing was sent. Anything later may have been.
            ambiguous = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
        else:
            verdict = transient(resp) if transient is not None else None
            if resp.status_code == 429 or (verdict and resp.status_code < 300
                                           and verdict[0] == "ratelimited"):
                wait = retry_after(resp)
                last = f"HTTP {resp.status_code} rate limited" + (
                    f" (Retry-After {wait:g} s)" if wait is not None else "")
                if wait is not None:
                    if wait > policy.max_retry_after:
                        raise DeliveryError(
                            f"{what}: rate limited; the server asks to wait {wait:g} s, more "
                            f"than {policy.setting} ({policy.max_retry_after:g} s); the next "
                            f"run will try again", attempts=attempt, permanent=False)
                    delay = wait
            elif resp.status_code >= 500:
                body = scrub(_body(resp), secrets)
                last = f"HTTP {resp.status_code}" + (f" ({body})" if body else "")
                ambiguous = True
            elif verdict is not None:
                last, ambiguous = verdict
            else:
                return resp
        if ambiguous and already_done is not None:
            try:
                done = already_done()
            except DeliveryError as exc:  # cannot tell: retrying is at-least-once, say so
                log.warning("%s: could not check whether the failed attempt took effect (%s); "
                            "retrying may post twice", what, one_line(exc))
                done = False
            if done:
                log.info("%s: attempt %d failed (%s) but had taken effect; not repeating it",
                         what, attempt, last)
                return None
        if attempt == attempts:
            break
        log.warning("%s: attempt %d/%d failed (%s); retrying in %.1f s", what, attempt,
                    attempts, last, delay)
        if delay:
            sleep(delay)
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    raise DeliveryError(f"{what}: failed after {tries} ({last})", attempts=attempts,
                        permanent=False)


def client(policy: RetryPolicy, transport=None) -> "httpx.Client":
    """An httpx client with the policy's timeout, no redirects (a redirect of a POST carrying a
    token to another host is never wanted), and our User-Agent."""
    import httpx

    return httpx.Client(timeout=policy.timeout, transport=transport, follow_redirects=False,
                        headers={"User-Agent": USER_AGENT})


def post_webhook(http: "httpx.Client", url: str, payload: Any, *, what: str,
                 policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep
                 ) -> "httpx.Response":
    """POST ``payload`` as UTF-8 JSON to a webhook ``url`` (a secret: scrubbed from every
    message) with the retries above; the final response is the caller's to read."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    path = urlsplit(url).path
    resp = with_retries(
        lambda: http.post(url, content=body,
                          headers={"Content-Type": "application/json; charset=utf-8"}),
        what=what, policy=policy, sleep=sleep,
        secrets=[url, path if len(path) > 8 else None])
    assert resp is not None  # no already_done: a response or an exception
    return resp


def response_reason(resp: "httpx.Response", limit: int = 160) -> str:
    """A short one-line form of an error response's body (webhooks answer plain text)."""
    return _body(resp, limit)


class _MaskURLs(logging.Filter):
    """Rewrite URL arguments of httpx's log records (``HTTP Request: POST <url> ...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                mask_url(str(a)) if type(a).__name__ == "URL"
                or (isinstance(a, str) and a.startswith(("http://", "https://"))) else a
                for a in record.args)
        return True


def _install_log_mask() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _MaskURLs) for f in logger.filters):
        logger.addFilter(_MaskURLs())


_install_log_mask()


__all__ = ["RetryPolicy", "USER_AGENT", "client", "delivery_error", "post_webhook",
           "response_reason",
           "retry_after", "scrub", "with_retries"]
