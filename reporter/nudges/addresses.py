"""Where a notice goes: the user's own addresses, the team's owners, the platform.

A user is reached through, in order: the config's address book (``users: {alice:
[alice@corp.example, "slack:U0123ABCD"]}``), else the schedule's ``address_pattern``
(``{user}@example.com``) — used only for user names that are plain Kubernetes-style names
(letters, digits, ``.``, ``_``, ``-``): a name from the data never becomes part of an address
otherwise. The Lens sources expose no per-user email annotation today, so there is no third
way yet. ``via: [slack]`` reaches the user by a Slack DM to their email address (the bot looks
the user up by email).

A team is the namespace of an idle workload; its owners are the ``teams:`` routing entry of
that name (the same table team digests use). The platform is ``escalate_to``.

Routes have stable keys — ``email`` for the one email of a notice, ``slack:<target>`` for a
Slack destination, ``<kind>:<sha256 prefix>`` for a webhook (its URL is a secret) — because
the key is part of the notice's claim in the state database.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from reporter.channels.summary import Destination, parse_destination
from reporter.config import Config
from reporter.fields import is_email
from reporter.nudges.schedule import NudgeSchedule

SAFE_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass
class Recipients:
    """Everyone one notice goes to."""

    to: list[str] = field(default_factory=list)  # the user's email addresses
    cc: list[str] = field(default_factory=list)  # owners / platform email addresses
    chats: list[Destination] = field(default_factory=list)
    user_reachable: bool = False
    how: str = ""  # where the user's address came from

    @property
    def empty(self) -> bool:
        return not (self.to or self.cc or self.chats)


def route_key(dest: Destination) -> str:
    if dest.kind == "slack":
        return f"slack:{dest.shown}"
    return f"{dest.kind}:{hashlib.sha256(dest.target.encode()).hexdigest()[:16]}"


def user_addresses(user: str, config: Config,
                   schedule: NudgeSchedule) -> tuple[list[str], list[Destination], str]:
    """(email addresses, chat destinations, where they came from) of one user."""
    entries = config.users.get(user)
    how = "config users"
    if entries is None and schedule.address_pattern and SAFE_USER.match(user):
        entries, how = [schedule.address_pattern.replace("{user}", user)], "address_pattern"
    emails, chats = [], []
    for e in entries or []:
        if is_email(e):
            emails.append(e)
        else:
            chats.append(parse_destination(e))
    if "slack" in schedule.via:
        chats += [Destination("slack", e) for e in emails]
    if "email" not in schedule.via:
        emails = []
    return emails, chats, (how if emails or chats else "")


def recipients_for(user: str, namespaces: list[str], level: int, config: Config,
                   schedule: NudgeSchedule) -> Recipients:
    """Notice ``level`` of ``user``: 1 the user; 2 also the owners of the idle workloads'
    teams; 3 also the platform (``escalate_to``)."""
    emails, chats, how = user_addresses(user, config, schedule)
    out = Recipients(to=emails, chats=list(chats), user_reachable=bool(emails or chats),
                     how=how)
    if level >= 2:
        for ns in namespaces:
            team = config.teams.get(ns)
            if team is not None:
                out.cc += team.email
                out.chats += [parse_destination(d) for d in team.destinations()]
    if level >= 3:
        for d in schedule.escalate_to:
            if is_email(d):
                out.cc.append(d)
            else:
                out.chats.append(parse_destination(d))
    out.to = _unique(out.to)
    out.cc = [a for a in _unique(out.cc) if a not in out.to]
    seen: set[str] = set()
    out.chats = [d for d in out.chats if not (route_key(d) in seen or seen.add(route_key(d)))]
    return out


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


__all__ = ["Recipients", "route_key", "user_addresses", "recipients_for", "SAFE_USER"]
