"""Email delivery: build a digest message, send it over SMTP with retries, or write it to disk.

The message is ``multipart/mixed``: a ``multipart/alternative`` body (plain text first, HTML
last, as RFC 2046 orders preference) followed by attachments (the PDF). ``Message-ID`` is made
here, before sending, so the run record can name the message whatever the server answers.

Why the retry rules look like this: connection failures, timeouts, dropped connections and 4xx
replies are worth another attempt (exponential backoff: ``retry_backoff * 2**n`` seconds, capped
at 60 s); authentication failures, 5xx rejections, a missing STARTTLS extension and a
certificate that does not verify are not — repeating them only delays the error the operator
must fix. The TLS context is the system default (certificate and host name verified);
``SSL_CERT_FILE`` points it at a private CA bundle.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from agent.errors import DeliveryError

if TYPE_CHECKING:  # pragma: no cover
    from reporter.config import SMTPSettings

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    mime_type: str = "application/pdf"


@dataclass(frozen=True)
class SendResult:
    message_id: str
    attempts: int
    refused: dict[str, str] = field(default_factory=dict)  # address -> server reply


def sender_address(settings: "SMTPSettings") -> str:
    """``smtp.from``, else the SMTP user when it is an address, else ``gpureport@localhost``."""
    if settings.from_:
        return settings.from_
    if settings.user and "@" in settings.user:
        return settings.user
    return "gpureport@localhost"


def build_message(*, sender: str, to: Sequence[str], subject: str, html: str, text: str,
                  attachments: Sequence[Attachment] = (), message_id: str | None = None,
                  date: datetime | None = None) -> EmailMessage:
    """A complete message; header values with line breaks are refused by ``email`` itself."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime.now(timezone.utc))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = message_id or make_msgid(idstring="gpureport", domain=domain)
    msg.set_content(text or " ", subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    for a in attachments:
        maintype, _, subtype = a.mime_type.partition("/")
        msg.add_attachment(a.data, maintype=maintype, subtype=subtype, filename=a.filename)
    return msg


def write_eml(msg: EmailMessage, path: Path) -> Path:
    """The message exactly as it would go on the wire (CRLF line ends), for ``--dry-run``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(msg.as_bytes(policy=policy.SMTP))
    tmp.replace(path)  # never leave half a message behind
    return path


def _reply(exc: smtplib.SMTPResponseException) -> str:
    err = exc.smtp_error
    text = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
    return f"{exc.smtp_code} {' '.join(text.split())}"


def _classify(exc: BaseException, settings: "SMTPSettings") -> tuple[str, bool]:
    """(one-line reason, permanent?)"""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"authentication failed for user {settings.user!r} ({_reply(exc)})", True
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        text = str(exc).rstrip(".")
        if "STARTTLS" in text:
            text += (" (smtp.ssl: true for implicit TLS; smtp.starttls: false only if the "
                     "network is trusted)")
        elif "AUTH" in text:
            text += " (smtp.user is set; many servers offer AUTH only over TLS)"
        return text, True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = {addr: f"{code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
                   for addr, (code, msg) in exc.recipients.items()}
        permanent = all(code >= 500 for code, _ in exc.recipients.values())
        listed = "; ".join(f"{a}: {r}" for a, r in replies.items())
        return f"all recipients refused ({listed})", permanent
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"server closed the connection ({exc or 'no reason given'})", False
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"server replied {_reply(exc)}", exc.smtp_code >= 500
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message or exc})", True
    if isinstance(exc, (TimeoutError, ssl.SSLError, OSError, smtplib.SMTPException)):
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return reason or type(exc).__name__, False
    return f"{type(exc).__name__}: {exc}", True


def _send_once(msg: EmailMessage, settings: "SMTPSettings", from_addr: str,
               to_addrs: Sequence[str]) -> dict[str, str]:
    host = settings.host or "localhost"
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.ssl:
        client = smtplib.SMTP_SSL(host, settings.port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(host, settings.port, timeout=settings.timeout)
    try:
        client.ehlo()
        if settings.starttls and not settings.ssl:
            client.starttls(context=context)
            client.ehlo()
        if settings.user:
            password = settings.password.get_secret_value() if settings.password else ""
            client.login(settings.user, password)
        refused = client.send_message(msg, from_addr=from_addr, to_addrs=list(to_addrs))
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
    return {addr: f"{code} {m.decode('utf-8', 'replace') if isinstance(m, bytes) else m}"
            for addr, (code, m) in (refused or {}).items()}


def send_email(msg: EmailMessage, settings: "SMTPSettings", *,
               to_addrs: Sequence[str] | None = None,
               sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """Send ``msg``; retry transient failures with backoff; raise ``DeliveryError`` at the end."""
    if not settings.host:
        raise DeliveryError("smtp.host is not set (config smtp.host or SMTP_HOST)",
                            attempts=0, permanent=True)
    from_addr = parseaddr(str(msg["From"]))[1]
    to = list(to_addrs) if to_addrs is not None else \
        [parseaddr(a.strip())[1] for a in str(msg["To"]).split(",")]
    where = f"{settings.host}:{settings.port}"
    attempts_allowed = settings.retries + 1
    for attempt in range(1, attempts_allowed + 1):
        try:
            refused = _send_once(msg, settings, from_addr, to)
            if refused:
                log.warning("SMTP %s accepted the message but refused %s", where,
                            ", ".join(refused))
            return SendResult(str(msg["Message-ID"]), attempt, refused)
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised as DeliveryError
            reason, permanent = _classify(exc, settings)
            if permanent or attempt == attempts_allowed:
                tries = f"{attempt} attempt{'s' if attempt != 1 else ''}"
                raise DeliveryError(f"SMTP delivery via {where} failed after {tries}: {reason}",
                                    attempts=attempt, permanent=permanent) from exc
            delay = min(MAX_BACKOFF_S, settings.retry_backoff * 2 ** (attempt - 1))
            log.warning("SMTP attempt %d/%d via %s failed (%s); retrying in %.1f s",
                        attempt, attempts_allowed, where, reason, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["Attachment", "DeliveryError", "SendResult", "build_message", "send_email",
           "sender_address", "write_eml"]
