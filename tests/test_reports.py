"""Reports (product.md §7): the weekly digest, namespace drops and root causes as HTML and PDF.

The demo store is the session's Monday store (tests/conftest.py, now = Monday 2026-11-23 06:00
UTC), so "last week" is 2026-W47 — the week of the scripted ml-team drop — and the week before is
2026-W46. Expected
figures are computed here with plain SQL over the demo tables, never by the code under test.
PDFs are read back with pypdf (text, fonts, drawing operators) and poppler's pdftotext
(word positions).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from tests.cli import Result, run
from tests.rows import add_namespace_hours
from tests.conftest import MONDAY, MONDAY_ISO, NOW
W47 = ("2026-11-16 00:00:00", "2026-11-23 00:00:00")
W46 = ("2026-11-09 00:00:00", "2026-11-16 00:00:00")
HOSTILE = "<script>alert(1)</script>"
LONG = "w" + "-very-long-workload-name" * 12 + "-" + "x" * 10  # 300 characters
assert len(LONG) == 300


# -- independent arithmetic over the demo tables ----------------------------------------------
def _sums(db: Path, sql: str, *params) -> tuple:
    with sqlite3.connect(db) as con:
        return con.execute(sql, params).fetchone()


def cluster_kpis(db: Path, week: tuple[str, str], cluster: str | None = None) -> dict:
    """product.md §4 by hand: GPU-hour weighted utilization, allocation rate, GPU-hours, idle."""
    where = "stat_hour >= ? AND stat_hour < ?" + (" AND cluster_name = ?" if cluster else "")
    params = (*week, cluster) if cluster else week
    alloc, weighted, capacity = _sums(
        db, f"SELECT SUM(allocated_gpu_count), SUM(allocated_gpu_count * avg_utilization), "
            f"SUM(total_gpu_capacity) FROM cluster_gpu_hourly_stats WHERE {where}", *params)
    return {"util": weighted / alloc, "alloc": alloc / capacity * 100, "gpu_hours": alloc,
            "idle": alloc - weighted / 100}


def namespace_util(db: Path, week: tuple[str, str], cluster: str, namespace: str) -> float:
    alloc, weighted = _sums(
        db, "SELECT SUM(allocated_gpu_count), SUM(allocated_gpu_count * avg_utilization) "
            "FROM namespace_gpu_hourly_stats WHERE stat_hour >= ? AND stat_hour < ? "
            "AND cluster_name = ? AND namespace = ?", *week, cluster, namespace)
    return weighted / alloc


def pct(v: float) -> str:
    return f"{v:.1f}%"


def pp(v: float) -> str:
    return f"{'+' if v >= 0 else '−'}{abs(v):.1f} pp"


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(path).pages)


def pdf_fonts(path: Path) -> set[str]:
    from pypdf import PdfReader

    fonts = set()
    for page in PdfReader(path).pages:
        for f in (page["/Resources"].get("/Font") or {}).values():
            fonts.add(str(f.get_object()["/BaseFont"]))
    return fonts


def drawing_ops(path: Path, page: int = 0) -> Counter:
    """Path-construction and painting operators in a page's content stream."""
    from pypdf import PdfReader

    data = PdfReader(path).pages[page].get_contents().get_data().decode("latin-1")
    return Counter(re.findall(r"(?<=\s)(re|l|c|m|S|f|B)(?=\s)", data))


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def monday_db(monday_demo_store) -> Path:
    """The shared demo store generated at MONDAY (read only)."""
    return monday_demo_store.path


def run_cli(db: Path, tmp: Path, *args: str) -> Result:
    """``gpureport *args`` on the store ``db`` at MONDAY, from ``tmp`` (GPUREPORT_HOME tmp/home)."""
    return run(*args, cwd=tmp, env={"GPUREPORT_DATABASE_URL": f"sqlite:///{db}",
                                    "GPUREPORT_HOME": str(tmp / "home"),
                                    "GPUREPORT_NOW": MONDAY_ISO})


@pytest.fixture(scope="module")
def weekly(monday_db, tmp_path_factory) -> dict[str, Path]:
    """`gpureport report weekly --format both --out out` on the demo store: the files it wrote."""
    tmp = tmp_path_factory.mktemp("weekly")
    proc = run_cli(monday_db, tmp, "report", "weekly", "--format", "both", "--out", "out")
    assert proc.exit_code == 0, proc
    paths = [Path(line) for line in proc.stdout.splitlines() if line.strip()]
    return {p.suffix.lstrip("."): (tmp / p if not p.is_absolute() else p) for p in paths}


