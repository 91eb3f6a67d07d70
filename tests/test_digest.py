"""The weekly digest says each thing once and fits its pages (answers.md §8; issue 12 items 2
and 7), and what a first run trips over: Chinese without a CJK font, a database URL gpureport
cannot open, a database without Lens tables (items 3 and 4).

The store is the session's Monday demo store (tests/conftest.py: now = Monday 2026-11-23 06:00
UTC, "last week" = 2026-W47, the week of the scripted ml-team drop); stores with more rows are
copies. Expected figures are computed here with plain SQL; PDFs are read back with pypdf.
"""

from __future__ import annotations

import csv
import email
import io
import re
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from tests.cli import run
from tests.conftest import MONDAY, MONDAY_ISO
from tests.rows import add_namespace_hours

W47 = ("2026-11-16 00:00:00", "2026-11-23 00:00:00")
W46 = ("2026-11-09 00:00:00", "2026-11-16 00:00:00")
DIGEST_KINDS = ["weekly", "namespace-drops", "root-cause"]  # schedules/weekly-digest.yaml


def pct(v: float) -> str:
    return f"{v:.1f}%"


def pp(v: float) -> str:
    return f"{'+' if v >= 0 else '−'}{abs(v):.1f} pp"


def pdf_pages(data: bytes) -> list:
    from pypdf import PdfReader

    return list(PdfReader(io.BytesIO(data)).pages)


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pdf_pages(data))


def cli(db: Path, tmp: Path, *args: str, env: dict | None = None):
    """``gpureport *args`` on the store ``db`` at MONDAY, from ``tmp`` (home tmp/home)."""
    return run(*args, cwd=tmp, env={"GPUREPORT_DATABASE_URL": f"sqlite:///{db}",
                                    "GPUREPORT_HOME": str(tmp / "home"),
                                    "GPUREPORT_NOW": MONDAY_ISO, **(env or {})})


def section_html(html: str, title: str) -> str:
    """The ``<section>`` of the report whose heading is ``title``."""
    for part in html.split("<section")[1:]:
        if re.search(rf'<h2 class="name">{re.escape(title)}</h2>', part):
            return part.split("</section>")[0]
    raise AssertionError(f"no section {title!r}")


def drill_boxes(html: str) -> list[str]:
    return [b.split("</div>")[0] for b in html.split('<div class="drill')[1:]]


# -- the demo digest -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def monday_db(monday_demo_store) -> Path:
    return monday_demo_store.path


@pytest.fixture(scope="module")
def digest(monday_db, tmp_path_factory) -> dict:
    """`gpureport run weekly-digest --dry-run` at MONDAY: the run's files by suffix."""
    tmp = tmp_path_factory.mktemp("digest")
    r = cli(monday_db, tmp, "run", "weekly-digest", "--dry-run")
    assert r.exit_code == 0, r
    folder = tmp / "home" / "reports" / "weekly-digest" / "2026-W47"
    files = {p.suffix.lstrip("."): p for p in folder.iterdir()}
    return {"html": files["html"].read_text(encoding="utf-8"), "pdf": files["pdf"].read_bytes(),
            "eml": email.message_from_bytes(files["eml"].read_bytes()), "files": files}


@pytest.fixture(scope="module")
def ctx(monday_db):
    from agent.sources.sql import SqlSource
    from reporter.reports.build import build_report

    src = SqlSource(f"sqlite:///{monday_db}")
    try:
        yield build_report(DIGEST_KINDS, src, MONDAY)
    finally:
        src.close()


def test_the_demo_digest_fits_four_a4_pages(digest):
    pages = pdf_pages(digest["pdf"])
    assert 1 < len(pages) <= 4
    assert all((round(float(p.mediabox.width)), round(float(p.mediabox.height))) == (595, 842)
               for p in pages)
    # a table is not cut from its heading: every page starts with a section or a whole block
    assert "no data" not in pdf_text(digest["pdf"]).lower()


