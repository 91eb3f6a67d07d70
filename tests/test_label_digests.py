"""Team digests per label value (``fan_out: label:team``; issue 14 item 1, its label part).

A schedule fanned out by a label key sends every value of the key that held GPUs in the period
its own digest, routed through ``teams:`` by the team's name (``team=ml``) or the bare value
(``cv``). Each digest keeps to its value: its users and their GPU-hours equal a plain SQL
computation over the workload rows carrying the value — the row's ``labels`` JSON, else (Lens
writes ``{}`` there today) its top-level ``gpu_workload``'s — on SQLite and on PostgreSQL, and
no user or namespace of another value appears in it. A label team's name
includes its key, so its claim differs from a namespace's or another key's of the same value.
The Lens API cannot filter workload rows by label: there a label fan-out is a one-line error.

The store is the session's Monday demo store (last week = 2026-W47): its ``gpu_workload`` rows
carry a ``team`` label (its hourly rows ``{}``, as Lens writes them), and
``label_gpu_hourly_stats`` has one row per team value and hour.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.conftest import MONDAY, create_pg_database, drop_pg_database
from tests.fakes.smtp import smtp_server
from tests.team_digest_setup import attachments, csv_rows, gpureport, write_config

W47 = ("2026-11-16 00:00:00", "2026-11-23 00:00:00")
W46 = ("2026-11-09 00:00:00", "2026-11-16 00:00:00")  # the baseline week
SCHEDULE = {
    "name": "label-digests", "cron": "30 7 * * 1", "period": "last-week",
    "reports": ["weekly", "root-cause"], "clusters": ["gpu-east"], "formats": ["html"],
    "fan_out": "label:team", "fan_out_default": ["gpu-owners@example.com"],
    "admin": ["platform@example.com"], "subject": "GPU digest {{ team }} {{ period_label }}",
}
# cv routed by its bare value, ml by its team name; every other value gets fan_out_default
ROUTES = {"cv": {"email": ["cv@example.com"]}, "team=ml": {"email": ["ml@example.com"]}}
USER_KEY = "primus-safe.user.name"


def sql_by_hand(url: str, query: str, **params) -> list[tuple]:
    """Rows of a plain SQL statement, written for the store's database (no gpureport code)."""
    engine = create_engine(url)
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(text(query), params)]
    finally:
        engine.dispose()


def team_values(url: str) -> list[str]:
    """The ``team`` values with GPU-hours on gpu-east in W47, from the label rows."""
    return [v for (v,) in sql_by_hand(url, f"""
        SELECT dimension_value FROM label_gpu_hourly_stats
        WHERE cluster_name = 'gpu-east' AND dimension_type = 'label' AND dimension_key = 'team'
          AND stat_hour >= {ts(url, W47[0])} AND stat_hour < {ts(url, W47[1])}
        GROUP BY dimension_value HAVING SUM(allocated_gpu_count) > 0
        ORDER BY dimension_value""")]


def ts(url: str, value: str) -> str:
    return f"TIMESTAMP '{value}'" if url.startswith("postgresql") else f"'{value}'"


def json_text(url: str, column: str, key: str) -> str:
    if url.startswith("postgresql"):
        return f"{column} ->> '{key}'"
    return f"json_extract({column}, '$.\"{key}\"')"


def labelled_rows(url: str, week: tuple[str, str] = W47) -> str:
    """gpu-east's workload rows of ``week`` with their user and ``team`` value (``lv``): a
    row's own label, else (Lens writes ``{}`` on hourly rows) its top-level workload's; its
    user: its own annotation, else its owner, else its top-level workload's annotation."""
    return f"""(
        WITH top AS (SELECT namespace AS ns, name AS nm, MAX({json_text(url, 'g.annotations',
                                                                        USER_KEY)}) AS u,
                            MAX({json_text(url, 'g.labels', 'team')}) AS lv
                     FROM gpu_workload g WHERE COALESCE(parent_uid, '') = ''
                     GROUP BY namespace, name)
        SELECT w.namespace, w.workload_name, w.allocated_gpu_count,
               COALESCE(NULLIF({json_text(url, 'w.annotations', USER_KEY)}, ''),
                        NULLIF(w.owner_name, ''), NULLIF(top.u, ''), '(unknown)') AS who,
               COALESCE(NULLIF({json_text(url, 'w.labels', 'team')}, ''), top.lv) AS lv
        FROM workload_gpu_hourly_stats w
        LEFT JOIN top ON top.ns = w.namespace AND top.nm = w.workload_name
        WHERE w.cluster_name = 'gpu-east'
          AND w.stat_hour >= {ts(url, week[0])} AND w.stat_hour < {ts(url, week[1])}) AS r"""


def users_by_hand(url: str, value: str, week: tuple[str, str] = W47) -> dict[str, float]:
    """GPU-hours per user of the gpu-east workload rows labelled ``team=value`` in ``week``."""
    rows = sql_by_hand(url, f"SELECT who, SUM(allocated_gpu_count) FROM {labelled_rows(url, week)}"
                            " WHERE lv = :value GROUP BY who", value=value)
    return {who: float(h) for who, h in rows}


