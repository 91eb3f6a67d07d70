"""The digest's "Unusual this week" block (issue 15 item 2): shown only when there is an episode
(answers.md §8), in the agent's words, in English and Chinese, in the report and the email.

The store is tests/anomaly_store.py's: one 6-hour drop of ``train-a`` on Wednesday 2026-11-18
(2026-W47), or none (``inject=False``). The weekly digest runs at MONDAY (2026-11-23 06:00), so
its "last week" is W47.
"""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path


from tests.anomaly_store import build_store
from tests.cli import run
from tests.conftest import MONDAY, MONDAY_ISO

LINE_EN = ("alpha on lab: utilization below usual from 2026-11-18 10:00 to 2026-11-18 16:00 UTC "
           "(6 h), peak −38.2 pp")
LINE_ZH = "alpha（lab）：利用率低于往常，2026-11-18 10:00 至 2026-11-18 16:00 UTC（6 小时）"


def digest(tmp_path: Path, *, inject: bool) -> dict:
    """`gpureport run weekly-digest --dry-run` at MONDAY on the store: html, text part of the email."""
    url = build_store(tmp_path / "lab.db", inject=inject, end=MONDAY)
    r = run("run", "weekly-digest", "--dry-run", cwd=tmp_path,
            env={"GPUREPORT_DATABASE_URL": url, "GPUREPORT_HOME": str(tmp_path / "home"),
                 "GPUREPORT_NOW": MONDAY_ISO})
    assert r.exit_code == 0, r
    folder = tmp_path / "home" / "reports" / "weekly-digest" / "2026-W47"
    files = {p.suffix.lstrip("."): p for p in folder.iterdir()}
    mail = email.message_from_bytes(files["eml"].read_bytes(), policy=email.policy.default)
    return {"html": files["html"].read_text(encoding="utf-8"),
            "text": mail.get_body(("plain",)).get_content().replace("\r\n", "\n")}


def report_html(tmp_path: Path, lang: str) -> str:
    url = build_store(tmp_path / "lab.db", end=MONDAY)
    r = run("report", "weekly", "--format", "html", "--out", "out", "--lang", lang, cwd=tmp_path,
            env={"GPUREPORT_DATABASE_URL": url, "GPUREPORT_HOME": str(tmp_path / "home"),
                 "GPUREPORT_NOW": MONDAY_ISO})
    assert r.exit_code == 0, r
    (path,) = (tmp_path / "out").glob("*.html")
    return path.read_text(encoding="utf-8")


def block(html: str) -> str:
    m = re.search(r"<h3>(?:Unusual this week|本期异常)</h3>(.*?)</div>", html, re.S)
    assert m, "no Unusual this week block"
    return m.group(1)


def test_the_digest_lists_the_episode_with_its_cause_in_report_and_email(home, tmp_path):
    out = digest(tmp_path, inject=True)
    items = re.findall(r"<li>(.*?)</li>", block(out["html"]), re.S)
    # the namespace's episode and the cluster's, largest first (equal: the namespace first)
    assert len(items) == 2 and items[0].startswith(LINE_EN)
    assert "Likely cause: workload train-a" in items[0]
    assert items[1].startswith("cluster lab: utilization below usual") and \
        "Likely cause: namespace alpha" in items[1]
    assert "the same hours of the previous 4 weeks" in block(out["html"])
    assert "Unusual this week:\n- " + LINE_EN in out["text"]


def test_no_episode_no_block(home, tmp_path):
    out = digest(tmp_path, inject=False)
    assert "Unusual this week" not in out["html"] and "Unusual this week" not in out["text"]
    assert "Most idle allocated workloads" in out["html"]  # the rest of the digest is there


def test_the_block_in_chinese(home, tmp_path):
    html = report_html(tmp_path, "zh")
    items = re.findall(r"<li>(.*?)</li>", block(html), re.S)
    assert items[0].startswith(LINE_ZH) and "可能原因：任务 train-a" in items[0]
    assert "前 4 周同一时段" in block(html)


def test_an_episode_as_long_as_the_period_is_left_to_the_week_over_week_figures(
        monday_demo_store):
    """The demo's ml-team drop spans all of W47: the tiles, the table and the drop box say it,
    so the block does not say it again (answers.md §8); a shorter episode is listed."""
    from agent.sources.sql import SqlSource
    from reporter.reports.build import build_report

    src = SqlSource(f"sqlite:///{monday_demo_store.path}")
    try:
        ctx = build_report(["weekly"], src, MONDAY)
    finally:
        src.close()
    by = {s.cluster: s for s in ctx.sections}
    assert by["gpu-east"].anomalies == [] and by["gpu-east"].anomaly_lines == []
    assert "ml-team" in {d.namespace for d in ctx.dropped}  # said there instead
    lab = by["gpu-lab"].anomalies
    assert [(e["namespace"], e["start"], e["end"]) for e in lab] == [
        ("student-lab", "2026-11-22T09:00:00Z", "2026-11-22T19:00:00Z")]
    assert by["gpu-lab"].anomaly_lines[0].startswith(
        "student-lab on gpu-lab: utilization below usual from 2026-11-22 09:00")
    assert "Was anything unusual for gpu-lab over last week?" in ctx.questions
