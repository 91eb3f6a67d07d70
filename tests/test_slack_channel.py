"""Slack through a bot token, against tests/fakes/slack_api.py (which checks Slack's contract).

The files upload v2 sequence with a real PDF, channel and user resolution, Slack's refusals as
one clear line, rate limits and server errors, the "did the share happen?" check, and no token
anywhere it should not be.
"""

from __future__ import annotations

import logging
import subprocess
import time

import pytest

from agent.errors import DeliveryError
from reporter.channels import Fact, FileUpload, SlackClient, Summary
from reporter.channels.blockkit import HEADER_LIMIT
from reporter.config import SlackSettings
from tests.fakes.slack_api import block_problems, slack_api
from tests.fakes.smtp import tiny_pdf

TOKEN = "xoxb-1111-2222-sEcReTtOkEn9"
SUMMARY = Summary(title="ml-team GPU digest, 2026-W47",
                  lines=["Utilization fell 12.4 pp week over week.",
                         "3 workloads held 8 GPUs below 5 %."],
                  facts=[Fact("GPU-hours", "1,234.5"), Fact("Utilization", "41.2 %")],
                  link="https://reports.example.com/ml-team/2026-W47")


@pytest.fixture
def slack():
    with slack_api(TOKEN) as api:
        yield api


def settings(api, **overrides) -> SlackSettings:
    values = dict(bot_token=TOKEN, api_url=api.api_url(), retry_backoff=0.5, timeout=5)
    values.update(overrides)
    return SlackSettings(**values)


def make_client(api, sleeps: list | None = None, **overrides) -> SlackClient:
    return SlackClient(settings(api, **overrides),
                       sleep=(sleeps.append if sleeps is not None else time.sleep))


def pdftotext(data: bytes, tmp_path) -> str:
    path = tmp_path / "received.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


# ------------------------------------------------------------------------------------------
def test_upload_v2_sequence_posts_the_pdf_with_its_summary(slack, tmp_path):
    from weasyprint import HTML

    pdf = HTML(string="<h1>ml-team GPU digest</h1><p>GPU-hours 1,234.5 in 2026-W47</p>"
               ).write_pdf()
    slack.add_channel("general")
    ml = slack.add_channel("ml-gpu")
    with make_client(slack) as client:
        outcome = client.send("#ml-gpu", SUMMARY, FileUpload("weekly-2026-W47.pdf", pdf,
                                                             title="Weekly GPU digest"))

    assert outcome.ok and outcome.channel == "slack" and outcome.target == "#ml-gpu", outcome
    assert slack.methods() == ["conversations.list", "files.getUploadURLExternal", "upload",
                               "files.completeUploadExternal"]
    get_url, upload, complete = slack.calls[1:]
    assert get_url.args == {"filename": "weekly-2026-W47.pdf", "length": str(len(pdf))}
    assert get_url.content_type.startswith("application/x-www-form-urlencoded")
    file_id = outcome.remote_id
    assert upload.args["bytes"] == len(pdf) and not upload.authorized
    assert complete.content_type == "application/json; charset=utf-8"
    assert complete.args["files"] == [{"id": file_id, "title": "Weekly GPU digest"}]
    assert complete.args["channel_id"] == ml.id
    assert all(c.authorized for c in slack.calls if c.method != "upload")
    assert slack.violations == [] and slack.warnings == []

    (share,) = slack.shares
    assert (share.file_id, share.channel, share.title) == (file_id, ml.id, "Weekly GPU digest")
    assert share.initial_comment.splitlines() == [
        "*ml-team GPU digest, 2026-W47*",
        "Utilization fell 12.4 pp week over week.",
        "3 workloads held 8 GPUs below 5 %.",
        "• *GPU-hours:* 1,234.5",
        "• *Utilization:* 41.2 %",
        "<https://reports.example.com/ml-team/2026-W47|Open the report>"]
    received = slack.uploads[file_id]
    assert received.data == pdf and received.filename == "weekly-2026-W47.pdf"
    assert received.upload_content_type == "application/octet-stream"
    text = pdftotext(received.data, tmp_path)
    assert "ml-team GPU digest" in text and "GPU-hours 1,234.5 in 2026-W47" in text