def namespaces_by_hand(url: str, value: str) -> set[str]:
    return {ns for (ns,) in sql_by_hand(
        url, f"SELECT DISTINCT namespace FROM {labelled_rows(url)} WHERE lv = :value",
        value=value)}


def report(tmp: Path, value: str) -> str:
    """The HTML report of ``team=value``'s digest, as written under ``report_dir``."""
    return (tmp / "reports" / "label-digests" / "2026-W47" /
            f"label-digests-2026-W47-team_{value}.html").read_text()


def setup(tmp: Path, url: str, smtp_port: int, schedule: dict | None = None) -> Path:
    return write_config(tmp, url, smtp_port, {**SCHEDULE, **(schedule or {})}, ROUTES)


@pytest.fixture(scope="module")
def monday_pg() -> str:
    """The Monday demo store generated into PostgreSQL (seed 42, as the SQLite one)."""
    from reporter.demo import generate

    url = create_pg_database("gr_label")
    generate(url, seed=42, profile="small", now=MONDAY)
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, monday_demo_store) -> str:
    if request.param == "sqlite":
        return monday_demo_store.url
    return request.getfixturevalue("monday_pg")


def test_each_label_value_gets_a_digest_with_only_its_own_users_and_workloads(store, tmp_path):
    values = team_values(store)
    assert {"cv", "ml", "nlp"} <= set(values) and len(values) > 3
    with smtp_server() as smtp:
        config = setup(tmp_path, store, smtp.port)
        r = gpureport(tmp_path, config, "run", "label-digests")
        assert r.exit_code == 0, r
        # one message per value, named by key and value, to its route or the default
        by_team = {m.message["Subject"].split()[2]: m for m in smtp.messages}
        assert sorted(by_team) == [f"team={v}" for v in values]
        assert by_team["team=cv"].rcpt_tos == ["cv@example.com"]  # routed by the bare value
        assert by_team["team=ml"].rcpt_tos == ["ml@example.com"]  # routed by the team name
        assert by_team["team=nlp"].rcpt_tos == ["gpu-owners@example.com"]

        everyone = {v: users_by_hand(store, v) for v in values}
        for value in values:
            files = attachments(by_team[f"team={value}"].message)
            rows = csv_rows(files[f"label-digests-2026-W47-team_{value}.csv"])
            users = {row["name"]: float(row["gpu_hours"]) for row in rows
                     if row["level"] == "user" and row["gpu_hours"]}
            # its users and their GPU-hours: exactly the workload rows carrying the value; a
            # user listed as gone held GPUs under the value the week before
            expected = everyone[value]
            assert set(users) == set(expected), value
            before = set(users_by_hand(store, value, W46))
            gone = {row["name"] for row in rows if row["level"] == "user"} - set(users)
            assert gone <= before, value
            for who, hours in expected.items():
                assert users[who] == pytest.approx(hours, abs=0.01), (value, who)
            # its idle workloads are in its own namespaces, of its own users
            idle = [row for row in rows if row["level"] == "idle_workload"]
            assert {row["namespace"] for row in idle} <= namespaces_by_hand(store, value)
            assert {row["user"] for row in idle} <= set(expected)
            # no other value's users (those that are not also its own, then or now)
            html = report(tmp_path, value)
            strangers = {u for v, us in everyone.items() if v != value for u in us}
            strangers -= set(expected) | before
            assert not [u for u in strangers if f">{u}<" in html], value

        # the KPIs are the value's label rows: its GPU-hours, equal to its workload rows'
        cv_hours = sum(everyone["cv"].values())
        html = report(tmp_path, "cv")
        assert f"{cv_hours:,.0f}" in html
        assert "team=cv: average utilization" in html

        # a second run sends nothing: each (schedule, period, team) was delivered
        again = gpureport(tmp_path, config, "run", "label-digests")
        assert again.exit_code == 0, again
        assert len(smtp.messages) == len(values)
        assert again.stdout.count("already delivered") == len(values)


def test_a_dry_run_lists_every_label_value_and_sends_nothing(monday_demo_store, tmp_path):
    with smtp_server() as smtp:
        config = setup(tmp_path, monday_demo_store.url, smtp.port)
        r = gpureport(tmp_path, config, "run", "label-digests", "--dry-run")
        assert r.exit_code == 0, r
        assert smtp.messages == []
    values = team_values(monday_demo_store.url)
    assert f"label-digests 2026-W47: {len(values)} team digests" in r.stdout
    for v in values:
        assert f"team team={v}: dry run" in r.stdout


def test_a_label_teams_name_carries_its_key_so_claims_never_collide():
    from reporter.schedules import label_team, team_of

    # the same value under two keys, as an annotation and as a namespace: four claims
    names = {team_of("label:team", "ml"), team_of("label:group", "ml"),
             team_of("annotation:team", "ml"), "ml"}
    assert names == {"team=ml", "group=ml", "annotation:team=ml", "ml"}
    assert label_team("label:team", "team=ml-platform") == ("label", "team", "ml-platform")
    assert label_team("annotation:team", "annotation:team=a=b") == ("annotation", "team", "a=b")
    assert label_team("namespace", "ml") is None


