"""Slack incoming webhooks, Microsoft Teams cards, the ``Channels`` dispatcher and the config.

Against tests/fakes/slack_api.py (its ``/services/…`` webhooks validate Block Kit) and
tests/fakes/teams_webhook.py (validates the Adaptive Card message).
"""

from __future__ import annotations

import json
import logging

import pytest

from agent.errors import ConfigError, DeliveryError, UsageError
from reporter.channels import (SUMMARY_ONLY, Channels, Fact, FileUpload, SlackWebhook, Summary,
                               TeamsWebhook, parse_destination)
from reporter.channels import blockkit, teams
from reporter.config import MSTeamsSettings, SlackSettings, load_config
from tests.cli import run
from tests.fakes.slack_api import block_problems, slack_api
from tests.fakes.smtp import tiny_pdf
from tests.fakes.teams_webhook import BAD_PAYLOAD, card_problems, teams_webhook

SUMMARY = Summary(title="ml-team GPU digest, 2026-W47",
                  warning="Data covers 91.7 % of the week's hours",
                  lines=["Utilization fell 12.4 pp week over week."],
                  facts=[Fact("GPU-hours", "1,234.5"), Fact("Utilization", "41.2 %")],
                  link="https://reports.example.com/ml-team/2026-W47")


def quick(cls, **overrides):
    values = dict(retry_backoff=0.0, timeout=5)
    values.update(overrides)
    return cls(**values)


# ------------------------------------------------------------------------------------------
# Slack incoming webhook
def test_slack_webhook_posts_valid_block_kit():
    with slack_api() as slack:
        url = slack.add_hook(slack.add_channel("ml-gpu"))
        outcome = SlackWebhook(url, quick(SlackSettings)).send(SUMMARY)
        assert outcome.ok and outcome.channel == "slack_webhook", outcome
        assert outcome.target.endswith("/services/***") and url not in outcome.target
        ((_, body),) = slack.hook_posts
    assert block_problems(body["blocks"]) == []
    assert body["text"] == "ml-team GPU digest, 2026-W47 — Data covers 91.7 % of the week's hours"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "section", "section",
                                                   "section"]
    assert body["blocks"][1]["text"]["text"] == ":warning: *Data covers 91.7 % of the week's hours*"
    assert body["blocks"][3]["fields"] == [
        {"type": "mrkdwn", "text": "*GPU-hours:* 1,234.5"},
        {"type": "mrkdwn", "text": "*Utilization:* 41.2 %"}]
    assert body["blocks"][4]["text"]["text"] == \
        "<https://reports.example.com/ml-team/2026-W47|Open the report>"


@pytest.mark.parametrize("setup, expected", [
    ("archived", "HTTP 410 channel_is_archived — the channel is archived: unarchive it or "
                 "create a webhook for another channel"),
    ("revoked", "HTTP 404 no_service — the webhook was revoked or its URL is wrong: create a "
                "new incoming webhook"),
    ("prohibited", "HTTP 403 action_prohibited — a workspace administrator restricted this "
                   "webhook"),
])
def test_slack_webhook_refusals_name_the_reason(setup, expected):
    with slack_api() as slack:
        channel = slack.add_channel("ml-gpu", archived=setup == "archived")
        url = slack.add_hook(channel)
        if setup == "revoked":
            url = url[: url.rindex("/") + 1] + "RevokedSecret123456789abc"
        if setup == "prohibited":
            slack.fail("webhook", status=403, error="action_prohibited")
        outcome = SlackWebhook(url, quick(SlackSettings)).send(SUMMARY)
    assert outcome.status == "failed"
    assert outcome.detail == f"Slack webhook {outcome.target} refused the post: {expected}"
    assert "/services/***" in outcome.detail and "Revoked" not in outcome.detail
    assert url.rsplit("/", 1)[1] not in outcome.detail