def test_a_channel_id_needs_no_lookup_and_a_dm_gets_the_file(slack, tmp_path):
    ml = slack.add_channel("ml-gpu")
    alice = slack.add_user("alice@example.com")
    pdf = tiny_pdf("nudge for alice")
    with make_client(slack) as client:
        by_id = client.send(ml.id, SUMMARY, FileUpload("a.pdf", pdf))
        dm = client.send("alice@example.com", SUMMARY, FileUpload("b.pdf", pdf))
    assert by_id.ok and dm.ok, (by_id, dm)
    assert "conversations.list" not in slack.methods()
    dm_channel = next(d for d, u in slack.dms.items() if u == alice.id)
    assert [s.channel for s in slack.shares] == [ml.id, dm_channel]
    assert "nudge for alice" in pdftotext(slack.uploads[dm.remote_id].data, tmp_path)


def test_channel_names_resolve_through_every_page_and_are_cached():
    with slack_api(TOKEN, page_size=2) as slack:
        made = [slack.add_channel(f"team-{i}") for i in range(7)]
        slack.add_channel("old-team", archived=True)
        with make_client(slack) as client:
            assert client.channel_id("#team-6") == made[6].id
            lists = [c for c in slack.calls if c.method == "conversations.list"]
            assert len(lists) == 4  # 8 channels, 2 a page
            assert [c.args.get("cursor") is None for c in lists] == [True, False, False, False]
            assert {c.args["types"] for c in lists} == {"public_channel,private_channel"}
            assert client.channel_id("TEAM-2") == made[2].id  # cached, case-insensitive
            assert client.channel_id("#team-0") == made[0].id
            assert len(slack.calls) == 4
            with pytest.raises(DeliveryError, match=r"#old-team is archived"):
                client.channel_id("#old-team")


def test_unknown_channel_suggests_names_and_a_new_channel_is_found(slack):
    slack.add_channel("ml-gpu")
    with make_client(slack) as client:
        with pytest.raises(DeliveryError) as err:
            client.channel_id("#ml-gpus")
        assert str(err.value) == ("Slack: no channel #ml-gpus that the app can see; did you "
                                  "mean: #ml-gpu? (check the name, or invite the app if the "
                                  "channel is private)")
        assert err.value.code == "channel_not_found" and err.value.permanent
        created = slack.add_channel("ml-gpus")  # created after the listing was cached
        assert client.channel_id("#ml-gpus") == created.id
    assert slack.methods().count("conversations.list") == 2


def test_private_channels_without_groups_read_fall_back_to_public(slack):
    slack.scopes.discard("groups:read")
    public = slack.add_channel("ml-gpu")
    with make_client(slack) as client:
        assert client.channel_id("#ml-gpu") == public.id
    assert [c.args["types"] for c in slack.calls] == ["public_channel,private_channel",
                                                       "public_channel"]


def test_dm_by_email_looks_the_user_up_once(slack):
    alice = slack.add_user("alice@example.com")
    with make_client(slack) as client:
        first = client.post_message("alice@example.com", "You have idle GPUs")
        second = client.post_message("@Alice@Example.com", "Second notice")
        by_id = client.post_message(alice.id, "Third notice")
    assert slack.methods() == ["users.lookupByEmail", "conversations.open", "chat.postMessage",
                               "chat.postMessage", "chat.postMessage"]
    assert slack.calls[1].args == {"users": alice.id}
    assert first.channel_id == second.channel_id == by_id.channel_id
    assert slack.dms[first.channel_id] == alice.id
    assert [p.text for p in slack.posts] == ["You have idle GPUs", "Second notice",
                                             "Third notice"]


def test_unknown_users_and_display_names_are_clear_failures(slack):
    with make_client(slack) as client:
        with pytest.raises(DeliveryError) as err:
            client.post_message("bob@example.com", "hello")
        assert str(err.value) == ("Slack users.lookupByEmail refused for bob@example.com: "
                                  "users_not_found — no Slack user has the email "
                                  "bob@example.com")
        calls = len(slack.calls)
        with pytest.raises(DeliveryError, match="display names are not unique"):
            client.post_message("@bob", "hello")
        assert len(slack.calls) == calls  # refused before asking Slack


@pytest.mark.parametrize("case", ["not_in_channel", "invalid_auth", "archived", "deprecated"])
def test_slack_refusals_are_one_clear_line(slack, case):
    slack.add_channel("ml-gpu", member=case != "not_in_channel", archived=case == "archived")
    token = "xoxb-9999-wrong-token" if case == "invalid_auth" else TOKEN
    if case == "deprecated":
        slack.fail("chat.postMessage", error="method_deprecated")
    with SlackClient(settings(slack, bot_token=token)) as client:
        outcome = client.send("#ml-gpu", SUMMARY)
    assert outcome.status == "failed" and "\n" not in outcome.detail
    expected = {
        "not_in_channel": "Slack chat.postMessage refused for #ml-gpu: not_in_channel — "
                          "invite the app to #ml-gpu (/invite @<app> in the channel)",
        "invalid_auth": "Slack conversations.list refused: invalid_auth — Slack rejected the "
                        "bot token: check slack.bot_token / SLACK_BOT_TOKEN (the xoxb- token "
                        "of the installed app)",
        "archived": "Slack: #ml-gpu is archived — #ml-gpu is archived: unarchive it or send to "
                    "another channel",
        "deprecated": "Slack chat.postMessage refused for #ml-gpu: method_deprecated — Slack "
                      "retired this method",
    }[case]
    assert outcome.detail == expected
    assert TOKEN not in outcome.detail and token not in outcome.detail
    assert slack.posts == []


