"""The web page in a real headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright without downloading a browser): ask, watch the status lines stream, pick a
clarification option (which resumes the waiting question in its conversation), find a
conversation started with ``gpureport ask --session`` in the sidebar, open it and go on with
it, open a past report. Screenshots of the page are kept in the test's directory
(``SCREENSHOT_DIR`` copies them elsewhere) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from reporter.statedb import open_state
from tests.serve_server import live_server, serve_config

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (scripts/install-system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


def test_ask_stream_clarify_and_open_a_report(browser, demo_db, tmp_path):
    from playwright.sync_api import expect  # (the page's CSP forbids evaluating strings)

    from tests.cli import run

    cfg = serve_config(tmp_path, demo_db)
    report_dir = tmp_path / "reports" / "weekly-digest" / "2026-W47"
    report_dir.mkdir(parents=True)
    html = report_dir / "weekly-digest-2026-W47.html"
    html.write_text("<!doctype html><html><body><h1>GPU digest</h1>"
                    "<p id='period'>weekly-digest 2026-W47</p></body></html>")
    with open_state(cfg.state.database_url) as state:
        run_id = state.start_run(schedule="weekly-digest", kind="weekly",
                                 period_start=datetime(2026, 11, 16, tzinfo=timezone.utc),
                                 period_end=datetime(2026, 11, 23, tzinfo=timezone.utc),
                                 trigger="scheduler")
        state.finish_run(run_id, "succeeded", files=[html], message_id="<m@x>")
    # a conversation started in a terminal, before the page is opened
    cli = run("ask", "Which namespaces wasted the most GPU hours last week across all clusters?", "--session",
              "from-terminal", "--json",
              env={"GPUREPORT_DATABASE_URL": demo_db,
                   "GPUREPORT_STATE_DATABASE_URL": cfg.state.database_url})
    assert cli.exit_code == 0, cli

    with live_server(cfg) as url:
        page = browser.new_page(viewport={"width": 1366, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/ui")
        page.wait_for_selector("#examples li")  # capabilities loaded
        assert not page.locator("#token-form").is_visible()  # no token configured
        page.wait_for_selector("#sessions li")
        assert page.locator("#sessions button.open").all_inner_texts() == [
            "Which namespaces wasted the most GPU hours last week across all clusters?"]

        # a question naming a cluster that does not exist: status lines, then options
        page.fill("#query", "Why is ml-team's utilization lower this week than last week?")
        page.fill("#cluster", "gpu-est")
        page.click("#send")
        page.wait_for_selector(".msg.bot .options button")
        first = page.locator(".msg.bot").nth(0)
        assert first.locator(".status li").all_inner_texts() == [
            "Understanding the question…", "Checking what was meant…", "Waiting for your choice"]
        options = first.locator(".options button").all_inner_texts()
        assert options == ["gpu-east", "gpu-west"]
        assert "gpu-est" in first.locator(".headline").inner_text()

        # pick gpu-east: the waiting question goes on from clarify (it is not asked again)
        first.locator(".options button", has_text="gpu-east").click()
        second = page.locator(".msg.bot").nth(1)
        second.locator("table").wait_for()
        assert page.locator(".msg.user").nth(1).inner_text() == "gpu-east"
        statuses = second.locator(".status li").all_inner_texts()
        assert statuses[0] == "Checking what was meant…" and statuses[-1] == "Writing the answer"
        assert "Understanding the question…" not in statuses
        assert any(s.startswith("drilldown_change") for s in statuses)
        headline = second.locator(".headline").inner_text()
        assert "ml-team" in headline and "gpu-east" in headline
        cells = second.locator("table td").all_inner_texts()
        assert "llm-eval-server" in cells and "user_a" in cells
        # one new conversation in the sidebar, above the terminal's, and it is the current one
        expect(page.locator("#sessions li")).to_have_count(2)
        names = page.locator("#sessions button.open").all_inner_texts()
        assert names == ["Why is ml-team's utilization lower this week than last week?",
                         "Which namespaces wasted the most GPU hours last week across all clusters?"]
        assert page.locator("#sessions button.open").nth(0).get_attribute("aria-current") == "true"

        # a hostile name is shown as text, never run
        page.fill("#cluster", "")
        page.fill("#query", "utilization of namespace '<img src=x onerror=alert(1)>'")
        page.click("#send")
        # no such namespace (answers.md §1): one line saying so, shown as text like the name
        error = page.locator(".msg.bot").nth(2).locator(".error")
        error.wait_for()
        assert error.inner_text().startswith("no namespace is named '<img src=x onerror=alert(1)>'")
        assert page.locator("img[src=x]").count() == 0
        assert "<img src=x" in page.locator(".msg.user").nth(2).inner_text()

        shots = tmp_path / "screenshots"
        shots.mkdir()
        page.locator(".msg.bot").nth(1).scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "serve-chat.png"))

        # open the terminal's conversation from the sidebar and go on with it
        page.locator("#sessions button.open", has_text="wasted the most").click()
        page.wait_for_selector(".msg.bot.past")
        assert page.locator(".msg.user").all_inner_texts() == [
            "Which namespaces wasted the most GPU hours last week across all clusters?"]
        assert page.locator(".msg.bot.past .headline").inner_text() == cli.json()["answer"]
        page.screenshot(path=str(shots / "serve-opened.png"))
        page.fill("#query", "and this week?")
        page.click("#send")
        follow = page.locator(".msg.bot:not(.past)").nth(0)
        follow.locator("table").wait_for()
        assert "this week" in follow.locator(".headline").inner_text()
        page.screenshot(path=str(shots / "serve-conversation.png"))
        conv = httpx.get(url + "/api/gpu-analysis/storage/conversations/from-terminal",
                         timeout=30).json()
        assert [m["content"] for m in conv["messages"] if m["role"] == "user"] == [
            "Which namespaces wasted the most GPU hours last week across all clusters?", "and this week?"]

        # the Reports tab lists the run; its HTML opens
        page.click("#tab-reports")
        page.wait_for_selector("#reports tbody tr")
        row = page.locator("#reports tbody tr").first
        assert "weekly-digest" in row.inner_text() and "succeeded" in row.inner_text()
        assert "2026-11-16 00:00 → 2026-11-23 00:00" in row.inner_text()
        page.screenshot(path=str(shots / "serve-reports.png"))
        with page.expect_popup() as popup:
            row.locator("a", has_text="HTML").click()
        report = popup.value
        report.wait_for_load_state()
        assert report.locator("#period").inner_text() == "weekly-digest 2026-W47"

        # deleting a conversation from the sidebar removes its thread
        page.click("#tab-ask")
        page.locator("#sessions li[data-session='from-terminal'] button.delete").click()
        expect(page.locator("#sessions li")).to_have_count(1)
        assert page.locator("#sessions button.open").all_inner_texts() == [
            "Why is ml-team's utilization lower this week than last week?"]
        assert httpx.get(url + "/api/gpu-analysis/storage/conversations/from-terminal",
                         timeout=30).status_code == 404
        assert errors == []
        keep = os.environ.get("SCREENSHOT_DIR")
        if keep:
            for png in shots.iterdir():
                shutil.copy(png, Path(keep) / png.name)
