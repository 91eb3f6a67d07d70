"""A digest to its chat destinations (``slack:#ml-gpu``, ``slack-webhook:…``, ``teams:…``).

The runner calls ``deliver_chat`` after the email, under the run's claim: the Slack bot posts
the PDF with the summary as its message (files upload v2), webhooks get the summary alone. The
exactly-once hook of the Slack client (``on_reserved``: the upload's file id, given before the
share) puts the claim into its ``sending`` phase with that id, so a process that dies during
the share leaves the period ``uncertain`` and no later run shares it a second time; a webhook
post enters the same phase first. A destination that fails is a ``failed`` delivery row —
the others still get their message. A dry run writes what would be posted to
``<stem>-chat.json`` (webhook URLs masked) instead.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from reporter import metrics
from reporter.channels.dispatch import Channels
from reporter.channels.summary import FileUpload, Summary
from reporter.config import Config
from reporter.statedb import DeliveryRecord


def deliver_chat(config: Config, destinations: Sequence[str], summary: Summary, title: str,
                 pdf: tuple[str, bytes] | None, *, enter_sending: Callable[[str], None],
                 dry_run_file: Path | None = None) -> list[DeliveryRecord]:
    """Post ``summary`` (titled ``title``; with the PDF where the channel carries files) to
    each destination; the delivery rows. ``enter_sending(marker)`` runs right before anything
    could reach a destination and raises when the claim was lost."""
    summary = replace(summary, title=title)
    upload = FileUpload(pdf[0], pdf[1], title=title) if pdf else None
    if dry_run_file is not None:
        previews = [Channels.preview(d, summary, upload) for d in destinations]
        dry_run_file.write_text(json.dumps(previews, indent=2, ensure_ascii=False),
                                encoding="utf-8")
        return [DeliveryRecord("file", str(dry_run_file), "sent", None,
                               f"would post to {', '.join(p['target'] for p in previews)}")]
    out: list[DeliveryRecord] = []
    with Channels.from_config(config) as channels:
        for dest in destinations:
            bot = dest.startswith("slack:")
            if not (bot and upload):  # the upload reserves its file id first (below)
                enter_sending(f"chat {dest.split(':', 1)[0]}")
            o = channels.send(dest, summary, upload if bot else None,
                              on_reserved=lambda file_id: enter_sending(f"slack file {file_id}"))
            metrics.record_delivery(o.channel, o.status)
            out.append(DeliveryRecord(o.channel, o.target, o.status, o.remote_id, o.detail))
    return out


__all__ = ["deliver_chat"]