def test_missing_scope_names_the_scope(slack):
    slack.add_channel("ml-gpu")
    slack.fail("files.getUploadURLExternal", error="missing_scope")
    with make_client(slack) as client:
        outcome = client.send("#ml-gpu", SUMMARY, FileUpload("r.pdf", tiny_pdf()))
    assert outcome.error_code == "missing_scope"
    assert "the token lacks the scope named by Slack" in outcome.detail


def test_a_rate_limit_is_waited_out_then_the_post_succeeds(slack):
    ml = slack.add_channel("ml-gpu")
    slack.fail("files.completeUploadExternal", status=429, retry_after=7)
    slack.fail("conversations.list", error="ratelimited", retry_after=3)  # HTTP 200 ok:false
    sleeps: list[float] = []
    with make_client(slack, sleeps) as client:
        outcome = client.send("#ml-gpu", SUMMARY, FileUpload("r.pdf", tiny_pdf()))
    assert outcome.ok, outcome
    assert sleeps == [3.0, 7.0]  # the servers' Retry-After, not our backoff
    assert [s.channel for s in slack.shares] == [ml.id]  # shared once
    assert slack.methods().count("files.completeUploadExternal") == 2


def test_retry_after_is_honoured_in_real_time(slack):
    slack.add_channel("ml-gpu")
    slack.fail("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    with make_client(slack) as client:
        assert client.send("#ml-gpu", SUMMARY).ok
    assert time.monotonic() - started >= 1.0
    assert len(slack.posts) == 1


def test_a_retry_after_beyond_the_bound_fails_at_once(slack):
    slack.add_channel("ml-gpu")
    slack.fail("chat.postMessage", status=429, retry_after=900)
    sleeps: list[float] = []
    with make_client(slack, sleeps, max_retry_after=60) as client:
        outcome = client.send("#ml-gpu", SUMMARY)
    assert outcome.status == "failed" and sleeps == []
    assert outcome.detail == ("Slack chat.postMessage: rate limited; the server asks to wait "
                              "900 s, more than slack.max_retry_after (60 s); the next run "
                              "will try again")


def test_server_errors_are_retried_with_backoff_then_fail(slack):
    slack.add_channel("ml-gpu")
    slack.fail("chat.postMessage", status=500, times=4)
    sleeps: list[float] = []
    with make_client(slack, sleeps, retries=3, retry_backoff=0.5) as client:
        outcome = client.send("#ml-gpu", SUMMARY)
    assert outcome.status == "failed"
    assert outcome.detail == ("Slack chat.postMessage: failed after 4 attempts (HTTP 500 "
                              "({\"ok\": false, \"error\": \"internal_error\"}))")
    assert sleeps == [0.5, 1.0, 2.0]
    assert slack.methods().count("chat.postMessage") == 4 and slack.posts == []


def test_server_errors_then_success(slack):
    slack.add_channel("ml-gpu")
    slack.fail("upload", status=502, times=2)
    sleeps: list[float] = []
    with make_client(slack, sleeps) as client:
        outcome = client.send("#ml-gpu", SUMMARY, FileUpload("r.pdf", tiny_pdf()))
    assert outcome.ok and sleeps == [0.5, 1.0]
    assert slack.methods().count("upload") == 3 and len(slack.shares) == 1


def test_a_share_that_happened_despite_the_error_is_not_repeated(slack):
    ml = slack.add_channel("ml-gpu")
    slack.fail("files.completeUploadExternal", status=500, after=True)  # acted, then 500
    with make_client(slack, []) as client:
        up = client.upload_file("#ml-gpu", "r.pdf", tiny_pdf(), initial_comment="digest")
    assert up.confirmed and up.channel_id == ml.id
    assert len(slack.shares) == 1
    assert slack.methods()[-2:] == ["files.completeUploadExternal", "files.info"]


def test_a_slow_server_times_out_and_is_tried_again(slack):
    slack.add_channel("ml-gpu")
    slack.fail("files.getUploadURLExternal", delay=2.0)
    with make_client(slack, [], timeout=0.5) as client:
        outcome = client.send("#ml-gpu", SUMMARY, FileUpload("r.pdf", tiny_pdf()))
    assert outcome.ok, outcome
    assert slack.methods().count("files.getUploadURLExternal") == 2
    deadline = time.monotonic() + 5
    while len(slack.uploads) < 2 and time.monotonic() < deadline:  # the slow answer lands late
        time.sleep(0.05)
    (late,) = [u for u in slack.uploads.values() if u.file_id != outcome.remote_id]
    assert late.data is None and not late.completions  # its URL was never used
    assert len(slack.shares) == 1
    assert slack.violations == []


def test_reserved_file_ids_let_a_retried_run_know_what_was_posted(slack):
    ml = slack.add_channel("ml-gpu")
    reserved: list[str] = []
    with make_client(slack) as client:
        outcome = client.send("#ml-gpu", SUMMARY, FileUpload("r.pdf", tiny_pdf()),
                              on_reserved=reserved.append)
        assert reserved == [outcome.remote_id]
        assert client.file_shared(outcome.remote_id, ml.id)
        # a run that died between reserving and sharing: the file exists, unshared
        slack.fail("files.completeUploadExternal", error="channel_not_found")
        lost: list[str] = []
        client.send("#ml-gpu", SUMMARY, FileUpload("r.pdf", tiny_pdf()), on_reserved=lost.append)
        assert not client.file_shared(lost[0], ml.id)
        assert not client.file_shared("F000NOSUCH", ml.id)


def test_odd_names_are_posted_safely(slack):
    cjk = slack.add_channel("机器学习-gpu")
    title = "team <!channel> & \"quotes\" 'x' " + "数" * 300
    summary = Summary(title=title, lines=["<@U0BOSS> please look", "tab\there"],
                      facts=[Fact("<b>", "&amp;")])
    with make_client(slack) as client:
        posted = client.send("#机器学习-gpu", summary)
        filed = client.send("#机器学习-gpu", summary,
                            FileUpload("../../etc/\x07weekly\n.pdf", tiny_pdf()))
    assert posted.ok and filed.ok, (posted, filed)
    (post,) = slack.posts
    assert post.channel == cjk.id and block_problems(post.blocks) == []
    header = post.blocks[0]["text"]["text"]
    assert len(header) == HEADER_LIMIT and header.startswith("team <!channel> &")
    texts = [b.get("text", {}).get("text", "") for b in post.blocks[1:]]
    assert "&lt;@U0BOSS&gt; please look" in texts[0] and "<@" not in "".join(texts)
    assert post.text.startswith("team &lt;!channel&gt; &amp; \"quotes\"")
    assert slack.uploads[filed.remote_id].filename == "weekly.pdf"
    assert "<!channel>" not in slack.shares[0].initial_comment


def test_bad_destinations_fail_before_any_request(slack):
    with make_client(slack) as client:
        for target in ("", "#", "#has space", "#" + "x" * 81, "bell\x07"):
            outcome = client.send(target, SUMMARY)
            assert outcome.status == "failed" and "\n" not in outcome.detail, target
        with pytest.raises(DeliveryError, match="the file is empty"):
            client.upload_file("#ml-gpu", "r.pdf", b"")
    assert slack.calls == []


def test_no_token_means_a_clear_error():
    with pytest.raises(DeliveryError, match=r"no bot token \(config slack.bot_token or "
                                            r"SLACK_BOT_TOKEN\)"):
        SlackClient(SlackSettings())


def test_the_token_never_reaches_messages_reprs_or_logs(slack, caplog):
    caplog.set_level(logging.DEBUG)
    slack.add_channel("ml-gpu")
    slack.fail("chat.postMessage", status=503, times=2)
    slack.fail("files.getUploadURLExternal", error="invalid_auth")
    client = make_client(slack, [], retries=1)
    outcomes = [client.send("#ml-gpu", SUMMARY),
                client.send("#ml-gpu", SUMMARY, FileUpload("r.pdf", tiny_pdf()))]
    client.send("#ml-gpu", SUMMARY, FileUpload("r.pdf", tiny_pdf()))  # succeeds, logs at DEBUG
    upload_keys = [u.key for u in slack.uploads.values()]
    texts = [repr(client), *(repr(o) for o in outcomes),
             *(r.getMessage() for r in caplog.records)]
    client.close()
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log
    assert any("/upload/v1/***" in r.getMessage() for r in caplog.records)
    for text in texts:
        assert TOKEN not in text and "sEcReT" not in text, text
        assert not any(key in text for key in upload_keys), text
