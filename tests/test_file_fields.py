"""The field types that config, schedule and alert-rule files share (reporter/fields.py,
reporter/durations.py): every file reads "one value or a list" and "30m / 4h / 1d" the same way.

* ``OneOrMany``: a single string is a one-item list, a list stays, an empty list is empty, and
  ``None`` is refused — except where the field itself is optional (a rule's ``channels``: none
  means the defaults'). Each model below accepted exactly this before the type existed (each had
  its own ``_listify`` validator).
* Durations: ``90s``, ``15m``, ``4h``, ``1d``, ``1h30m`` and a bare ``0``; any other bare number
  is refused (``repeat_after: 24`` — hours or seconds?), in nudge schedules and alert rules
  alike.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from reporter.alerts.models import Defaults, EmailChannel, IdleGpusRule, Selector
from reporter.config import Config, TeamRoute
from reporter.durations import format_duration, parse_duration
from reporter.nudges.schedule import NudgeSchedule
from reporter.schedules import Schedule


def digest(**fields):
    """A digest schedule; a team digest (fan_out), so that it needs no recipients of its own."""
    return Schedule(**{"name": "weekly", "cron": "0 7 * * 1", "reports": "weekly",
                       "fan_out": "namespace", **fields})


def rule(**fields):
    return IdleGpusRule(name="idle", kind="idle-gpus", **fields)


def route(**fields):
    return TeamRoute(**fields)


def user_entries(value):
    """``users: {alice: VALUE}`` of the config, as read."""
    return Config.model_validate({"users": {"alice": value}}).users["alice"]


# (what builds the model, the field, one valid value, whether an empty list is allowed)
LIST_FIELDS = [
    pytest.param(digest, "recipients", "ops@example.com", True, id="schedule.recipients"),
    pytest.param(digest, "clusters", "gpu-east", True, id="schedule.clusters"),
    pytest.param(digest, "destinations", "slack:#gpu", True, id="schedule.destinations"),
    pytest.param(digest, "admin", "ops@example.com", True, id="schedule.admin"),
    pytest.param(digest, "fan_out_default", "ops@example.com", True, id="schedule.fan_out_default"),
    pytest.param(digest, "formats", "pdf", False, id="schedule.formats"),
    pytest.param(digest, "reports", "idle", False, id="schedule.reports"),
    pytest.param(NudgeSchedule, "clusters", "gpu-east", True, id="nudge.clusters"),
    pytest.param(NudgeSchedule, "via", "slack", False, id="nudge.via"),
    pytest.param(NudgeSchedule, "escalate_to", "ops@example.com", True, id="nudge.escalate_to"),
    pytest.param(route, "email", "ml@example.com", True, id="config.teams.email"),
    pytest.param(route, "slack", "#ml-gpu", True, id="config.teams.slack"),
    pytest.param(Selector, "include", "gpu-*", True, id="alerts.selector.include"),
    pytest.param(Selector, "exclude", "gpu-test", True, id="alerts.selector.exclude"),
    pytest.param(Defaults, "channels", "ops-mail", True, id="alerts.defaults.channels"),
    pytest.param(rule, "channels", "ops-mail", True, id="alerts.rule.channels"),
]


def build(make, field, value):
    base = {"name": "n"} if make is NudgeSchedule else {}
    return make(**base, **{field: value})


@pytest.mark.parametrize("make, field, value, empty_ok", LIST_FIELDS)
def test_one_value_or_a_list(make, field, value, empty_ok):
    assert getattr(build(make, field, value), field) == [value]
    assert getattr(build(make, field, [value, value]), field) == [value, value]
    if empty_ok:
        assert getattr(build(make, field, []), field) == []
    else:
        with pytest.raises(ValidationError, match="at least 1 item"):
            build(make, field, [])


@pytest.mark.parametrize("make, field, value, empty_ok", LIST_FIELDS)
def test_none_is_refused_unless_the_field_is_optional(make, field, value, empty_ok):
    if make is rule:  # a rule without channels uses the defaults' channels
        assert rule(channels=None).channels is None
        return
    with pytest.raises(ValidationError, match="valid list"):
        build(make, field, None)


def test_secrets_and_address_book_entries_take_one_value_too():
    assert [t.get_secret_value() for t in route(teams="https://hook.example/x").teams] == [
        "https://hook.example/x"]
    assert user_entries("alice@example.com") == ["alice@example.com"]
    assert user_entries(["alice@example.com", "slack:U0123ABCD"]) == [
        "alice@example.com", "slack:U0123ABCD"]
    assert user_entries([]) == []
    with pytest.raises(ValidationError, match="valid list"):
        user_entries(None)


def test_an_email_channel_to_one_address():
    assert EmailChannel(type="email", to="ops@example.com").to == ["ops@example.com"]
    with pytest.raises(ValidationError, match="not an email address"):
        EmailChannel(type="email", to="ops")


# -- durations --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, want", [
    ("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("4h", timedelta(hours=4)),
    ("1d", timedelta(days=1)), ("1h30m", timedelta(hours=1, minutes=30)), (" 2H ", timedelta(hours=2)),
    ("1d12h", timedelta(days=1, hours=12)), (0, timedelta(0)), ("0", timedelta(0)),
    ("0m", timedelta(0)),
])
def test_durations_are_read_with_their_unit(text, want):
    assert parse_duration(text) == want


@pytest.mark.parametrize("value, error", [
    (24, "24 has no unit (write e.g. 24s, 24m or 24h)"),
    ("300", "'300' has no unit (write e.g. 300s, 300m or 300h)"),
    (1.5, "1.5 has no unit"),
    (True, "expected a duration"),
    ("soon", "'soon' is not a duration (use e.g. 30m, 4h, 1d, 1h30m)"),
    ("", "'' is not a duration"),
    ("-1h", "'-1h' is not a duration"),
])
def test_a_bare_number_other_than_zero_and_other_words_are_refused(value, error):
    with pytest.raises(ValueError) as exc:
        parse_duration(value)
    assert str(exc.value).startswith(error)


def test_nudge_schedules_read_durations_as_alert_rules_do():
    n = NudgeSchedule(name="n", repeat_after="1d12h", stale_after="90m")
    assert (n.repeat_after, n.stale_after) == (timedelta(hours=36), timedelta(minutes=90))
    assert NudgeSchedule(name="n", repeat_after="45s").repeat_after == timedelta(seconds=45)
    with pytest.raises(ValidationError, match=r"repeat_after\n.*24 has no unit"):
        NudgeSchedule(name="n", repeat_after=24)
    assert rule(**{"for": 0}).for_ == timedelta(0)
    with pytest.raises(ValidationError, match="300 has no unit"):
        rule(**{"for": 300})


def test_durations_are_written_back_short():
    assert [format_duration(timedelta(seconds=s)) for s in (0, 45, 2700, 9000, 100800)] == [
        "0s", "45s", "45m", "2h30m", "1d4h"]