def test_slack_webhook_waits_out_429_and_retries_5xx():
    with slack_api() as slack:
        url = slack.add_hook(slack.add_channel("ml-gpu"))
        slack.fail("webhook", status=429, error="rate_limited", retry_after=4)
        slack.fail("webhook", status=500, error="rollup_error")
        sleeps: list[float] = []
        ok = SlackWebhook(url, quick(SlackSettings, retry_backoff=0.25),
                          sleep=sleeps.append).send(SUMMARY)
        assert ok.ok and sleeps == [4.0, 0.5] and len(slack.hook_posts) == 3
        slack.fail("webhook", status=500, error="rollup_error", times=3)
        failed = SlackWebhook(url, quick(SlackSettings, retries=2),
                              sleep=sleeps.append).send(SUMMARY)
    assert failed.detail == (f"Slack webhook {failed.target}: failed after 3 attempts "
                             f"(HTTP 500 (rollup_error))")


def test_slack_webhook_to_nowhere_is_a_clear_failure():
    outcome = SlackWebhook("http://127.0.0.1:9/services/T0/B0/aaaabbbbccccdddd1234",
                           quick(SlackSettings, retries=1), sleep=lambda s: None).send(SUMMARY)
    assert outcome.status == "failed"
    assert outcome.detail.startswith("Slack webhook http://127.0.0.1:9/services/***: failed "
                                     "after 2 attempts (ConnectError")
    bad = SlackWebhook("hooks.slack.com/services/x", quick(SlackSettings)).send(SUMMARY)
    assert bad.detail == "Slack webhook hooks.slack.com/services/x: not an http(s) URL"


def test_block_kit_respects_slacks_limits():
    summary = Summary(title="t" * 400, lines=[f"line {i} " + "x" * 900 for i in range(200)],
                      facts=[Fact(f"k{i}", "v" * 2500) for i in range(25)],
                      link="https://example.com/a b|c>d")
    blocks = blockkit.blocks(summary)
    assert block_problems(blocks) == [] and len(blocks) == 50
    assert [len(b["fields"]) for b in blocks if "fields" in b] == [10, 10, 5]
    lines_shown = sum(b["text"]["text"].count("line ") for b in blocks[1:45])
    assert blocks[45]["text"]["text"] == f"… and {200 - lines_shown} more"
    assert blocks[-1]["text"]["text"] == "<https://example.com/a%20b%7Cc%3Ed|Open the report>"
    comment = blockkit.mrkdwn(summary)
    assert len(comment) <= blockkit.COMMENT_LIMIT
    shown = comment.count("\nline ")
    assert f"\n… and {200 - shown} more\n" in comment


# ------------------------------------------------------------------------------------------
# Microsoft Teams
@pytest.mark.parametrize("mode", ["workflows", "connector"])
def test_teams_card_is_valid_and_accepted(mode):
    with teams_webhook(mode) as hook:
        outcome = TeamsWebhook(hook.url(), quick(MSTeamsSettings)).send(SUMMARY)
        assert outcome.ok and outcome.channel == "teams", outcome
        assert hook.sig not in outcome.target and "sig=***" in outcome.target
        (message,) = hook.requests
        (card,) = hook.cards
    assert card_problems(message) == [] and hook.problems == []
    assert message["attachments"][0]["contentUrl"] is None
    assert card["version"] == "1.4"
    assert [(b["type"], b.get("text")) for b in card["body"][:3]] == [
        ("TextBlock", "ml-team GPU digest, 2026-W47"),
        ("TextBlock", "Data covers 91.7 % of the week's hours"),
        ("TextBlock", "Utilization fell 12.4 pp week over week.")]
    assert card["body"][1]["color"] == "Attention"
    assert card["body"][3] == {"type": "FactSet", "facts": [
        {"title": "GPU-hours", "value": "1,234.5"}, {"title": "Utilization", "value": "41.2 %"}]}
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the report",
                                "url": "https://reports.example.com/ml-team/2026-W47"}]


def test_teams_fake_refuses_a_bad_card():
    with teams_webhook() as hook:
        for bad in ({"type": "message", "attachments": [{"contentType": "text/plain"}]},
                    teams.envelope({**teams.card(SUMMARY), "$schema": "x"}),
                    teams.envelope({**teams.card(SUMMARY), "body": [{"type": "Blink"}]})):
            with pytest.raises(DeliveryError) as err:
                TeamsWebhook(hook.url(), quick(MSTeamsSettings)).post(bad)
            assert f"HTTP 400 ({BAD_PAYLOAD})" in str(err.value) and err.value.permanent
        assert [len(p) for p in hook.problems] == [1, 1, 1] and hook.cards == []


