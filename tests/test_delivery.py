"""Email delivery against a real SMTP server (aiosmtpd on 127.0.0.1): plain, STARTTLS, TLS, AUTH."""

from __future__ import annotations

import io
import socket
import time

import pytest

from reporter.config import SMTPSettings
from reporter.delivery import (Attachment, DeliveryError, build_message, send_email,
                               sender_address, write_eml)
from tests.fakes.smtp import DroppingServer, self_signed_cert, smtp_server, tiny_pdf

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

HTML = "<html><body><h1>Weekly digest</h1><p>ml-team 61.5% &lt;script&gt;</p></body></html>"
TEXT = "Weekly digest\nml-team 61.5%\n"
TO = ["Alice <alice@example.com>", "bob@example.org"]


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trust(cert, monkeypatch):
    """Make the client's default TLS context trust the test certificate (as SSL_CERT_FILE does)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))


def _message(pdf: bytes | None = None, subject: str = "GPU weekly digest 2026-W46"):
    attachments = [Attachment("weekly-digest-2026-W46.pdf", pdf)] if pdf else []
    return build_message(sender="gpureport@example.net", to=TO, subject=subject, html=HTML,
                         text=TEXT, attachments=attachments)


def _settings(port: int, **kw) -> SMTPSettings:
    base = dict(host="127.0.0.1", port=port, starttls=False, timeout=5, retries=0,
                retry_backoff=0.05)
    base.update(kw)
    return SMTPSettings(**base)


def _assert_digest(received, pdf: bytes) -> None:
    """HTML body, plain text part, PDF attachment, subject and recipients as sent."""
    from pypdf import PdfReader

    assert received.mail_from == "gpureport@example.net"
    assert received.rcpt_tos == ["alice@example.com", "bob@example.org"]
    msg = received.message
    assert msg["Subject"] == "GPU weekly digest 2026-W46"
    assert msg["To"] == "Alice <alice@example.com>, bob@example.org"
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@example.net>")
    assert msg.get_content_type() == "multipart/mixed"
    body, attachment = msg.get_payload()
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.get_payload()] == ["text/plain", "text/html"]
    def content(part):  # the wire format ends lines with CRLF
        return part.get_content().replace("\r\n", "\n")

    assert content(msg.get_body(("plain",))) == TEXT
    assert content(msg.get_body(("html",))).strip() == HTML
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "weekly-digest-2026-W46.pdf"
    assert attachment.get_content() == pdf
    assert "GPU digest" in PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()


def test_plain_smtp_delivers_html_text_and_pdf():
    pdf = tiny_pdf("GPU digest 2026-W46")
    with smtp_server("plain") as server:
        result = send_email(_message(pdf), _settings(server.port))
        (received,) = server.wait_for(1)
    assert result.attempts == 1 and result.refused == {}
    assert result.message_id == received.message["Message-ID"]
    assert received.tls is False and received.login is None
    _assert_digest(received, pdf)


def test_starttls_with_self_signed_certificate_and_auth(cert, trust):
    pdf = tiny_pdf("GPU digest 2026-W46")
    with smtp_server("starttls", cert=cert, auth=("digest", "pa55")) as server:
        send_email(_message(pdf), _settings(server.port, starttls=True, user="digest",
                                            password="pa55"))
        (received,) = server.wait_for(1)
    assert received.tls is True and received.login == "digest"
    _assert_digest(received, pdf)


def test_implicit_tls_with_auth(cert, trust):
    pdf = tiny_pdf("GPU digest 2026-W46")
    with smtp_server("ssl", cert=cert, auth=("digest", "pa55")) as server:
        send_email(_message(pdf), _settings(server.port, ssl=True, user="digest",
                                            password="pa55"))
        (received,) = server.wait_for(1)
    assert received.tls is True and received.login == "digest"
    _assert_digest(received, pdf)


def test_auth_over_plain_connection():
    with smtp_server("plain", auth=("digest", "pa55")) as server:
        send_email(_message(), _settings(server.port, user="digest", password="pa55"))
        (received,) = server.wait_for(1)
    assert received.login == "digest"


def test_wrong_password_fails_at_once_without_retrying(cert, trust):
    with smtp_server("starttls", cert=cert, auth=("digest", "pa55")) as server:
        with pytest.raises(DeliveryError) as info:
            send_email(_message(), _settings(server.port, starttls=True, user="digest",
                                             password="wrong", retries=3))
        # one session: smtplib offers the password once per mechanism (PLAIN, LOGIN), no retry
        assert server.failed_logins == 2 and server.messages == []
    err = info.value
    assert err.permanent and err.attempts == 1
    assert "authentication failed for user 'digest'" in str(err) and "wrong" not in str(err)
    assert "\n" not in str(err)


def test_untrusted_certificate_is_a_permanent_error(cert, monkeypatch, tmp_path):
    other_ca, _ = self_signed_cert(tmp_path / "other")
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    with smtp_server("starttls", cert=cert) as server:
        with pytest.raises(DeliveryError) as info:
            send_email(_message(), _settings(server.port, starttls=True, retries=2))
    assert info.value.permanent and info.value.attempts == 1
    assert "certificate" in str(info.value)


def test_starttls_demanded_but_not_offered():
    with smtp_server("plain") as server:
        with pytest.raises(DeliveryError) as info:
            send_email(_message(), _settings(server.port, starttls=True, retries=2))
        assert server.messages == []
    assert info.value.permanent and "STARTTLS" in str(info.value)


def test_server_down_retries_with_exponential_backoff():
    """retries=3 -> 4 connection attempts, spaced >= 0.1, 0.2, 0.4 s; then a one-line error."""
    down = DroppingServer()
    try:
        with pytest.raises(DeliveryError) as info:
            send_email(_message(), _settings(down.port, retries=3, retry_backoff=0.1))
        time.sleep(0.2)
        assert down.connections == 4
        gaps = [b - a for a, b in zip(down.times, down.times[1:])]
    finally:
        down.close()
    assert [round(g, 1) >= want for g, want in zip(gaps, (0.1, 0.2, 0.4))] == [True] * 3
    err = info.value
    assert not err.permanent and err.attempts == 4
    assert str(err).startswith(f"SMTP delivery via 127.0.0.1:{down.port} failed after 4 attempts")
    assert "closed the connection" in str(err)


def test_connection_refused_is_reported():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as info:
        send_email(_message(), _settings(port, retries=1, retry_backoff=0.01))
    assert info.value.attempts == 2 and "refused" in str(info.value).lower()


def test_no_host_configured():
    with pytest.raises(DeliveryError, match="smtp.host is not set"):
        send_email(_message(), SMTPSettings())


def test_eml_file_is_the_wire_format(tmp_path):
    import email
    import email.policy

    pdf = tiny_pdf()
    path = write_eml(_message(pdf), tmp_path / "out" / "digest.eml")
    raw = path.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "GPU weekly digest 2026-W46"
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf"]
    assert not list(tmp_path.glob("out/*.tmp"))


def test_header_injection_is_refused():
    with pytest.raises(ValueError):
        _message(subject="hello\r\nBcc: victim@example.com")


def test_sender_address_fallbacks():
    assert sender_address(SMTPSettings(**{"from": "Digest <d@x.org>"})) == "Digest <d@x.org>"
    assert sender_address(SMTPSettings(user="me@x.org")) == "me@x.org"
    assert sender_address(SMTPSettings(user="me")) == "gpureport@localhost"