def test_fan_out_forms_are_validated_in_one_line(tmp_path):
    from agent.errors import ScheduleError
    from reporter.schedules import load_schedules

    for good in ("label:team", "annotation:primus-safe.user.name",
                 "label:app.kubernetes.io/name"):
        (tmp_path / "label-digests.yaml").write_text(yaml.safe_dump({**SCHEDULE,
                                                                      "fan_out": good}))
        assert load_schedules(tmp_path)["label-digests"].fan_out == good
    for bad in ("team", "label:", "tag:team", "label:-team", "label:a b"):
        path = tmp_path / "label-digests.yaml"
        path.write_text(yaml.safe_dump({**SCHEDULE, "fan_out": bad}))
        with pytest.raises(ScheduleError) as info:
            load_schedules(tmp_path)
        message = str(info.value)
        assert message.startswith(f"{path}: fan_out: ") and "\n" not in message
        assert "label:<key> or annotation:<key>" in message


def test_the_lens_api_refuses_a_label_fan_out_in_one_line():
    import httpx

    from agent.errors import SourceError
    from agent.periods import Period
    from agent.sources.base import Scope
    from agent.sources.lens import LensSource
    from reporter.reports.teams import team_names

    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(500)

    lens = LensSource("http://lens.test/v1", transport=httpx.MockTransport(handler))
    start, end = (datetime(2026, 11, 16, tzinfo=timezone.utc),
                  datetime(2026, 11, 23, tzinfo=timezone.utc))
    with pytest.raises(SourceError) as info:
        team_names(lens, MONDAY, Period(start, end, "2026-W47"), "gpu-east", "label:team")
    assert "\n" not in str(info.value) and "label fan-out needs the sql source" in str(info.value)
    # and a label's users are never answered with another team's rows
    with pytest.raises(SourceError):
        lens.children_stats(Scope(kind="label", cluster="gpu-east", label_key="team",
                                  label_value="cv"), "user", start, end)
    assert asked == []  # refused before any request


def test_a_rows_own_label_comes_before_its_workloads(monday_demo_store, tmp_path):
    """Lens writes ``{}`` on hourly rows today; a row that carries the key is read by its own
    value — here one cv workload's rows relabelled ``team=nlp`` move to nlp, whole."""
    from agent.sources.base import Scope
    from agent.sources.sql import SqlSource

    db = tmp_path / "demo.db"
    shutil.copy(monday_demo_store.path, db)
    url = f"sqlite:///{db}"
    with sqlite3.connect(db) as con:
        (name, hours) = con.execute(
            "SELECT workload_name, SUM(allocated_gpu_count) FROM workload_gpu_hourly_stats "
            "WHERE cluster_name = 'gpu-east' AND namespace = 'cv-team' AND stat_hour >= ? "
            "AND stat_hour < ? GROUP BY workload_name ORDER BY 2 DESC LIMIT 1", W47).fetchone()
        con.execute("UPDATE workload_gpu_hourly_stats SET labels = '{\"team\": \"nlp\"}' "
                    "WHERE namespace = 'cv-team' AND workload_name = ?", (name,))
    start, end = (datetime(2026, 11, 16, tzinfo=timezone.utc),
                  datetime(2026, 11, 23, tzinfo=timezone.utc))
    source = SqlSource(url)
    try:
        loads = {v: source.children_stats(Scope(kind="label", cluster="gpu-east",
                                                label_key="team", label_value=v),
                                          "workload", start, end) for v in ("cv", "nlp")}
    finally:
        source.close()
    assert name not in {w.name for w in loads["cv"]}
    (moved,) = [w for w in loads["nlp"] if w.name == name]
    assert moved.namespace == "cv-team" and moved.gpu_hours == pytest.approx(hours)
    for v in ("cv", "nlp"):
        assert sum(w.gpu_hours for w in loads[v]) == pytest.approx(
            sum(users_by_hand(url, v).values()))


def test_the_sql_source_counts_a_label_values_own_workloads(store):
    from agent.sources.base import Scope
    from agent.sources.sql import SqlSource

    start, end = (datetime(2026, 11, 16, tzinfo=timezone.utc),
                  datetime(2026, 11, 23, tzinfo=timezone.utc))
    source = SqlSource(store)
    try:
        cv = Scope(kind="label", cluster="gpu-east", label_key="team", label_value="cv")
        stats = source.period_stats(cv, start, end)
        users, loads = source.users_and_workloads(cv, start, end)
    finally:
        source.close()
    ((hours, n),) = sql_by_hand(
        store, "SELECT SUM(allocated_gpu_count), COUNT(DISTINCT namespace || '/' || "
               f"workload_name) FROM {labelled_rows(store)} WHERE lv = 'cv'")
    assert stats.gpu_hours == pytest.approx(hours) and stats.workloads == n
    assert sum(u.gpu_hours for u in users) == pytest.approx(hours)
    assert sum(w.gpu_hours for w in loads) == pytest.approx(hours) and len(loads) == n
