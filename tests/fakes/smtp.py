"""A real SMTP server (aiosmtpd) on 127.0.0.1, a server that is down, and a test certificate.

The contract spoken is SMTP itself (RFC 5321, with STARTTLS per RFC 3207, implicit TLS and
AUTH PLAIN/LOGIN per RFC 4954): aiosmtpd is a real server, so gpureport's ``smtplib`` client is
exercised exactly as against Postfix or a mail relay.

* ``smtp_server(mode, auth=..., answer_delay=...)`` runs aiosmtpd in a thread — ``plain``,
  ``starttls`` (STARTTLS required) or ``ssl`` (implicit TLS) — optionally demanding AUTH
  (PLAIN/LOGIN) with one user and password, and collects every accepted message
  (``messages``, ``wait_for(n)``); ``answer_delay`` answers DATA late (after keeping it).
* ``self_signed_cert(dir)`` makes a certificate for 127.0.0.1/localhost with ``cryptography``;
  point ``SSL_CERT_FILE`` at it and the client's default TLS context trusts it.
* ``DroppingServer`` accepts TCP connections and closes them at once: an SMTP server that is
  "down" in the way that makes clients retry, and it counts the attempts.
* ``tiny_pdf(text)`` is a valid one-page PDF to attach.
"""

from __future__ import annotations

import datetime as _dt
import email
import email.policy
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tests.fakes import free_port


# --------------------------------------------------------------------------------------------
def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files valid for 127.0.0.1 and localhost for one day."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gpureport test SMTP")])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


# --------------------------------------------------------------------------------------------
@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    tls: bool

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class SMTPTestServer:
    host: str
    port: int
    mode: str
    messages: list[Received] = field(default_factory=list)
    failed_logins: int = 0

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.messages)


def _is_tls(smtp, session) -> bool:
    """STARTTLS sets ``session.ssl``; implicit TLS shows only on the transport."""
    transport = getattr(smtp, "transport", None)
    return session.ssl is not None or bool(
        transport is not None and transport.get_extra_info("ssl_object") is not None)


class _Handler:
    def __init__(self, server: SMTPTestServer, answer_delay: float = 0.0) -> None:
        self.server = server
        self.answer_delay = answer_delay

    async def handle_DATA(self, smtp, session, envelope):  # noqa: N802 - aiosmtpd hook name
        login = session.auth_data.login.decode() if getattr(session, "auth_data", None) else None
        self.server.messages.append(Received(
            envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or
            envelope.content, login, _is_tls(smtp, session)))
        if self.answer_delay:  # accepted (kept) but answered late: a slow relay
            import asyncio

            await asyncio.sleep(self.answer_delay)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(mode: str = "plain", *, auth: tuple[str, str] | None = None,
                cert: tuple[Path, Path] | None = None,
                answer_delay: float = 0.0) -> Iterator[SMTPTestServer]:
    """A running aiosmtpd server; ``mode`` is plain | starttls | ssl. ``answer_delay``: keep
    each message, then wait that long before answering its DATA (a client with a shorter
    timeout cannot know the message was accepted)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    port = free_port()
    server = SMTPTestServer("127.0.0.1", port, mode)
    kwargs: dict = {}
    tls_ctx = None
    if mode in ("starttls", "ssl"):
        assert cert is not None, "TLS modes need a certificate"
        tls_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    if mode == "starttls":
        kwargs.update(tls_context=tls_ctx, require_starttls=True)
    if auth is not None:
        def authenticator(_smtp, _session, _envelope, _mechanism, data):
            ok = (data.login.decode(), data.password.decode()) == auth
            if not ok:
                server.failed_logins += 1
            return AuthResult(success=ok, handled=False, auth_data=data)

        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=mode == "starttls")  # aiosmtpd counts STARTTLS only
    controller = Controller(_Handler(server, answer_delay), hostname="127.0.0.1", port=port,
                            ssl_context=tls_ctx if mode == "ssl" else None, **kwargs)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


class DroppingServer:
    """Accepts TCP connections and closes them immediately; counts them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.times: list[float] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            self.times.append(time.monotonic())
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


# --------------------------------------------------------------------------------------------
def tiny_pdf(text: str = "gpureport test report") -> bytes:
    """A valid one-page PDF (correct xref offsets) showing ``text``."""
    content = f"BT /F1 12 Tf 10 50 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out
