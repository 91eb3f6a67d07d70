"""The command line's contract: fast help, demo + doctor, and bad input as one clear line."""

from __future__ import annotations

import json
import socket

import pytest

from tests.fakes.lens_api import serve_lens
from tests.test_ask import gpureport


@pytest.fixture
def home_env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return {"GPUREPORT_HOME": str(home)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_one_line_error(r, *needles):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_help_lists_every_command():
    r = gpureport("--help")
    assert r.returncode == 0
    for cmd in ("demo", "ask", "report", "run", "scheduler", "alerts", "ingest", "history", "doctor"):
        assert cmd in r.stdout


def test_demo_then_doctor(home_env):
    r = gpureport("demo", "--seed", "3", env=home_env)
    assert r.returncode == 0, r.stderr
    assert "gpu-east" in r.stdout
    again = gpureport("demo", env=home_env)
    assert_one_line_error(again, "--reset")
    d = gpureport("doctor", "--json", env=home_env)
    assert d.returncode == 0, d.stdout + d.stderr
    report = json.loads(d.stdout)
    assert all(c["ok"] for c in report["checks"])
    assert {c["name"] for c in report["checks"]} >= {"source", "state database"}


def test_doctor_masks_secrets(home_env, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("llm: {api_key: sk-supersecret, base_url: 'http://127.0.0.1:1/v1'}\n"
                   "smtp: {host: 127.0.0.1, port: 1, password: hunter2}\n"
                   "state: {database_url: 'postgresql+psycopg://u:pw-secret@127.0.0.1:1/x'}\n")
    r = gpureport("--config", str(cfg), "doctor", env=home_env)
    assert r.returncode == 1  # nothing configured answers
    for secret in ("sk-supersecret", "hunter2", "pw-secret"):
        assert secret not in r.stdout + r.stderr
    assert "****" in r.stdout and "FAIL" in r.stdout


def test_unreachable_database_is_one_line(home_env):
    env = dict(home_env, GPUREPORT_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/lens")
    r = gpureport("ask", "How many GPUs are in use now?", env=env)
    assert_one_line_error(r, "database")


def test_missing_embedded_store_says_to_run_demo(home_env):
    r = gpureport("ask", "How many GPUs are in use now?", env=home_env)
    assert_one_line_error(r, "gpureport demo")


def test_unreachable_lens_api_is_one_line(home_env):
    env = dict(home_env, LENS_API_URL=f"http://127.0.0.1:{_free_port()}/v1")
    r = gpureport("ask", "How many GPUs are in use now?", env=env)
    assert_one_line_error(r, "Lens API", "unreachable")


def test_lens_api_answering_500_twice_then_200_succeeds(home_env, demo_db):
    with serve_lens(demo_db) as server:
        server.fail_next(2, status=500)
        r = gpureport("ask", "How many GPUs are in use now?", "--cluster", "gpu-east", "--json",
                      env=dict(home_env, LENS_API_URL=server.url))
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["figures"]["total_gpus"] > 0


def test_lens_api_non_json_body_is_a_clear_error(home_env, demo_db):
    with serve_lens(demo_db) as server:
        server.garbage_next(10)
        r = gpureport("ask", "How many GPUs are in use now?", "--cluster", "gpu-east",
                      env=dict(home_env, LENS_API_URL=server.url))
        assert_one_line_error(r, "non-JSON")


@pytest.mark.parametrize("content, needles", [
    ("smtp:\n  port: 99999\n", ("smtp.port", "65535")),
    ("source:\n  kind: oracle\n", ("source.kind",)),
    ("source: [1, 2\n", ("not valid YAML",)),
    ("sorce:\n  kind: sql\n", ("sorce",)),
])
def test_malformed_config_names_the_key_and_reason(home_env, tmp_path, content, needles):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(content)
    r = gpureport("--config", str(cfg), "doctor", env=home_env)
    assert_one_line_error(r, *needles)


def test_bad_now_and_bad_timezone(home_env):
    r = gpureport("--now", "yesterday-ish", "doctor", env=home_env)
    assert r.returncode == 2 and "--now" in r.stderr and "yesterday-ish" in r.stderr
    r = gpureport("--tz", "Mars/Olympus", "doctor", env=home_env)
    assert r.returncode == 2 and "Mars/Olympus" in r.stderr


def test_seed_variables_choose_the_state_database(home_env):
    from reporter.config import load_config

    cfg = load_config(None, env={"STORAGE_BACKEND": "pg", "PG_HOST": "db.internal", "PG_PORT": "6543",
                                 "PG_DATABASE": "lens", "PG_USER": "agent", "PG_PASSWORD": "p@ss",
                                 "PG_SSLMODE": "require"})
    assert cfg.state.database_url.startswith("postgresql+psycopg://agent:p%40ss@db.internal:6543/lens")
    assert "sslmode=require" in cfg.state.database_url
    lens = load_config(None, env={"LENS_API_URL": "http://lens:8989/v1"})
    assert lens.source.kind == "lens"