@pytest.fixture(scope="module")
def source(monday_db):
    from agent.sources.sql import SqlSource

    src = SqlSource(f"sqlite:///{monday_db}")
    yield src
    src.close()


# -- 1. the weekly digest on the demo data --------------------------------------------------------
def test_weekly_writes_html_and_pdf_and_prints_their_paths(weekly):
    assert set(weekly) == {"html", "pdf"}
    assert weekly["html"].name == "gpureport-weekly-all-clusters-2026-W47.html"
    assert weekly["pdf"].read_bytes().startswith(b"%PDF-")
    from pypdf import PdfReader

    box = PdfReader(weekly["pdf"]).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points


def test_pdf_kpis_equal_independently_computed_values(weekly, monday_db):
    text = pdf_text(weekly["pdf"])
    now, before = cluster_kpis(monday_db, W47), cluster_kpis(monday_db, W46)
    # the summary tiles: every cluster together, with the change against the week before
    assert pct(now["util"]) in text
    assert pp(now["util"] - before["util"]) in text
    assert pct(now["alloc"]) in text
    assert pp(now["alloc"] - before["alloc"]) in text
    assert f"{now['gpu_hours']:,.0f}" in text
    assert f"{now['idle']:,.0f}" in text
    # and one cluster's own tiles
    east, east0 = cluster_kpis(monday_db, W47, "gpu-east"), cluster_kpis(monday_db, W46, "gpu-east")
    assert pct(east["util"]) in text and pp(east["util"] - east0["util"]) in text
    assert f"{east['gpu_hours']:,.0f}" in text


def test_pdf_names_the_dropped_namespace_and_its_contributors(weekly, monday_db):
    text = pdf_text(weekly["pdf"])
    assert "Namespaces whose utilization dropped by 5 pp or more" in text
    u0 = namespace_util(monday_db, W46, "gpu-east", "ml-team")
    u1 = namespace_util(monday_db, W47, "gpu-east", "ml-team")
    assert u1 - u0 <= -5
    assert f"{pct(u0)} → {pct(u1)}" in text and pp(u1 - u0) in text
    # the scripted causes: user_a ran fewer jobs, user_b's new idle 8-GPU server
    for who in ("ml-team", "user_a", "user_b", "llm-eval-server"):
        assert who in text
    assert "28 → 12" in text  # user_a's workloads, week before → last week
    # the summary's list of drops holds ml-team and nothing else of the demo
    drops = text.split("Namespaces whose utilization dropped")[1].split("Current allocation")[0]
    assert "ml-team" in drops
    assert not any(ns in drops for ns in ("cv-team", "nlp-team", "research", "inference"))


def test_period_header_page_numbers_and_generated_at(weekly):
    text = pdf_text(weekly["pdf"])
    from pypdf import PdfReader

    pages = len(PdfReader(weekly["pdf"]).pages)
    assert f"1 / {pages}" in text and f"{pages} / {pages}" in text
    assert "2026-W47 (2026-11-16 – 2026-11-22)" in text
    assert "Generated " in text and "data as of 2026-11-23 06:00 UTC" in text


# -- 2. self-contained HTML, vector charts ---------------------------------------------------------
def test_html_is_self_contained_with_inline_svg(weekly):
    html = weekly["html"].read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    assert not re.search(r"<(link|img|iframe|object)\b", html, re.I)
    assert not re.search(r"\b(src|href)\s*=", html, re.I)
    assert "@import" not in html and "url(" not in html
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert len(svgs) == 4  # the summary and each of the three clusters
    assert all("<path" in s for s in svgs)


def test_pdf_chart_is_drawn_as_vector_paths(weekly):
    ops = drawing_ops(weekly["pdf"], page=0)
    # 168 hourly points in three series: hundreds of line segments, not an embedded image
    assert ops["l"] > 300 and ops["S"] > 10
    from pypdf import PdfReader

    xobjects = PdfReader(weekly["pdf"]).pages[0]["/Resources"].get("/XObject") or {}
    assert not any(x.get_object().get("/Subtype") == "/Image" for x in xobjects.values())


