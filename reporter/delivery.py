"""Email delivery: build a digest message, send it over SMTP with retries, or write it to disk.

The message is ``multipart/mixed``: a ``multipart/alternative`` body (plain text first, HTML
last, as RFC 2046 orders preference) followed by attachments (the PDF). ``Message-ID`` is made
here, before sending, so the run record can name the message whatever the server answers.

Why the retry rules look like this: connection failures, timeouts, dropped connections and 4xx
replies *before the DATA command* are worth another attempt (exponential backoff:
``retry_backoff * 2**n`` seconds, capped at 60 s); authentication failures, 5xx rejections, a
missing STARTTLS extension and a certificate that does not verify are not — repeating them only
delays the error the operator must fix. The TLS context is the system default (certificate and
host name verified); ``SSL_CERT_FILE`` points it at a private CA bundle.

After DATA it is different. The message is sent with smtplib's own steps (``mail``, ``rcpt``,
``data`` — what ``sendmail`` does), so the phase of a failure is known: once the DATA command
went out, a dropped connection or a timeout may come *after* the server accepted the message
(a slow relay answering late is the classic case). Sending again is how one digest becomes
four, so that is ``DeliveryUncertain`` and never retried; a reply the server did give (4xx/5xx
after the data) is a clear refusal and keeps the ordinary rules. ``before_data`` runs right
before DATA: the runner renews its claim there and refuses to send if it lost it.

``message_id_for`` makes the Message-ID deterministic per schedule, period, recipients and
claim generation, so a copy that did arrive can be recognised (and deduplicated) downstream.
"""

from __future__ import annotations

import copy
import hashlib
import io
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from agent.errors import DeliveryError, DeliveryUncertain, GpureportError

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


def message_id_for(schedule: str, period_start: datetime, period_end: datetime,
                   recipients: Sequence[str], generation: int = 1) -> str:
    """``<sha256-prefix@gpureport>`` of (schedule, period, recipients, generation): the same digest
    always carries the same Message-ID; ``--force`` (a new generation) makes a new one."""
    key = "\x00".join([schedule, period_start.astimezone(timezone.utc).isoformat(),
                       period_end.astimezone(timezone.utc).isoformat(),
                       *sorted(parseaddr(r)[1].lower() or r for r in recipients),
                       str(generation)])
    # 128 bits of the SHA-256: the header stays on one line (a folded one reads back with a
    # leading space)
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@gpureport>"


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


class _AfterData(Exception):
    """The connection failed after the DATA command was sent (carries the cause)."""


class _Aborted(Exception):
    """``before_data`` refused: carries its exception, raised unchanged by ``send_email``."""


def _flatten(msg: EmailMessage, client: smtplib.SMTP, from_addr: str,
             to_addrs: Sequence[str]) -> tuple[bytes, list[str]]:
    """What ``SMTP.send_message`` puts on the wire (Bcc dropped, SMTPUTF8 when needed)."""
    options: list[str] = []
    msg_copy = copy.copy(msg)
    del msg_copy["Bcc"]
    del msg_copy["Resent-Bcc"]
    try:
        "".join([from_addr, *to_addrs]).encode("ascii")
        gen_policy = None
    except UnicodeEncodeError:
        if not client.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "One or more source or delivery addresses require internationalized email "
                "support, but the server does not advertise the required SMTPUTF8 "
                "capability") from None
        gen_policy = msg.policy.clone(utf8=True)
        options += ["SMTPUTF8", "BODY=8BITMIME"]
    with io.BytesIO() as out:
        gen = BytesGenerator(out, policy=gen_policy) if gen_policy else BytesGenerator(out)
        gen.flatten(msg_copy, linesep="\r\n")
        data = out.getvalue()
    if client.does_esmtp and client.has_extn("size"):
        options.append(f"size={len(data)}")
    return data, options


def _transaction(client: smtplib.SMTP, msg: EmailMessage, from_addr: str,
                 to_addrs: Sequence[str], before_data: Callable[[], None] | None
                 ) -> dict[str, tuple[int, bytes]]:
    """MAIL, RCPT per recipient, then DATA — ``sendmail``'s steps, one at a time."""
    data, options = _flatten(msg, client, from_addr, to_addrs)
    code, resp = client.mail(from_addr, options)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, resp, from_addr)
    refused: dict[str, tuple[int, bytes]] = {}
    for addr in to_addrs:
        code, resp = client.rcpt(addr)
        if code not in (250, 251):
            refused[addr] = (code, resp)
    if len(refused) == len(to_addrs):
        raise smtplib.SMTPRecipientsRefused(refused)
    if before_data is not None:
        try:
            before_data()
        except Exception as exc:  # noqa: BLE001 - the caller's reason not to send
            raise _Aborted() from exc
    try:
        code, resp = client.data(data)
    except smtplib.SMTPResponseException:
        raise  # the server answered: a clear refusal
    except BaseException as exc:  # dropped, timed out, SIGTERM: the server may have it
        raise _AfterData() from exc
    if code != 250:
        raise smtplib.SMTPDataError(code, resp)
    return refused


def _send_once(msg: EmailMessage, settings: "SMTPSettings", from_addr: str,
               to_addrs: Sequence[str],
               before_data: Callable[[], None] | None = None) -> dict[str, str]:
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
        refused = _transaction(client, msg, from_addr, to_addrs, before_data)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
    return {addr: f"{code} {m.decode('utf-8', 'replace') if isinstance(m, bytes) else m}"
            for addr, (code, m) in (refused or {}).items()}


def send_email(msg: EmailMessage, settings: "SMTPSettings", *,
               to_addrs: Sequence[str] | None = None,
               sleep: Callable[[float], None] = time.sleep,
               before_data: Callable[[], None] | None = None) -> SendResult:
    """Send ``msg``; retry failures before DATA with backoff; raise ``DeliveryError`` at the
    end, or ``DeliveryUncertain`` (at once) when the connection failed after DATA.

    ``before_data()`` runs before each DATA command; an exception it raises stops the send
    (nothing was transmitted) and leaves ``send_email`` unchanged.
    """
    if not settings.host:
        raise DeliveryError("smtp.host is not set (config smtp.host or SMTP_HOST)",
                            attempts=0, permanent=True)
    from_addr = parseaddr(str(msg["From"]))[1]
    to = list(to_addrs) if to_addrs is not None else \
        [parseaddr(a.strip())[1] for a in str(msg["To"]).split(",")]
    where = f"{settings.host}:{settings.port}"
    message_id = str(msg["Message-ID"])
    attempts_allowed = settings.retries + 1
    for attempt in range(1, attempts_allowed + 1):
        try:
            refused = _send_once(msg, settings, from_addr, to, before_data)
            if refused:
                log.warning("SMTP %s accepted the message but refused %s", where,
                            ", ".join(refused))
            return SendResult(message_id, attempt, refused)
        except _Aborted as exc:
            raise exc.__cause__ from None  # type: ignore[misc]
        except GpureportError:
            raise  # ours (SIGTERM as Interrupted): not an SMTP failure to classify
        except _AfterData as exc:
            reason, _ = _classify(exc.__cause__ or exc, settings)
            raise DeliveryUncertain(
                f"SMTP delivery via {where}: the connection failed after the message data "
                f"was sent ({reason}); it may or may not have been delivered "
                f"(Message-ID {message_id})", attempts=attempt,
                message_id=message_id) from exc.__cause__
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


__all__ = ["Attachment", "DeliveryError", "DeliveryUncertain", "SendResult", "build_message",
           "message_id_for", "send_email", "sender_address", "write_eml"]
