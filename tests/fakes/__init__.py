"""Stand-ins for the services gpureport talks to, each speaking the real contract over a socket.

Every fake is a real server on 127.0.0.1 (a free port per instance), so the code under test
uses its ordinary client — httpx, smtplib, langchain-openai — and nothing is patched:

``lens_api``       the Lens HTTP API (lens.md §1–§4.5), answering from a database of Lens tables
``openai_api``     an OpenAI-compatible ``/v1/chat/completions`` endpoint with scripted replies
``smtp``           aiosmtpd (plain, STARTTLS, TLS, AUTH), an SMTP server that is down, a cert
``slack_webhook``  a Slack incoming webhook that records posts and fails on request
``slack_api``      the Slack Web API subset (upload v2, messages, DMs, lookups) that checks
                   sequence and fields, plus Block-Kit-checking incoming webhooks
``teams_webhook``  a Microsoft Teams webhook that validates Adaptive Card messages
``alertmanager``   Debian's real ``prometheus-alertmanager`` (its ``/api/v2`` API)
``prometheus``     Debian's real ``prometheus`` over TSDB blocks backfilled from …
``gpu_cluster``    … a simulated Kubernetes GPU cluster, and the hourly figures it implies
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
