"""Alert channels: email (the delivery module's SMTP), Slack-compatible webhook, Alertmanager v2.

``deliver(channel, notices, ctx)`` hands a batch of due notifications (one check, one channel)
to the channel and returns, per notification, ``None`` (sent) or a one-line error. It never
raises for a delivery problem: the caller records failures and the next check retries them,
while other channels go on delivering.

Each message says **what** (the rule and its summary), **where** (cluster / namespace /
workload), **how much** (the figures, rounded to one decimal for display), **since when**
(firing since / resolved at) and **how to drill down** (a ``gpureport ask ...`` command whose
arguments are shell-quoted).

Why the batches look like this:

* Email: one message per check and channel listing every due notification (firing first), so a
  check that finds five idle workloads sends one email, not five.
* Webhook: Slack allows 50 blocks per message, so at most ``WEBHOOK_BATCH`` alerts per POST; each
  POST succeeds or fails on its own. Names from the data (workload names are chosen by anyone
  who can create a pod) are escaped for Slack mrkdwn (``&``, ``<``, ``>`` — this also defuses
  ``<!channel>`` and link injection) and the payload is built as data and JSON-encoded by
  httpx, never by string formatting.
* Alertmanager: one ``POST /api/v2/alerts`` with every due alert. Alertmanager compares
  ``startsAt``/``endsAt`` with *its own* clock, while our ``now`` may be fixed by ``--now``
  (tests, replays). So the times sent are wall-clock based: ``startsAt`` = when the alert
  started firing, but never later than the wall clock; ``endsAt`` = wall clock + TTL while
  firing (Alertmanager keeps it active that long without hearing from us; default 2 × repeat
  interval, at least 1 h — we re-post at every repeat), and = the wall clock on resolve
  (which Alertmanager then shows as resolved and drops from its active alerts). A resolve
  timestamped with a fixed ``--now`` in the future would otherwise stay "active" there.

HTTP: every request has a timeout; connection errors, timeouts, 5xx and 429 are retried
``retries`` times with exponential backoff (``backoff * 2**n`` s) within the check. Webhook
URLs carry their token in the path, so errors and logs only show ``mask_url``'s form.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from agent.errors import DeliveryError
from agent.periods import utc_text
from agent.text import mask_url, one_line
from reporter.durations import format_duration
from reporter.delivery import build_message, send_email, sender_address

if TYPE_CHECKING:  # pragma: no cover
    from reporter.alerts.state import Due
    from reporter.config import SMTPSettings

log = logging.getLogger(__name__)
WEBHOOK_BATCH = 10
SLACK_TEXT_LIMIT = 2900  # section text limit is 3000 characters
USER_AGENT = "gpureport-alerts"


@dataclass
class SendContext:
    """What channels need besides the notices. ``wall_now`` is the real clock (Alertmanager)."""

    smtp: "SMTPSettings | None" = None
    public_url: str | None = None
    now: datetime | None = None  # the check's now (message footers); None = wall clock
    wall_now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    sleep: Callable[[float], None] = time.sleep
    transport: Any = None  # an httpx transport, for tests that need one
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# what a notice says
def notice_view(due: "Due") -> dict[str, Any]:
    """The template/payload view of one due notification (plain strings, not yet escaped)."""
    row = due.row
    ann = row.annotations
    resolved = due.kind == "resolved"
    since = row.started_at or row.first_seen_at
    lines = [f"firing since {utc_text(since)}"]
    if resolved:
        lines.append(f"resolved at {utc_text(row.resolved_at)}"
                     + (f" ({ann['resolved_reason']})" if ann.get("resolved_reason") else ""))
    elif due.kind == "repeat":
        lines.append(f"reminder every {format_duration(due.repeat_interval)}")
    return {
        "status": "RESOLVED" if resolved else "FIRING",
        "kind": due.kind,
        "reminder": due.kind == "repeat",
        "rule": row.rule,
        "severity": row.severity,
        "summary": str(ann.get("summary") or row.rule),
        "description": str(ann.get("description") or ""),
        "drilldown": str(ann.get("drilldown") or ""),
        "where": row.where or "-",
        "labels": dict(row.labels),
        "since": utc_text(since),
        "resolved_at": utc_text(row.resolved_at) if resolved else None,
        "when": "; ".join(lines),
        "fingerprint": row.fingerprint,
        "figures": ann.get("figures") or {},
    }


def _order(notices: Sequence["Due"]) -> list["Due"]:
    rank = {"firing": 0, "repeat": 1, "resolved": 2}
    sev = {"critical": 0, "warning": 1, "info": 2}
    return sorted(notices, key=lambda d: (rank.get(d.kind, 9), sev.get(d.row.severity, 9),
                                          d.row.rule, d.row.where))


# --------------------------------------------------------------------------------------------
# templates
def templates_dir() -> Path:
    pkg = Path(__file__).resolve().parent.parent
    for candidate in (pkg / "_data" / "templates", pkg.parent / "templates"):
        if (candidate / "alert.txt.j2").is_file():
            return candidate
    raise FileNotFoundError("alert templates not found (templates/alert.txt.j2)")


def _jinja():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(str(templates_dir())),
                       autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def render_email(notices: Sequence["Due"], *, prefix: str = "[gpureport]",
                 generated_at: datetime | None = None) -> tuple[str, str, str]:
    """(subject, text, html) for one email listing ``notices``."""
    views = [notice_view(d) for d in _order(notices)]
    env = _jinja()
    ctx = {"notices": views, "generated_at": utc_text(generated_at or datetime.now(timezone.utc)),
           "firing": sum(v["status"] == "FIRING" for v in views),
           "resolved": sum(v["status"] == "RESOLVED" for v in views)}
    text = env.get_template("alert.txt.j2").render(**ctx)
    html = env.get_template("alert.html.j2").render(**ctx)
    if len(views) == 1:
        v = views[0]
        subject = f"{prefix} {v['status']} [{v['severity']}] {v['rule']}: {v['summary']}"
    else:
        counts = ", ".join(f"{n} {w}" for n, w in ((ctx["firing"], "firing"),
                                                   (ctx["resolved"], "resolved")) if n)
        subject = f"{prefix} {counts}: {views[0]['summary']} (+{len(views) - 1} more)"
    subject = " ".join(subject.split())[:250]
    return subject, text, html


# --------------------------------------------------------------------------------------------
# email
def send_email_batch(channel: Any, notices: Sequence["Due"], ctx: SendContext) -> str | None:
    if ctx.smtp is None:
        return "SMTP is not configured"
    subject, text, html = render_email(notices, prefix=channel.subject_prefix,
                                       generated_at=ctx.now or ctx.wall_now())
    try:
        msg = build_message(sender=sender_address(ctx.smtp), to=channel.to, subject=subject,
                            html=html, text=text)
        send_email(msg, ctx.smtp, sleep=ctx.sleep)
    except DeliveryError as exc:
        return one_line(exc)
    except (ValueError, TypeError) as exc:  # a header the email package refuses
        return f"cannot build the message: {exc}"
    return None


# --------------------------------------------------------------------------------------------
# HTTP
class _HTTPFailure(Exception):
    pass


def post_json(url: str, payload: Any, *, timeout: float, retries: int, backoff: float,
              sleep: Callable[[float], None] = time.sleep, transport: Any = None,
              what: str = "webhook") -> None:
    """POST JSON; retry transient failures; raise ``_HTTPFailure`` with a masked one-liner."""
    import httpx

    shown = mask_url(url)
    attempts = retries + 1
    last = ""
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                      headers={"User-Agent": USER_AGENT}) as client:
        for attempt in range(1, attempts + 1):
            try:
                resp = client.post(url, json=payload)
            except httpx.TransportError as exc:
                last = type(exc).__name__
            else:
                if 200 <= resp.status_code < 300:
                    return
                body = " ".join(resp.text[:160].split())
                last = f"HTTP {resp.status_code}" + (f" ({body})" if body else "")
                if resp.status_code < 500 and resp.status_code != 429:
                    raise _HTTPFailure(f"{what} {shown}: {last}")
            if attempt < attempts:
                delay = min(60.0, backoff * 2 ** (attempt - 1))
                log.warning("%s %s attempt %d/%d failed (%s); retrying in %.1f s", what, shown,
                            attempt, attempts, last, delay)
                if delay:
                    sleep(delay)
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    raise _HTTPFailure(f"{what} {shown}: failed after {tries} ({last})")


# --------------------------------------------------------------------------------------------
# Slack-compatible webhook
def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(notices: Sequence["Due"]) -> dict[str, Any]:
    """``{"text": fallback, "blocks": [...]}``: header, details section, context, divider."""
    views = [notice_view(d) for d in _order(notices)]
    blocks: list[dict[str, Any]] = []
    for v in views:
        tag = v["status"] + (" (reminder)" if v["reminder"] else "")
        blocks.append({"type": "header", "text": {
            "type": "plain_text", "text": _clip(f"{tag}: {v['rule']}", 150), "emoji": False}})
        details = (f"*{slack_escape(v['summary'])}*\n{slack_escape(v['description'])}\n"
                   f"*Where:* {slack_escape(v['where'])}\n*Since:* {slack_escape(v['when'])}")
        if v["drilldown"]:
            details += f"\n*Drill down:* `{slack_escape(v['drilldown']).replace('`', chr(39))}`"
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _clip(details, SLACK_TEXT_LIMIT)}})
        blocks.append({"type": "context", "elements": [{
            "type": "mrkdwn",
            "text": _clip(f"severity *{slack_escape(v['severity'])}* · fingerprint "
                          f"`{v['fingerprint'][:12]}` · gpureport", 2000)}]})
        blocks.append({"type": "divider"})
    fallback = "; ".join(f"{v['status']} {v['rule']}: {v['summary']}" for v in views)
    return {"text": _clip(slack_escape(fallback), 3000), "blocks": blocks[:50]}


def send_webhook(channel: Any, notices: Sequence["Due"], ctx: SendContext) -> list[str | None]:
    ordered = _order(notices)
    results: dict[int, str | None] = {}
    for i in range(0, len(ordered), WEBHOOK_BATCH):
        batch = ordered[i:i + WEBHOOK_BATCH]
        try:
            post_json(channel.url, slack_payload(batch), timeout=channel.timeout,
                      retries=channel.retries, backoff=channel.backoff, sleep=ctx.sleep,
                      transport=ctx.transport, what="webhook")
            error = None
        except _HTTPFailure as exc:
            error = str(exc)
        for d in batch:
            results[id(d)] = error
    return [results[id(d)] for d in notices]


# --------------------------------------------------------------------------------------------
# Alertmanager API v2
def _am_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alertmanager_payload(notices: Sequence["Due"], channel: Any, ctx: SendContext) -> list[dict]:
    wall = ctx.wall_now().astimezone(timezone.utc)
    out = []
    for d in notices:
        v = notice_view(d)
        row = d.row
        labels = {"alertname": row.rule, "severity": row.severity, "source": "gpureport",
                  **{k: str(val) for k, val in row.labels.items() if val}}
        kind = row.annotations.get("kind")
        if kind:
            labels["kind"] = str(kind)
        started = row.started_at or row.first_seen_at
        starts = min(started, wall)
        if d.kind == "resolved":
            ends = wall
        else:
            ttl = channel.alert_ttl or max(timedelta(hours=1), 2 * d.repeat_interval)
            ends = wall + ttl
        alert = {
            "labels": labels,
            "annotations": {"summary": v["summary"], "description": v["description"],
                            "drilldown": v["drilldown"], "fingerprint": row.fingerprint},
            "startsAt": _am_time(starts),
            "endsAt": _am_time(ends),
        }
        if ctx.public_url:
            alert["generatorURL"] = f"{ctx.public_url.rstrip('/')}/alerts/{row.fingerprint}"
        out.append(alert)
    return out


def send_alertmanager(channel: Any, notices: Sequence["Due"], ctx: SendContext) -> str | None:
    url = channel.url.rstrip("/") + "/api/v2/alerts"
    try:
        post_json(url, alertmanager_payload(notices, channel, ctx), timeout=channel.timeout,
                  retries=channel.retries, backoff=channel.backoff, sleep=ctx.sleep,
                  transport=ctx.transport, what="alertmanager")
    except _HTTPFailure as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------------------------
def deliver(channel: Any, notices: Sequence["Due"], ctx: SendContext) -> list[str | None]:
    """Send ``notices`` through ``channel``; per notice ``None`` (sent) or the error."""
    if not notices:
        return []
    try:
        if channel.type == "email":
            return [send_email_batch(channel, notices, ctx)] * len(notices)
        if channel.type == "webhook":
            return send_webhook(channel, notices, ctx)
        if channel.type == "alertmanager":
            return [send_alertmanager(channel, notices, ctx)] * len(notices)
    except Exception as exc:  # noqa: BLE001 - a bug in one channel must not stop the others
        # only the type: the message of an HTTP library error may contain the (secret) URL
        log.error("%s channel %s failed unexpectedly: %s", channel.type, channel.target(),
                  type(exc).__name__)
        log.debug("details", exc_info=exc)
        return [f"{channel.type} {channel.target()}: unexpected {type(exc).__name__}"] \
            * len(notices)
    return [f"unknown channel type {channel.type!r}"] * len(notices)


__all__ = ["SendContext", "deliver", "render_email", "slack_payload", "slack_escape",
           "alertmanager_payload", "notice_view", "post_json", "templates_dir"]