# -- 3. Chinese -------------------------------------------------------------------------------------
def test_chinese_report_has_extractable_chinese_text_in_a_cjk_font(monday_db, tmp_path):
    proc = run_cli(monday_db, tmp_path, "report", "weekly", "--cluster", "gpu-east",
                   "--format", "pdf", "--lang", "zh", "--out", str(tmp_path / "zh"))
    assert proc.exit_code == 0, proc
    pdf = Path(proc.stdout.strip())
    text = pdf_text(pdf)
    for words in ("GPU 使用周报", "平均利用率", "分配率", "空闲 GPU 小时", "利用率下降", "命名空间"):
        assert words in text
    assert "上周" in text  # the agent's narrative, phrased in Chinese
    assert any("CJK" in f for f in pdf_fonts(pdf))  # glyphs from a CJK font, not boxes


# -- 4. hostile and long names ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_db(monday_db, tmp_path_factory) -> Path:
    """The demo store plus two idle 8-GPU workloads with a hostile and a 300-character name."""
    from datetime import timedelta

    path = tmp_path_factory.mktemp("hostile") / "demo.db"
    shutil.copy(monday_db, path)
    rows = []
    for name in (HOSTILE, LONG):
        for h in range(7 * 24):
            hour = (datetime(2026, 11, 16) + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S.%f")
            rows.append(("gpu-east", "research", name, "Job", hour, 8.0, 8.0, 0.5,
                         '{}', '{"primus-safe.user.name": "<b>mallory</b>"}', hour, hour))
    with sqlite3.connect(path) as con:
        con.executemany(
            "INSERT INTO workload_gpu_hourly_stats (cluster_name, namespace, workload_name, "
            "workload_type, stat_hour, allocated_gpu_count, requested_gpu_count, avg_utilization,"
            " labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    return path


def test_hostile_and_long_workload_names_are_escaped(hostile_db):
    from agent.sources.sql import SqlSource
    from reporter.render.email import render_email
    from reporter.render.html import render_html
    from reporter.reports.build import build_report

    src = SqlSource(f"sqlite:///{hostile_db}")
    try:
        ctx = build_report("weekly", src, MONDAY, cluster="gpu-east")
    finally:
        src.close()
    assert {w["name"] for w in ctx.sections[0].idle[:2]} == {HOSTILE, LONG}
    html = render_html(ctx)
    assert HOSTILE not in html and "<b>mallory</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;mallory&lt;/b&gt;" in html
    assert LONG in html
    body, text = render_email(ctx)
    assert HOSTILE not in body and "<script" not in body


def test_long_names_wrap_inside_the_page(hostile_db, tmp_path):
    from agent.sources.sql import SqlSource
    from reporter.reports.build import build_report
    from reporter.render.files import write_report

    src = SqlSource(f"sqlite:///{hostile_db}")
    try:
        ctx = build_report("weekly", src, MONDAY, cluster="gpu-east")
    finally:
        src.close()
    (pdf,) = write_report(ctx, ["pdf"], tmp_path)
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    words = re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"[^>]*>(.*?)</word>',
                       bbox)
    assert words
    right_margin = 595.28 - 13 / 25.4 * 72  # A4 width minus the 13 mm margin, in points
    overflow = [w for w in words if float(w[1]) > right_margin + 1]
    assert not overflow, overflow[:5]
    # the 300-character name is broken over several lines of its cell, not clipped
    assert sum(1 for w in words if "very-long-workload-name" in w[2]) >= 2


# -- 5. empty periods and unknown names ---------------------------------------------------------------
def test_a_period_without_data_gives_a_report_that_says_so(source, tmp_path):
    from reporter.reports.build import build_report
    from reporter.render.files import write_report

    ctx = build_report("weekly", source, MONDAY, period="2025-W01")
    assert ctx.empty and len(ctx.sections) == 1
    paths = write_report(ctx, ["both"], tmp_path)
    html = paths[0].read_text(encoding="utf-8")
    assert "No GPU usage data for all clusters in 2025-W01" in html
    assert "The newest hourly data is from 2026-11-23 05:00 UTC" in html
    assert "No GPU usage data" in pdf_text(paths[1])


def test_a_first_week_without_a_week_before_shows_no_changes(source):
    """The demo starts on Monday 2026-10-26 (W44): W43 has no rows, so there is nothing to
    compare with — the tiles say so instead of showing a change from zero."""
    from reporter.reports.build import build_report
    from reporter.render.html import render_html

    ctx = build_report("weekly", source, MONDAY, cluster="gpu-lab", period="2026-W44")
    (sec,) = ctx.sections
    assert not sec.empty and all(k.delta is None for k in sec.kpis)
    assert not sec.drops and {r["status"] for r in sec.table} == {"new"}
    assert "no data the week before" in render_html(ctx)


def test_unknown_namespace_is_a_one_line_error_with_suggestions(monday_db, tmp_path):
    proc = run_cli(monday_db, tmp_path, "report", "root-cause", "--cluster", "gpu-east",
                   "--namespace", "ml-teem", "--format", "html")
    assert proc.exit_code == 1, proc
    assert proc.stderr.strip() == "error: unknown namespace 'ml-teem'; did you mean: ml-team?"
    assert proc.stdout == "" and not list(tmp_path.glob("*.html"))


def test_unknown_cluster_and_bad_period_raise_clear_errors(source):
    from agent.periods import PeriodError
    from agent.sources.base import NotFound
    from reporter.reports.build import build_report

    with pytest.raises(NotFound, match="unknown cluster 'gpu-eats'; did you mean: gpu-east"):
        build_report("weekly", source, MONDAY, cluster="gpu-eats")
    with pytest.raises(PeriodError):
        build_report("weekly", source, MONDAY, period="fortnight-ish")


# -- the other kinds, periods and the schedule entry point ----------------------------------------
def test_this_week_compares_with_the_same_span_of_last_week(source):
    from reporter.reports.build import build_report

    ctx = build_report("namespace-drops", source, NOW, cluster="gpu-east", period="this-week")
    assert ctx.baseline.label == "same span last week"
    assert ctx.period.end - ctx.period.start == ctx.baseline.end - ctx.baseline.start
    assert [d.namespace for d in ctx.sections[0].drops] == ["ml-team"]


def test_root_cause_of_one_namespace(source, monday_db):
    from reporter.reports.build import build_report
    from reporter.render.html import render_html

    ctx = build_report("root-cause", source, MONDAY, cluster="gpu-east", namespace="ml-team")
    (sec,) = ctx.sections
    (drill,) = sec.movers
    u0 = namespace_util(monday_db, W46, "gpu-east", "ml-team")
    u1 = namespace_util(monday_db, W47, "gpu-east", "ml-team")
    assert drill.delta_pp == pytest.approx(u1 - u0)
    assert [c["name"] for c in sec.attribution][:2] == ["user_b", "user_a"]
    assert drill.workloads[0]["name"] == "llm-eval-server"
    assert drill.workloads[0]["status"] == "new"
    html = render_html(ctx)
    assert "What changed the utilization: by user" in html and "llm-eval-server" in html


def test_a_team_in_two_clusters_gets_one_row_per_cluster_and_no_box_for_a_flat_week(source):
    """cv-team runs on gpu-east and gpu-west: its digest (every cluster) lists alice of each
    cluster as its own row, named gpu-east/alice and gpu-west/alice, each with its own impact
    (answers.md §4) — and its week was flat (0.0 pp), so there is no "moved" box (§8)."""
    from agent.period_parse import parse_period
    from reporter.render.html import render_html
    from reporter.reports.teams import build_team_report

    ctx = build_team_report(["weekly", "root-cause"], source, MONDAY, "cv-team",
                            period=parse_period("last-week", MONDAY))  # 2026-W47
    (sec,) = ctx.sections
    assert abs(sec.compare["delta_pp"]) < 0.05 and sec.movers == [] and sec.drops == []
    labels = [sec.row_label(r) for r in sec.table]
    assert "gpu-east/alice" in labels and "gpu-west/alice" in labels
    assert len(labels) == len(set(labels))
    impact = {sec.row_label(r): sec.impact(r) for r in sec.table}
    assert impact["gpu-east/alice"] != impact["gpu-west/alice"]
    html = render_html(ctx)
    assert "gpu-east/alice" in html and "gpu-west/alice" in html
    assert "Inside the namespaces that moved" not in html


def test_progress_is_reported_from_start_to_end(source):
    from reporter.reports.build import build_report

    seen: list[float] = []
    build_report("weekly", source, MONDAY, cluster="gpu-lab", progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)


def test_render_for_schedule_writes_files_and_email_bodies(source, tmp_path):
    from reporter.render.scheduled import render_for_schedule
    from reporter.schedules import get_schedule, period_for, render_subject

    schedule = get_schedule("weekly-digest")
    period = period_for(schedule, MONDAY)
    out = render_for_schedule(schedule, period, tmp_path, source=source, now=MONDAY)
    # every digest keeps and attaches its complete tables as CSV (issue 14 item 4)
    assert sorted(p.suffix for p in out.files) == [".csv", ".html", ".pdf"]
    assert all(p.exists() for p in out.files)
    assert out.csv is not None and out.problems == []  # the data is complete: no gate lines
    assert out.pdf is not None and out.pdf.startswith(b"%PDF-")
    assert "ml-team" in out.text and "ml-team" in out.html
    assert "<svg" not in out.html  # mail clients drop SVG: the email body has none
    assert "attached as a PDF" in out.text
    ctx = out.subject_context
    assert ctx["dropped_namespaces"] == "ml-team" and ctx["avg_utilization"].endswith("%")
    subject = render_subject(schedule, period, ctx)
    assert "2026-W47" in subject


# -- reports ask the agent, and only the agent --------------------------------------------------
class WatchedSource:
    """A source that records, for every call, which of our modules asked: the first frame on
    the stack outside this class and the build's memo. Reports must reach the data only
    through the agent (``agent.*``), never from ``reporter.*`` directly."""

    def __init__(self, source):
        self.source = source
        self.calls: list[tuple[str, str, tuple]] = []  # (caller module, method, arguments)

    def __getattr__(self, name):
        import functools
        import sys

        method = getattr(self.source, name)
        if name in ("ping", "close") or not callable(method):  # plain attributes pass through
            return method

        @functools.wraps(method)  # the memo binds arguments to the real signature
        def watched(*args, **kwargs):
            frame = sys._getframe(1)
            while frame is not None and frame.f_globals.get("__name__") in (
                    __name__, "agent.sources.memo"):
                frame = frame.f_back
            while frame is not None and not frame.f_globals.get("__name__", "").startswith(
                    ("agent.", "reporter.")):
                frame = frame.f_back  # threads, functools: up to our own code
            caller = frame.f_globals["__name__"] if frame is not None else "?"
            self.calls.append((caller, name, args + tuple(sorted(kwargs.items()))))
            return method(*args, **kwargs)

        return watched


def test_a_report_reaches_the_data_only_through_the_agent_and_asks_each_query_once(source):
    from reporter.reports.build import build_report

    watched = WatchedSource(source)
    ctx = build_report(["weekly", "root-cause"], watched, MONDAY)
    assert ctx.dropped and ctx.sections[1].attribution  # the report did ask its questions
    callers = Counter(caller.split(".")[0] for caller, _, _ in watched.calls)
    assert set(callers) == {"agent"}, Counter(c for c, _, _ in watched.calls)
    # the build's memoizing source: overlapping presets cost one query each (arguments as
    # bound to the signature: ``label_key=None`` spelled out or left to its default is one)
    import inspect

    def key(method, args):
        sig = inspect.signature(getattr(source, method))
        bound = sig.bind(*[a for a in args if not isinstance(a, tuple)],
                         **dict(a for a in args if isinstance(a, tuple)))
        bound.apply_defaults()
        return method, tuple(bound.arguments.items())

    repeated = [k for k, n in Counter(key(m, a) for _, m, a in watched.calls).items() if n > 1]
    assert not repeated, repeated[:3]
    # and the questions asked are the presets, in words
    assert "How did gpu-east compare with the week before?" in ctx.questions
    assert "Why did the utilization of ml-team in gpu-east change compared with the week " \
           "before?" in ctx.questions


def test_reports_import_no_figures_phrasing_or_source_code():
    """Reports hold no figure code: from ``agent.figures`` only the shared drop rule, nothing
    from ``agent.phrasing``, no data source but the memo the agent reads through."""
    import ast

    root = Path(__file__).resolve().parents[1] / "reporter" / "reports"
    found = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = {a.name for a in node.names}
                if node.module == "agent.figures" and names != {"dropped_namespaces"}:
                    found.append(f"{path.name}: agent.figures {sorted(names)}")
                if node.module.startswith(("agent.phrasing", "agent.tools", "agent.graph")) or \
                        (node.module.startswith("agent.sources")
                         and node.module not in ("agent.sources.base", "agent.sources.memo")):
                    found.append(f"{path.name}: {node.module}")
            elif isinstance(node, ast.Import):
                found += [f"{path.name}: {a.name}" for a in node.names
                          if a.name.startswith(("agent.figures", "agent.phrasing"))]
    assert not found, found


@pytest.fixture(scope="module")
def tiny_drop_db(monday_db, tmp_path_factory) -> Path:
    """The Monday store plus a namespace of gpu-east that used 10 GPU-hours a week and fell
    from 90 % to 10 % utilization in W47: an 80 pp drop of 0.03 % of the cluster; and one of
    gpu-lab that ran only in W44."""
    path = tmp_path_factory.mktemp("tiny") / "demo.db"
    shutil.copy(monday_db, path)
    add_namespace_hours(path, "gpu-east", "tiny-team", [(datetime(2026, 11, 9), 90.0),
                                                        (datetime(2026, 11, 16), 10.0)])
    add_namespace_hours(path, "gpu-lab", "old-team", [(datetime(2026, 10, 26), 50.0)])
    return path


def test_a_drop_must_be_material_to_be_reported(tiny_drop_db):
    """answers.md §8: a namespace section and its drill-down only for a drop of at least the
    threshold by a namespace holding at least 2 % of the cluster's GPU-hours."""
    from agent.sources.sql import SqlSource
    from reporter.render.html import render_html
    from reporter.reports.build import build_report

    src = SqlSource(f"sqlite:///{tiny_drop_db}")
    try:
        ctx = build_report("namespace-drops", src, MONDAY, cluster="gpu-east")
        everything = build_report("namespace-drops", src, MONDAY, cluster="gpu-east",
                                  drop_min_share_pct=0.0)
    finally:
        src.close()
    (sec,) = ctx.sections
    tiny = next(r for r in sec.table if r["name"] == "tiny-team")
    assert tiny["delta_pp"] == pytest.approx(-80.0)  # in the table, with its change ...
    assert [d.namespace for d in sec.drops] == ["ml-team"]  # ... but not a drop
    assert sec.dropped == {"ml-team"}
    html = render_html(ctx)
    row = re.search(r"<tr( class=\"drop\")?>\s*<td class=\"name\">tiny-team</td>", html)
    assert row and row.group(1) is None  # and not marked as one
    assert re.search(r"<tr class=\"drop\">\s*<td class=\"name\">ml-team</td>", html)
    # without the share rule it would be the largest drop of the report
    assert [d.namespace for d in everything.sections[0].drops] == ["tiny-team", "ml-team"]


def test_the_share_rule_is_configurable(tiny_drop_db, tmp_path, config_file):
    cfg = config_file({"drop_min_share_pct": 0})
    proc = run(*("--config", str(cfg), "report", "namespace-drops", "--cluster", "gpu-east",
                 "--format", "html", "--out", str(tmp_path)), cwd=tmp_path,
               env={"GPUREPORT_DATABASE_URL": f"sqlite:///{tiny_drop_db}",
                    "GPUREPORT_HOME": str(tmp_path / "home"), "GPUREPORT_NOW": MONDAY_ISO})
    assert proc.exit_code == 0, proc
    html = Path(proc.stdout.strip()).read_text(encoding="utf-8")
    assert re.search(r"<tr class=\"drop\">\s*<td class=\"name\">tiny-team</td>", html)


def test_the_report_kinds_and_the_scheduler_side_import_no_report_engine():
    """``report --help`` and ``scheduler list`` name the report kinds and the renderer's
    contract without paying for LangGraph, the charts or the PDF engine (a fresh process:
    what is imported is the thing tested)."""
    import subprocess
    import sys

    code = ("import sys, reporter.commands_report, reporter.commands_schedule, "
            "reporter.schedules, reporter.runner, reporter.scheduler, reporter.digest, "
            "reporter.reports.presets; "
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
            "('langgraph', 'langchain_core', 'langchain_openai', 'weasyprint', 'pygal', "
            "'jinja2', 'alembic')}))")
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_namespace_of_the_reports_period_only_is_known(tiny_drop_db):
    """--namespace is resolved against the agent's recent namespaces, then against those with
    data in the report's periods: old-team ran in W44 only."""
    from agent.sources.base import NotFound
    from agent.sources.sql import SqlSource
    from reporter.reports.build import build_report

    src = SqlSource(f"sqlite:///{tiny_drop_db}")
    try:
        ctx = build_report("root-cause", src, MONDAY, cluster="gpu-lab", namespace="Old_Team",
                           period="2026-W44")
        with pytest.raises(NotFound, match="unknown namespace 'old-teem'; did you mean: "
                                           "old-team"):
            build_report("root-cause", src, MONDAY, cluster="gpu-lab", namespace="old-teem",
                         period="2026-W44")
    finally:
        src.close()
    assert ctx.namespace == "old-team"
    (sec,) = ctx.sections
    assert sec.kpi("gpu_hours").value == pytest.approx(10.0)