def test_teams_markdown_in_names_is_shown_literally():
    card = teams.card(Summary(title="App_Pool_01 *idle*",
                              lines=["[click](https://evil.example)", "- not a list",
                                     "1. not a list either", "-5.2 pp", "41.2 %"],
                              facts=[Fact("user_name", "a`b~c\\d")]))
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert texts == ["App\\_Pool\\_01 \\*idle\\*", "\\[click\\](https://evil.example)",
                     "\\- not a list", "1\\. not a list either", "-5.2 pp", "41.2 %"]
    assert card["body"][-1]["facts"] == [{"title": "user\\_name", "value": "a\\`b\\~c\\\\d"}]
    assert "actions" not in card


def test_teams_payload_stays_under_the_size_limit():
    summary = Summary(title="big", lines=[f"workload-{i} " + "é" * 200 for i in range(400)],
                      facts=[Fact("GPU-hours", "1")])
    body = teams.payload(summary)
    assert teams.size(body) <= teams.MAX_BYTES
    items = body["attachments"][0]["content"]["body"]
    shown = sum(1 for b in items if b.get("text", "").startswith("workload-"))
    assert 0 < shown < 400
    assert items[-2]["text"] == f"… and {400 - shown} more"
    assert items[-1]["type"] == "FactSet"
    with teams_webhook() as hook:
        assert TeamsWebhook(hook.url(), quick(MSTeamsSettings)).send(summary).ok
        assert hook.problems == []


@pytest.mark.parametrize("answer, expected", [
    ((200, "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
           "HTTP error 413", None),
     "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP "
     "error 413"),
    ((404, "Not Found", None),
     "refused the card: HTTP 404 (Not Found) — the webhook was removed or its URL is wrong"),
])
def test_teams_failures_are_explained(answer, expected):
    with teams_webhook("connector") as hook:
        hook.answers.append(answer)
        outcome = TeamsWebhook(hook.url(), quick(MSTeamsSettings)).send(SUMMARY)
    assert outcome.status == "failed" and expected in outcome.detail
    assert hook.sig not in outcome.detail and hook.path not in outcome.detail


def test_teams_throttling_is_waited_out():
    with teams_webhook() as hook:
        hook.answers += [(429, "Too many requests", 2.0), (503, "busy", None)]
        sleeps: list[float] = []
        outcome = TeamsWebhook(hook.url(), quick(MSTeamsSettings, retry_backoff=1.0),
                               sleep=sleeps.append).send(SUMMARY)
        assert outcome.ok and sleeps == [2.0, 2.0] and len(hook.cards) == 1


# ------------------------------------------------------------------------------------------
# one dispatcher for every destination
def test_channels_send_to_every_kind_of_destination(tmp_path):
    pdf = FileUpload("weekly-2026-W47.pdf", tiny_pdf("digest"))
    with slack_api() as slack, teams_webhook() as hook:
        ml = slack.add_channel("ml-gpu")
        hook_url = slack.add_hook(ml)
        slack_cfg = quick(SlackSettings, bot_token=slack.token, api_url=slack.api_url())
        with Channels(slack_cfg, quick(MSTeamsSettings)) as channels:
            outcomes = [channels.send("slack:#ml-gpu", SUMMARY, pdf),
                        channels.send(f"slack-webhook:{hook_url}", SUMMARY, pdf),
                        channels.send(parse_destination(f"teams:{hook.url()}"), SUMMARY)]
        assert [o.status for o in outcomes] == ["sent"] * 3, outcomes
        assert [o.channel for o in outcomes] == ["slack", "slack_webhook", "teams"]
        assert outcomes[0].remote_id == slack.shares[0].file_id
        assert outcomes[1].detail == SUMMARY_ONLY
        assert len(slack.hook_posts) == 1 and len(hook.cards) == 1
        preview = Channels.preview(f"teams:{hook.url()}", SUMMARY, pdf)
    assert preview["target"] == outcomes[2].target and preview["note"] == SUMMARY_ONLY
    assert hook.sig not in json.dumps(preview)
    upload = Channels.preview("slack:#ml-gpu", SUMMARY, pdf)
    assert upload["method"] == "files.completeUploadExternal"
    assert upload["initial_comment"] == slack.shares[0].initial_comment


