"""Logging for every command: levels, quiet third-party loggers, and no secret in any record.

``configure(verbose, service=False)`` is called once by ``reporter.cli.main`` (and again by
``scheduler run``, whose log is its output): WARNING by default, INFO at ``-v``, DEBUG at
``-vv``; a long-running service logs INFO even without ``-v``. One stderr handler on the root
logger: bare messages by default (as Python's last-resort handler prints them), level and
logger name with ``-v``, time stamps for services.

Third-party HTTP and scheduling loggers stay at WARNING whatever the verbosity (``QUIET``):
httpx logs every request URL at INFO (a Slack webhook's token is its path, an Alertmanager URL
may carry ``user:password@``), httpcore/urllib3 narrate connections at DEBUG, APScheduler
announces every job run. Their warnings and errors still come through.

Redaction: ``Redactor`` is a ``logging.Filter`` that rewrites a record's message (with its
``%`` arguments already merged), its formatted exception and stack so that they carry no
credentials: every URL goes through ``agent.text.mask_url`` (password of the userinfo, secret
query parameters, Slack ``/services/…`` paths and token-like segments), and patterns catch
what is not a URL — ``Authorization: Bearer …``/``Basic …``, ``password=…``, ``api_key: …``,
``token=…``, Slack ``xox?-…`` tokens, ``sk-…`` API keys, ``://user:pass@`` — plus the exact
secret values of the loaded configuration (``add_secrets``). It is installed twice over:

* on every handler of the root logger and of every logger that has handlers at configure time;
* as the log-record factory, so that a record is redacted when it is *made* — whatever logger
  emits it and whatever handler a library adds later sees only the redacted text.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from typing import Iterable

from agent.text import MASK, mask_url

QUIET = ("httpx", "httpcore", "urllib3", "hpack", "h2", "openai", "apscheduler",
         "apscheduler.scheduler", "apscheduler.executors.default", "asyncio", "aiosmtpd",
         "mail.log", "multipart", "weasyprint", "fontTools", "alembic", "sqlalchemy",
         "psycopg", "langchain", "langgraph", "langsmith", "PIL", "matplotlib", "filelock")
FORMAT = "%(levelname)s %(name)s: %(message)s"
SERVICE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer abc / authorization=Basic abc / 'Authorization': 'token abc'
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(bearer|basic|token|digest)\s+)?"
                r"[^\s'\",;]+"), lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}"
     f"{MASK}"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), lambda m: f"{m.group(1)} {MASK}"),
    # password=..., "api_key": "...", token: ..., client_secret=...
    (re.compile(r"(?i)([\"']?\b(?:[a-z0-9_-]*password|passwd|pwd|api[_-]?key|apikey|"
                r"access[_-]?token|auth[_-]?token|refresh[_-]?token|token|[a-z0-9_-]*secret)"
                r"\b[\"']?\s*[:=]\s*)([\"']?)(?!\*\*\*)[^\s\"',;&)}]+"),
     lambda m: f"{m.group(1)}{m.group(2)}{MASK}"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"), lambda m: f"{m.group(0)[:5]}{MASK}"),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), lambda m: f"xapp-{MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), lambda m: f"sk-{MASK}"),
    # what a URL pattern can miss: scheme-less user:password@host, bare Slack webhook paths
    (re.compile(r"(://[^/\s:@]*):[^/\s@]+@"), lambda m: f"{m.group(1)}:{MASK}@"),
    (re.compile(r"/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9_-]+"),
     lambda m: f"/services/{MASK}"),
]

_secrets: set[str] = set()
_lock = threading.Lock()


def add_secrets(values: Iterable[str | None]) -> None:
    """Exact values (passwords, API keys) to mask wherever they appear in a log record."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= 4)


def redact(text: str) -> str:
    """``text`` without credentials (see the module docstring)."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL.sub(lambda m: mask_url(m.group(0)) or m.group(0), text)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class Redactor(logging.Filter):
    """Masks credentials in a record's message, exception and stack (always lets it pass)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: logging reports it itself
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._redacted = True  # type: ignore[attr-defined]
        return True


REDACTOR = Redactor()
_base_factory = logging.getLogRecordFactory()


def _factory(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    REDACTOR.filter(record)
    return record


def install() -> None:
    """The redactor on every existing handler and as the record factory (idempotent)."""
    if logging.getLogRecordFactory() is not _factory:
        logging.setLogRecordFactory(_factory)
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if REDACTOR not in handler.filters:
                handler.addFilter(REDACTOR)
    if logging.lastResort is not None and REDACTOR not in logging.lastResort.filters:
        logging.lastResort.addFilter(REDACTOR)


def configure(verbose: int = 0, *, service: bool = False) -> None:
    """Levels, one stderr handler on the root logger, quiet third parties, redaction."""
    if verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1 or service:
        level = logging.INFO
    else:
        level = logging.WARNING
    root = logging.getLogger()
    fmt = SERVICE_FORMAT if service else FORMAT if verbose else "%(message)s"
    ours = [h for h in root.handlers if getattr(h, "_gpureport", False)]
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler._gpureport = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        ours = [handler]
    for handler in ours:
        handler.setFormatter(logging.Formatter(fmt))
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # psycopg warns "error ignored terminating <Pipeline>: pipeline aborted" after a failed
    # executemany — a second line about the failure gpureport already reports in one
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    install()


__all__ = ["configure", "install", "redact", "add_secrets", "Redactor", "REDACTOR", "QUIET"]