@pytest.mark.slow  # > 3 s: .ci/run runs it with the slow tests (default suite ≤ 4 min)
def test_the_chinese_digest_fits_four_pages_in_a_cjk_font(ctx, tmp_path, monday_db):
    from agent.sources.sql import SqlSource
    from reporter.render.html import render_html
    from reporter.render.pdf import render_pdf
    from reporter.reports.build import build_report

    src = SqlSource(f"sqlite:///{monday_db}")
    try:
        zh = build_report(DIGEST_KINDS, src, MONDAY, lang="zh")
    finally:
        src.close()
    pdf = render_pdf(render_html(zh))
    pages = pdf_pages(pdf)
    assert len(pages) <= 4
    text = pdf_text(pdf)
    assert "利用率下降 5 pp 及以上的命名空间" in text and "各命名空间环比" in text
    fonts = {str(f.get_object()["/BaseFont"]) for p in pages
             for f in (p["/Resources"].get("/Font") or {}).values()}
    assert any("CJK" in f for f in fonts)


def test_a_dropped_namespace_gets_one_box_and_no_second_table_of_the_same_rows(ctx, digest,
                                                                              monday_db):
    east = next(s for s in ctx.sections if s.cluster == "gpu-east")
    assert [d.namespace for d in east.drops] == ["ml-team"]
    assert east.movers == []  # not again under "the namespaces that moved"
    text = pdf_text(digest["pdf"])
    # the summary's drop row and the one box: the change is shown twice, not three times
    assert text.count("78.1% → 61.4%") == 2
    assert "Inside the namespaces that moved" not in text
    # the attribution to namespaces is the table's Impact column, not a table of its own
    assert "What changed the utilization: by namespace" not in text
    html = section_html(digest["html"], "gpu-east")
    header = html.split("<thead>")[1].split("</thead>")[0]
    assert ">Impact<" in header and ">GPUs now<" in header
    row = re.search(r'<td class="name">ml-team</td>(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[5] == pp(ml_team_impact(monday_db))
    # and the snapshot by namespace is that table's column, not a second table
    assert html.count('<table class="data">') == 4  # namespaces, the box's two, idle


def ml_team_impact(db: Path) -> float:
    """product.md §4 by hand: ml-team's share of gpu-east's change, from the namespace rows."""
    def sums(week):
        with sqlite3.connect(db) as con:
            return {ns: (a, u) for ns, a, u in con.execute(
                "SELECT namespace, sum(allocated_gpu_count), "
                "sum(allocated_gpu_count * avg_utilization) / 100 FROM namespace_gpu_hourly_stats "
                "WHERE cluster_name = 'gpu-east' AND stat_hour >= ? AND stat_hour < ? "
                "GROUP BY 1", week)}
    before, after = sums(W46), sums(W47)
    a0, u0 = sum(a for a, _ in before.values()), sum(u for _, u in before.values())
    a1 = sum(a for a, _ in after.values())
    (ba, bu), (aa, au) = before["ml-team"], after["ml-team"]
    return ((au - bu) - u0 / a0 * (aa - ba)) / a1 * 100


def test_a_namespace_that_barely_moved_gets_no_drilldown(ctx, digest):
    lab = next(s for s in ctx.sections if s.cluster == "gpu-lab")
    student = next(r for r in lab.table if r["name"] == "student-lab")
    assert -1.0 < student["delta_pp"] < 0  # −0.8 pp
    assert lab.drops == [] and lab.movers == []
    html = section_html(digest["html"], "gpu-lab")
    assert not drill_boxes(html)
    assert "dropped by 5 pp" not in html and "namespaces that moved" not in html


def test_the_workload_table_lists_causes_not_renamed_jobs(digest):
    (box,) = drill_boxes(section_html(digest["html"], "gpu-east"))
    workloads = box.split("By workload")[1]
    names = re.findall(r'<td class="name">([^<]+)', workloads)
    assert names[0].strip() == "llm-eval-server"
    # user_b's weekly finetune jobs renamed themselves (w46-01 gone +1.9 pp, w47-01 new
    # −1.9 pp): they cancel out and are not causes of the drop
    assert "user-b-finetune" not in box
    impacts = [float(v.replace("−", "-")) for v in re.findall(
        r'class="num (?:bad|good|flat)">([−+]?[\d.]+) pp</td>', workloads)]
    assert impacts and all(i <= -0.15 * 16.6 for i in impacts)


def test_renamed_weekly_jobs_are_one_family_row_with_its_runs(digest, monday_db):
    """answers.md §7 in the digest: user_a's weekly training runs (w46-01 … w47-12) are one row
    ``user-a-train-w*`` with its run count — the workload behind user_a's −5.7 pp — and no
    table anywhere lists a single renamed run."""
    (box,) = drill_boxes(section_html(digest["html"], "gpu-east"))
    workloads = box.split("By workload")[1]
    with sqlite3.connect(monday_db) as con:
        (runs,) = con.execute(
            "SELECT count(DISTINCT workload_name) FROM workload_gpu_hourly_stats WHERE "
            "cluster_name = 'gpu-east' AND namespace = 'ml-team' AND workload_name LIKE "
            "'user-a-train-w%' AND stat_hour >= ? AND stat_hour < ?", (W46[0], W47[1])).fetchone()
    assert re.search(rf'user-a-train-w\* <span class="aside">{runs} runs</span>', workloads)
    assert not re.search(r"-w\d\d-\d\d<", digest["html"])


def test_only_material_changes_are_coloured_and_the_rule_is_said(digest):
    html = digest["html"]
    cells = re.findall(r'<(?:td|span|div) class="(?:num |kpi-delta )?(good|bad|flat)">'
                       r'([−+]?[\d.]+) pp', html)
    pp_cells = [(tone, float(v.replace("−", "-").replace(",", ""))) for tone, v in cells]
    assert any(abs(v) < 1 for _, v in pp_cells) and any(abs(v) >= 1 for _, v in pp_cells)
    for tone, value in pp_cells:
        assert (tone != "flat") == (abs(value) >= 1.0), (tone, value)
    # gpu-west's −0.1 pp: grey, not red
    west = section_html(html, "gpu-west")
    assert re.search(r'class="kpi-delta flat">−0.1 pp', west)
    # a change that rounds to nothing has no sign in the tiles and tables
    assert not re.search(r">[−+]0\.0(?: pp|%)", html)
    # GPU-hours: material from 5 %: gpu-east's idle GPU-hours +5.5 % red, gpu-lab's +0.4 % grey
    assert re.search(r'class="kpi-delta bad">\+670 \(\+5\.5%\)', section_html(html, "gpu-east"))
    assert re.search(r'class="kpi-delta flat">\+5\.1 \(\+0\.4%\)', section_html(html, "gpu-lab"))
    assert "Changes are coloured when material: 1 pp or more" in html


def test_the_allocation_tile_shows_its_change(digest, monday_db):
    def alloc(week):
        with sqlite3.connect(monday_db) as con:
            a, cap = con.execute(
                "SELECT sum(allocated_gpu_count), sum(total_gpu_capacity) FROM "
                "cluster_gpu_hourly_stats WHERE stat_hour >= ? AND stat_hour < ?", week).fetchone()
        return a / cap * 100
    now, before = alloc(W47), alloc(W46)
    summary = digest["html"].split("<section")[1]
    tile = summary.split('<table class="kpis"')[1].split("</td>")[1]
    assert "Allocation rate" in tile and pct(now) in tile
    assert pp(now - before) in tile and f"{pct(before)} the week before" in tile
    text = next(p for p in digest["eml"].walk() if p.get_content_type() == "text/plain") \
        .get_payload(decode=True).decode()
    assert f"Allocation rate: {pct(now)} ({pp(now - before)})" in text


def test_the_chart_legend_draws_each_line_and_its_note_comes_once(digest):
    html = digest["html"]
    assert html.count('<span class="key base">') == 4  # every chart, dashed like its line
    assert 'class="legends"' not in html  # not pygal's squares
    assert html.count("Percent of allocated GPU capacity used") == 1


def test_idle_workloads_are_a_short_table_not_also_a_sentence(ctx, digest):
    east = section_html(digest["html"], "gpu-east")
    assert "Top workload by idle GPU-hours" not in east
    idle = east.split("Most idle allocated workloads")[1].split("</table>")[0]
    assert idle.count("<tr>") == 1 + 5  # header and five workloads
    sec = next(s for s in ctx.sections if s.cluster == "gpu-east")
    assert f"{sec.idle_total - 5:,} more workloads" in east


# -- a long table: the first rows in the document, all of them in a CSV ------------------------
@pytest.fixture(scope="module")
def busy_lab_db(monday_db, tmp_path_factory) -> Path:
    """The Monday store plus 20 small namespaces of gpu-lab (steady at 50 %) and rise-team,
    a namespace with 4 % of the cluster's GPU-hours that rose from 40 % to 90 %."""
    path = tmp_path_factory.mktemp("busy") / "demo.db"
    shutil.copy(monday_db, path)
    for i in range(1, 21):
        add_namespace_hours(path, "gpu-lab", f"team-{i:02d}",
                            [(datetime(2026, 11, 9), 50.0), (datetime(2026, 11, 16), 50.0)])
    add_namespace_hours(path, "gpu-lab", "rise-team",
                        [(datetime(2026, 11, 9), 40.0), (datetime(2026, 11, 16), 90.0)],
                        hours=168)
    return path


def test_a_long_table_keeps_every_row_in_a_csv_kept_and_attached(busy_lab_db, tmp_path):
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    (schedules / "lab.yaml").write_text(
        "name: lab-digest\ncron: '0 7 * * 1'\nperiod: last-week\n"
        "reports: [weekly, namespace-drops, root-cause]\nclusters: [gpu-lab]\n"
        "formats: [html]\nrecipients: [lab@example.com]\nsubject: lab {{ period_label }}\n")
    r = cli(busy_lab_db, tmp_path, "run", "lab-digest", "--dry-run",
            env={"GPUREPORT_SCHEDULES_DIR": str(schedules)})
    assert r.exit_code == 0, r
    folder = tmp_path / "home" / "reports" / "lab-digest" / "2026-W47"
    html = (folder / "lab-digest-2026-W47.html").read_text(encoding="utf-8")
    table = html.split("Namespaces, week over week")[1].split("</table>")[0]
    shown = re.findall(r'<td class="name">([^<]+)</td>', table)
    assert len(shown) == 15
    assert "9 more rows, with smaller GPU-hours, are in lab-digest-2026-W47.csv." in html
    # the CSV: RFC 4180 with a BOM, every row of the table
    data = (folder / "lab-digest-2026-W47.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    names = [row["name"] for row in rows if row["level"] == "namespace"]
    assert len(names) == 24 and set(shown) <= set(names)
    assert {f"team-{i:02d}" for i in range(1, 21)} <= set(names)
    rise = next(row for row in rows if row["name"] == "rise-team")
    assert float(rise["change_pp"]) == pytest.approx(50.0, abs=1e-3)
    assert float(rise["gpu_hours"]) == pytest.approx(168.0)
    # attached to the message, next to the report
    msg = email.message_from_bytes((folder / "lab-digest-2026-W47.eml").read_bytes())
    attached = {p.get_filename(): p for p in msg.walk() if p.get_filename()}
    assert attached["lab-digest-2026-W47.csv"].get_content_type() == "text/csv"
    assert attached["lab-digest-2026-W47.csv"].get_payload(decode=True) == data
    # rise-team rose by the drop rule mirrored: its own box under the namespaces that moved
    moved = html.split("Inside the namespaces that moved")[1]
    assert re.search(r'<div class="drill up">\s*<h4><span class="name">rise-team</span>', moved)


@pytest.mark.slow  # the large profile: ~25 s to generate, ~15 s to report on
def test_a_large_clusters_digest_fits_eight_pages_and_keeps_every_namespace_in_a_csv(tmp_path):
    from reporter.demo import generate

    db = tmp_path / "large.db"
    generate(f"sqlite:///{db}", profile="large", now=MONDAY)
    r = cli(db, tmp_path, "run", "weekly-digest", "--dry-run")
    assert r.exit_code == 0, r
    folder = tmp_path / "home" / "reports" / "weekly-digest" / "2026-W47"
    assert len(pdf_pages((folder / "weekly-digest-2026-W47.pdf").read_bytes())) <= 8
    with sqlite3.connect(db) as con:
        east = {n for (n,) in con.execute(
            "SELECT DISTINCT namespace FROM namespace_gpu_hourly_stats WHERE cluster_name = "
            "'gpu-east' AND stat_hour >= ? AND stat_hour < ?", (W46[0], W47[1]))}
    assert len(east) >= 150
    data = (folder / "weekly-digest-2026-W47.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert {row["name"] for row in rows if row["cluster"] == "gpu-east"
            and row["level"] == "namespace"} == east
    html = (folder / "weekly-digest-2026-W47.html").read_text(encoding="utf-8")
    assert f"{len(east) - 15} more rows, with smaller GPU-hours, are in " \
           "weekly-digest-2026-W47.csv." in html
    msg = email.message_from_bytes((folder / "weekly-digest-2026-W47.eml").read_bytes())
    assert {p.get_filename() for p in msg.walk() if p.get_filename()} == {
        "weekly-digest-2026-W47.pdf", "weekly-digest-2026-W47.csv"}


def test_the_csv_writer_is_rfc_4180_utf8_with_bom_and_defuses_formulas():
    from reporter.render.csvfile import csv_bytes

    cols = [("name", "name"), ("v", "value"), ("n", "note")]
    data = csv_bytes(cols, [
        {"name": 'a,"b"', "v": -1.5, "n": "two\nlines"},
        {"name": "=HYPERLINK(\"x\")", "v": None, "n": "训练团队"},
        {"name": "+1", "v": 0, "n": "@SUM(A1)"},
    ])
    assert data.startswith("\ufeff".encode()) and data.count(b"\r\n") == 4
    assert data.decode("utf-8-sig").split("\r\n")[1] == '"a,""b""",-1.5,"two\nlines"'
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["name", "value", "note"]
    assert rows[2] == ["'=HYPERLINK(\"x\")", "", "训练团队"]
    assert rows[3] == ["'+1", "0", "'@SUM(A1)"]


# -- Chinese needs a CJK font -------------------------------------------------------------------
@pytest.fixture
def latin_only_fontconfig(tmp_path) -> str:
    """A fontconfig file whose only font folder is DejaVu's: Latin fonts, no CJK font."""
    dejavu = sorted(Path("/usr/share/fonts").rglob("DejaVuSans.ttf"))
    if not dejavu:
        pytest.skip("DejaVu fonts are not installed (fonts-dejavu-core)")
    conf = tmp_path / "fonts.conf"
    conf.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>{dejavu[0].parent}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>
""")
    return str(conf)


def test_chinese_without_a_cjk_font_fails_with_the_package_to_install(
        monday_db, tmp_path, latin_only_fontconfig):
    env = {"FONTCONFIG_FILE": latin_only_fontconfig}
    out = tmp_path / "out"
    r = cli(monday_db, tmp_path, "report", "weekly", "--cluster", "gpu-lab", "--lang", "zh",
            "--format", "pdf", "--out", str(out), env=env)
    assert r.exit_code == 1, r
    line = r.error_line()
    assert "no CJK font" in line and "fonts-noto-cjk" in line
    assert not list(out.glob("*.pdf"))  # no PDF of empty boxes
    # HTML is drawn by the reader's browser: it needs no font here
    r = cli(monday_db, tmp_path, "report", "weekly", "--cluster", "gpu-lab", "--lang", "zh",
            "--format", "html", "--out", str(out), env=env)
    assert r.exit_code == 0, r


def test_chinese_names_in_the_data_need_the_font_too(monday_db, tmp_path, latin_only_fontconfig):
    db = tmp_path / "demo.db"
    shutil.copy(monday_db, db)
    add_namespace_hours(db, "gpu-lab", "训练团队", [(datetime(2026, 11, 9), 60.0),
                                                  (datetime(2026, 11, 16), 60.0)])
    r = cli(db, tmp_path, "report", "weekly", "--cluster", "gpu-lab", "--format", "pdf",
            "--out", str(tmp_path / "out"), env={"FONTCONFIG_FILE": latin_only_fontconfig})
    assert r.exit_code == 1 and "fonts-noto-cjk" in r.error_line(), r


def test_doctor_checks_latin_and_cjk_fonts(monday_db, tmp_path, latin_only_fontconfig):
    r = cli(monday_db, tmp_path, "doctor")
    assert r.exit_code == 0, r
    line = next(x for x in r.stdout.splitlines() if "fonts:" in x)
    assert line.startswith("ok") and "Latin: " in line and "CJK: Noto Sans CJK" in line
    r = cli(monday_db, tmp_path, "doctor", env={"FONTCONFIG_FILE": latin_only_fontconfig})
    assert r.exit_code == 1, r
    line = next(x for x in r.stdout.splitlines() if "fonts:" in x)
    assert line.startswith("FAIL") and "CJK: no font found (install fonts-noto-cjk)" in line
    assert "Latin: DejaVu Sans" in line


# -- connection strings ---------------------------------------------------------------------------
@pytest.mark.parametrize("url, driver", [
    ("mysql://reader:s3cret-pw@db.example.com/lens", "mysql"),
    ("sqlserver://db.example.com/lens", "sqlserver"),
    ("postgres+pyscopg://reader@db.example.com/lens", "postgres+pyscopg"),
])
@pytest.mark.parametrize("variable", ["GPUREPORT_DATABASE_URL", "GPUREPORT_STATE_DATABASE_URL"])
def test_an_unsupported_database_url_says_which_are_supported(tmp_path, url, driver, variable):
    r = run("ask", "how busy is gpu-east?", cwd=tmp_path,
            env={"GPUREPORT_HOME": str(tmp_path / "home"), variable: url})
    assert r.exit_code == 1, r
    line = r.error_line()
    assert f"unsupported database '{driver}'" in line
    assert "supported: sqlite:///PATH or postgresql+psycopg://" in line
    assert "s3cret" not in line and "ModuleNotFound" not in line and "plugin" not in line


def test_databases_per_cluster_are_checked_and_postgres_urls_mean_psycopg(tmp_path, config_file):
    from agent.settings import SourceSettings

    cfg = config_file({"source": {"databases": {"gpu-a": "mysql://h/a"}}})
    r = run("--config", str(cfg), "ask", "x", cwd=tmp_path,
            env={"GPUREPORT_HOME": str(tmp_path / "home")})
    assert r.exit_code == 1 and "source.databases: unsupported database 'mysql'" in \
        r.error_line(), r
    s = SourceSettings(database_url="postgres://u@h/db", databases={"a": "postgresql://u@h/a"})
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.databases == {"a": "postgresql+psycopg://u@h/a"}


@pytest.fixture
def empty_sqlite(tmp_path) -> str:
    path = tmp_path / "empty.db"
    path.touch()
    return f"sqlite:///{path}"


NO_LENS = ("has no Lens tables (is it empty?)", "run `gpureport demo`",
           "set source.database_url")


@pytest.mark.parametrize("args", [
    ("ask", "how busy is gpu-east this week?"),
    ("report", "weekly", "--format", "html"),
    ("run", "weekly-digest", "--dry-run"),
    ("alerts", "check", "--dry-run"),
])
def test_a_database_without_lens_tables_points_at_the_demo(tmp_path, empty_sqlite, args):
    r = run(*args, cwd=tmp_path, env={"GPUREPORT_HOME": str(tmp_path / "home"),
                                      "GPUREPORT_DATABASE_URL": empty_sqlite})
    assert r.exit_code == 1, r
    line = r.error_line()
    assert all(part in line for part in NO_LENS), line
    assert "no such table" not in line


def test_doctor_says_the_database_has_no_lens_tables(tmp_path, empty_sqlite):
    r = run("doctor", cwd=tmp_path, env={"GPUREPORT_HOME": str(tmp_path / "home"),
                                         "GPUREPORT_DATABASE_URL": empty_sqlite})
    assert r.exit_code == 1, r
    line = next(x for x in r.stdout.splitlines() if x.startswith("FAIL  source:"))
    assert all(part in line for part in NO_LENS), line


@pytest.mark.postgres
def test_a_fresh_postgresql_database_points_at_the_demo(tmp_path, pg_url):
    r = run("ask", "how busy is gpu-east this week?", cwd=tmp_path,
            env={"GPUREPORT_HOME": str(tmp_path / "home"), "GPUREPORT_DATABASE_URL": pg_url})
    assert r.exit_code == 1, r
    line = r.error_line()
    assert all(part in line for part in NO_LENS), line
    assert "UndefinedTable" not in line


def test_ci_the_image_and_the_quick_start_install_the_cjk_font():
    root = Path(__file__).resolve().parents[1]
    deps = (root / "scripts" / "install-system-deps.sh").read_text()
    assert re.search(r"apt-get install[^\n]*\\\n(?:[^\n]*\\\n)*[^\n]*fonts-noto-cjk", deps)
    ci = (root / ".ci" / "run").read_text()
    assert "bash scripts/install-system-deps.sh" in ci and "families('zh')" in ci
    docker = (root / "Dockerfile").read_text()
    assert re.search(r"apt-get install[^&]*fonts-noto-cjk", docker)
    readme = (root / "README.md").read_text()
    quick = readme.split("## Quick start")[1].split("```")[0]
    assert "fonts-noto-cjk" in quick and "install-system-deps.sh" in quick
