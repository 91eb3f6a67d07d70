"""The command line's contract: fast help, demo + doctor, and bad input as one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import run, run_process
from tests.expect import raw_rows
from tests.fakes import free_port
from tests.fakes.lens_api import serve_lens

# modules `gpureport --help` must not import: commands load them only when they run
HEAVY = ("sqlalchemy", "langgraph", "langchain_core", "langchain_openai", "weasyprint", "pygal",
         "alembic")


def assert_one_line_error(r, *needles):
    assert r.exit_code == 1, r
    line = r.error_line()
    assert line.startswith("error: "), r
    for n in needles:
        assert n in line, line


def test_help_lists_every_command_without_importing_the_heavy_modules():
    """A real start-up (a new process): the commands are listed, none of their modules loaded."""
    r = run_process("--help", python=("-X", "importtime"))
    assert r.exit_code == 0, r
    for cmd in ("demo", "ask", "report", "run", "scheduler", "alerts", "ingest", "history", "doctor"):
        assert cmd in r.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()
                if line.startswith("import time:")}
    assert "reporter.cli" in imported
    assert not {m for m in imported if m.split(".")[0] in HEAVY}, sorted(imported)


def test_a_command_leaves_its_heap_to_the_operating_system_at_exit():
    """After a command, the interpreter's last collection skips what the imports left (the
    objects are frozen at exit); the command's output and exit code are untouched."""
    code = ("import atexit, gc\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
            "from reporter.cli import main\n"
            "main(['--version'])\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "gpureport" in done.stdout
    assert done.stdout.rstrip().endswith("frozen at exit: True")


COMMANDS = ["demo", "ask", "report", "run", "scheduler", "scheduler run", "scheduler list",
            "alerts", "alerts check", "alerts list", "ingest", "ingest prometheus", "history",
            "nudges", "nudges list", "doctor", "serve"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_reads_as_plain_text_for_a_newcomer(command):
    """Help is read by someone without the source or the specs: no reST markup (``x``) and no
    pointers into spec files they do not have (product.md §6)."""
    r = run(*command.split(), "--help")
    assert r.exit_code == 0, r
    assert "``" not in r.stdout and ".md" not in r.stdout.replace("README", ""), r.stdout


@pytest.mark.parametrize("session", ["../../etc/passwd", "my session", "会话", "", "s" * 201])
def test_a_session_id_the_api_would_refuse_is_a_usage_error(home, session):
    """One rule for conversation ids (agent.text.SESSION_PATTERN): a conversation started with
    ``ask --session`` can always be continued over HTTP, so the CLI refuses what the API does."""
    r = run("ask", "gpu-east last week", "--session", session)
    assert r.exit_code == 2, r
    assert "--session" in r.error_line() and "letters, digits" in r.error_line()


def test_demo_then_doctor(home):
    r = run("demo", "--seed", "3")
    assert r.exit_code == 0, r
    assert "gpu-east" in r.stdout
    again = run("demo")
    assert_one_line_error(again, "--reset")
    d = run("doctor", "--json")
    assert d.exit_code == 0, d
    report = d.json()
    assert all(c["ok"] for c in report["checks"])
    assert {c["name"] for c in report["checks"]} >= {"source", "state database"}


def test_doctor_masks_secrets(home, config_file):
    cfg = config_file("llm: {api_key: sk-supersecret, base_url: 'http://127.0.0.1:1/v1'}\n"
                      "smtp: {host: 127.0.0.1, port: 1, password: hunter2}\n"
                      "state: {database_url: 'postgresql+psycopg://u:pw-secret@127.0.0.1:1/x'}\n")
    r = run("--config", cfg, "doctor")
    assert r.exit_code == 1, r  # nothing configured answers
    for secret in ("sk-supersecret", "hunter2", "pw-secret"):
        assert secret not in r.stdout + r.stderr
    assert "****" in r.stdout and "FAIL" in r.stdout


def test_unreachable_database_is_one_line(home):
    r = run("ask", "How many GPUs are in use now?",
            env={"GPUREPORT_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/lens"})
    assert_one_line_error(r, "database")


def test_missing_embedded_store_says_to_run_demo(home):
    r = run("ask", "How many GPUs are in use now?")
    assert_one_line_error(r, "gpureport demo")


def test_unreachable_lens_api_is_one_line(home):
    r = run("ask", "How many GPUs are in use now?", env={"LENS_API_URL": f"http://127.0.0.1:{free_port()}/v1"})
    assert_one_line_error(r, "Lens API", "unreachable")


def test_lens_api_answering_500_twice_then_200_succeeds(home, demo_db):
    with serve_lens(demo_db) as server:
        server.fail_next(2, status=500)
        r = run("ask", "How many GPUs are in use now?", "--cluster", "gpu-east", "--json",
                env={"LENS_API_URL": server.url})
        assert r.exit_code == 0, r
        assert r.json()["figures"]["total_gpus"] > 0


def test_lens_api_non_json_body_is_a_clear_error(home, demo_db):
    with serve_lens(demo_db) as server:
        server.garbage_next(10)
        r = run("ask", "How many GPUs are in use now?", "--cluster", "gpu-east",
                env={"LENS_API_URL": server.url})
        assert_one_line_error(r, "non-JSON")


@pytest.mark.parametrize("content, needles", [
    ("smtp:\n  port: 99999\n", ("smtp.port", "65535")),
    ("source:\n  kind: oracle\n", ("source.kind",)),
    ("source: [1, 2\n", ("not valid YAML",)),
    ("sorce:\n  kind: sql\n", ("sorce",)),
])
def test_malformed_config_names_the_key_and_reason(home, config_file, content, needles):
    r = run("--config", config_file(content), "doctor")
    assert_one_line_error(r, *needles)


def test_bad_now_and_bad_timezone(home):
    r = run("--now", "yesterday-ish", "doctor")
    assert r.exit_code == 2 and "--now" in r.stderr and "yesterday-ish" in r.stderr, r
    r = run("--tz", "Mars/Olympus", "doctor")
    assert r.exit_code == 2 and "Mars/Olympus" in r.stderr, r


# -- --json when a command fails: one JSON object on stdout, stderr and exit code as without it ------

FAILURES = [  # (arguments before --json, exit code, error type)
    (("ask", "how is the quantum-team doing last week across all clusters"), 1, "UnknownName"),
    (("ask", "gpu-east usage next week"), 2, "PeriodError"),
    (("ask", ""), 2, "UsageError"),
    (("ask", "gpu-east last week", "--lang", "fr"), 2, "BadParameter"),
    (("--now", "yesterday-ish", "ask", "gpu-east last week"), 2, "BadParameter"),
    (("history", "--limit", "many"), 2, "BadParameter"),
]


@pytest.mark.parametrize("args, code, error_type", FAILURES)
def test_a_failed_json_command_prints_one_json_error_on_stdout(home, demo_db, args, code,
                                                               error_type):
    """A script that parses stdout gets JSON whatever happened: ``{"error": {type, message,
    exit_code}}``; a person still reads the same line on stderr, and the exit code is the same."""
    env = {"GPUREPORT_DATABASE_URL": demo_db}
    plain = run(*args, env=env)
    r = run(*args, "--json", env=env)
    assert r.exit_code == plain.exit_code == code, r
    assert plain.stdout == "" and r.stderr == plain.stderr
    error = r.json()["error"]
    assert (error["type"], error["exit_code"]) == (error_type, code)
    assert error["message"] and error["message"] in r.stderr


def test_an_unknown_name_in_json_carries_the_word_and_real_names_to_try(home, demo_db):
    r = run("ask", "how is the quantum-team doing last week across all clusters", "--json",
            env={"GPUREPORT_DATABASE_URL": demo_db})
    assert r.exit_code == 1, r
    error = r.json()["error"]
    assert (error["kind"], error["name"]) == ("any", "quantum-team")
    real = {row[0] for row in raw_rows(demo_db, "SELECT cluster_name FROM cluster_gpu_hourly_stats "
                                                "UNION SELECT namespace FROM namespace_gpu_hourly_stats")}
    assert error["suggestions"] and set(error["suggestions"]) <= real
    assert ", ".join(error["suggestions"]) in r.error_line()  # the names the line shows


def test_a_source_failure_in_json_is_the_error_object(home):
    r = run("ask", "How many GPUs are in use now?", "--json")  # no store: `gpureport demo` first
    assert_one_line_error(r, "gpureport demo")
    assert r.json() == {"error": {"type": "SourceError", "message": r.error_line()[len("error: "):],
                                  "exit_code": 1}}


def test_seed_variables_choose_the_state_database(home):
    from reporter.config import load_config

    cfg = load_config(None, env={"STORAGE_BACKEND": "pg", "PG_HOST": "db.internal", "PG_PORT": "6543",
                                 "PG_DATABASE": "lens", "PG_USER": "agent", "PG_PASSWORD": "p@ss",
                                 "PG_SSLMODE": "require"})
    assert cfg.state.database_url.startswith("postgresql+psycopg://agent:p%40ss@db.internal:6543/lens")
    assert "sslmode=require" in cfg.state.database_url
    lens = load_config(None, env={"LENS_API_URL": "http://lens:8989/v1"})
    assert lens.source.kind == "lens"