def test_channels_without_a_bot_token_fail_that_destination_only():
    with teams_webhook() as hook, Channels(SlackSettings(), quick(MSTeamsSettings)) as channels:
        slack_out = channels.send("slack:#ml-gpu", SUMMARY)
        teams_out = channels.send(f"teams:{hook.url()}", SUMMARY)
    assert slack_out.status == "failed" and slack_out.error_code == "not_authed"
    assert slack_out.detail == "Slack: no bot token (config slack.bot_token or SLACK_BOT_TOKEN)"
    assert teams_out.ok


@pytest.mark.parametrize("text", ["", "slack", "slack:", "email:a@b.c", "teams:not-a-url",
                                  "slack-webhook:hooks.slack.com/services/T/B/x"])
def test_bad_destinations_are_usage_errors(text):
    with pytest.raises(UsageError) as err:
        parse_destination(text)
    assert "hooks.slack.com" not in str(err.value)


def test_destinations_never_show_their_secret():
    dest = parse_destination("slack-webhook:https://hooks.slack.com/services/T0/B0/s3cr3tPath")
    assert "s3cr3t" not in repr(dest) + str(dest) + dest.shown
    assert str(dest) == "slack-webhook:https://hooks.slack.com/services/***"
    assert str(parse_destination(" slack: #ml-gpu ")) == "slack:#ml-gpu"


# ------------------------------------------------------------------------------------------
# configuration
def test_slack_and_teams_settings_come_from_file_and_environment(config_file):
    path = config_file({"slack": {"api_url": "http://127.0.0.1:1/api/", "retries": 1},
                        "msteams": {"timeout": 5}})
    cfg = load_config(str(path), env={
        "SLACK_BOT_TOKEN": "xoxb-1-2-abcdef", "TEAMS_WEBHOOK_URL":
        "https://x.logic.azure.com/workflows/0a1b2c3d4e5f60718293a4b5c6d7e8f9/triggers?sig=s1g"})
    assert cfg.slack.bot_token.get_secret_value() == "xoxb-1-2-abcdef"
    assert cfg.slack.api_url == "http://127.0.0.1:1/api" and cfg.slack.retries == 1
    assert cfg.msteams.timeout == 5
    masked = json.dumps(cfg.masked())
    assert "abcdef" not in masked and "s1g" not in masked and "0a1b2c3d" not in masked
    assert cfg.masked()["slack"]["bot_token"] == "****"
    assert load_config(None, env={}).slack.bot_token is None


def test_a_wrong_slack_token_is_a_config_error_that_does_not_echo_it(config_file):
    path = config_file({"slack": {"bot_token": "https://hooks.slack.com/services/T/B/zzz"}})
    with pytest.raises(ConfigError) as err:
        load_config(str(path), env={})
    assert "config in" in str(err.value) and "slack.bot_token" in str(err.value)
    assert "zzz" not in str(err.value)


def test_doctor_masks_the_slack_token_and_webhook_urls(home, config_file, caplog):
    caplog.set_level(logging.DEBUG)
    path = config_file({"slack": {"bot_token": "xoxb-77-88-doctorSecret",
                                  "webhook_url": "https://hooks.slack.com/services/T/B/hookSecret"},
                        "msteams": {"webhook_url": "https://x.webhook.office.com/webhookb2/a/"
                                                   "IncomingWebhook/0123456789abcdef0123/b"}})
    r = run("--config", str(path), "doctor", "--json")
    config = json.loads(r.stdout)["config"]
    assert config["slack"]["bot_token"] == "****"
    assert config["slack"]["webhook_url"] == "https://hooks.slack.com/services/***"
    assert config["msteams"]["webhook_url"].endswith("/IncomingWebhook/***/b")
    for secret in ("doctorSecret", "hookSecret", "0123456789abcdef0123"):
        assert secret not in r.stdout + r.stderr
