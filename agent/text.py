"""Text that reaches a terminal, a log line or a record: errors on one line, URLs without secrets.

* ``one_line`` — what a failure looks like wherever it is shown or stored (the CLI, run records,
  alert evaluations, notification errors): one line, control characters removed, at most
  ``limit`` characters. Our own errors (``GpureportError``) are sentences already and keep
  their message; anything else keeps its type name (``OperationalError: ...``) so an operator
  can tell a driver failure from ours. Database drivers wrapped by SQLAlchemy are unwrapped
  (``exc.orig``), and SQLAlchemy's "Background on this error" link is dropped.
* ``mask_url`` — the one way a URL is shown (doctor, logs, alert targets, error messages):
  the password of the userinfo, the values of query parameters named like a secret, and path
  segments that look like secrets (a Slack-style ``/services/T…/B…/<token>`` tail, any
  segment of 20+ letters, digits, ``-``/``_`` mixing letters and digits) become ``***``; host,
  port and the rest of the path stay readable. Database URLs keep their user name (the role
  is worth seeing) and their path (a file or database name, not a credential). Web (http/https)
  URLs lose the whole userinfo, because there the user name is often a token itself
  (``https://<token>@host``), and their paths are inspected.
* ``valid_session`` — whether a conversation id is one the CLI and the API both accept.
* ``printable`` — a data-supplied string as a terminal may show it: escape sequences (``ESC [
  … m``, ``ESC ] 0;title BEL``, …) removed whole, every other C0/C1 control character and the
  bidirectional overrides removed, so a workload name cannot retitle, clear or recolour the
  terminal, or reorder what is printed around it. JSON output keeps the data (JSON escapes it).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from agent.errors import GpureportError

MASK = "***"
# a conversation id (``ask --session``, the API's ``session_id``): one rule for both, so a
# conversation started in the CLI continues over HTTP — no paths, no spaces, no control
SESSION_PATTERN = r"^[A-Za-z0-9._:@-]+$"
SESSION_MAX = 200
_SECRET_PARAM = re.compile(r"token|key|secret|passw|signature|sig$|auth", re.I)
_SECRET_SEGMENT = re.compile(r"(?=[A-Za-z0-9_-]*[A-Za-z])(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}")
_BACKGROUND = "(Background on this error"
# ESC/C1 sequences removed whole: CSI (ESC [ or U+009B … final byte), OSC/DCS/SOS/PM/APC strings
# (… up to BEL or ST), and any other two-character ESC sequence
_ESCAPES = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
                      r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
                      r"|\x1b[ -~]?")
_BREAKS = re.compile(r"[\t\n\r]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def valid_session(session_id: str) -> bool:
    """``session_id`` matches ``SESSION_PATTERN`` and has at most ``SESSION_MAX`` characters."""
    return len(session_id) <= SESSION_MAX and re.fullmatch(SESSION_PATTERN, session_id) is not None


def one_line(value: BaseException | str, limit: int | None = 300) -> str:
    """``value`` on one printable line (see the module docstring); ``limit=None``: no limit."""
    if isinstance(value, BaseException):
        orig = getattr(value, "orig", None) or value  # a driver error wrapped by SQLAlchemy
        lines = [ln.strip() for ln in str(orig).splitlines()]
        message = next((ln for ln in lines if ln and not ln.startswith(_BACKGROUND)), "")
        if not isinstance(value, GpureportError):
            name = type(orig).__name__
            message = f"{name}: {message}" if message else name
        text = message or type(value).__name__
    else:
        text = str(value)
    text = "".join(ch for ch in " ".join(text.split()) if ch.isprintable())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def printable(text: object) -> str:
    """``text`` without terminal control: see the module docstring. Newlines and tabs become
    spaces: a name printed on one line stays on it."""
    return _CONTROLS.sub("", _ESCAPES.sub("", _BREAKS.sub(" ", str(text))))


def mask_url(url: str | None) -> str | None:
    """``url`` with its secrets replaced by ``***`` (see the module docstring)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    web = parts.scheme in ("http", "https")
    netloc, path = parts.netloc, parts.path
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        if web:
            netloc = hostport
        elif has_password:
            netloc = f"{user}:{MASK}@{hostport}"
    if web:
        path = _mask_path(path)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs],
                              safe="*")
    if (netloc, path, query) == (parts.netloc, parts.path, parts.query):
        return url
    # rebuilt by hand: urlunsplit would turn sqlite:////abs/path into sqlite://abs/path
    head = f"{parts.scheme}://{netloc}" if url.startswith(f"{parts.scheme}://") else \
        f"{parts.scheme}:{netloc}"
    return (head + path + (f"?{query}" if query else "")
            + (f"#{parts.fragment}" if parts.fragment else ""))


def _mask_path(path: str) -> str:
    segments = path.split("/")
    out: list[str] = []
    for i, segment in enumerate(segments):
        if segment == "services" and any(segments[i + 1:]):  # Slack: /services/T…/B…/<token>
            return "/".join([*out, segment, MASK])
        out.append(MASK if _SECRET_SEGMENT.fullmatch(segment) else segment)
    return "/".join(out)


__all__ = ["one_line", "mask_url", "printable", "MASK"]
