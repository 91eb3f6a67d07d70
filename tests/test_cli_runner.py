"""tests/cli.py itself: an in-process run behaves like a new process and leaves nothing behind."""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings

import reporter.cli
from tests.cli import run, run_process


def test_an_in_process_run_prints_like_a_process_and_leaves_no_trace(home, tmp_path,
                                                                      monkeypatch):
    """stdout and stderr apart, the exit code from SystemExit, env/cwd/argv/signals restored,
    the clock at NOW, logged and Python warnings on stderr (not in pytest's records)."""
    seen = {}

    def main(argv):
        seen.update(argv=list(argv), sys_argv=list(sys.argv), cwd=os.getcwd(),
                    now=os.environ.get("GPUREPORT_NOW"), extra=os.environ.get("GR_EXTRA"))
        os.environ["GR_LEAK"] = "1"
        os.chdir("/")
        signal.signal(signal.SIGTERM, lambda *a: None)
        logging.getLogger("reporter.anything").warning("a logged warning")
        warnings.warn("a user warning", UserWarning)
        warnings.warn("a deprecation", DeprecationWarning)  # ignored outside __main__
        print("to stdout")
        print("to stderr", file=sys.stderr)
        raise SystemExit(4)

    monkeypatch.setattr(reporter.cli, "main", main)
    sub = tmp_path / "sub"
    sub.mkdir()
    before = (dict(os.environ), os.getcwd(), sys.argv[:], signal.getsignal(signal.SIGTERM),
              logging.getLogger().handlers[:])

    r = run("doctor", 7, env={"GR_EXTRA": "x"}, cwd=sub)

    assert (r.exit_code, r.stdout) == (4, "to stdout\n"), r
    assert "to stderr" in r.stderr and "a logged warning" in r.stderr, r
    assert "UserWarning: a user warning" in r.stderr and "deprecation" not in r.stderr, r
    assert seen == {"argv": ["doctor", "7"], "sys_argv": ["gpureport", "doctor", "7"],
                    "cwd": str(sub), "now": "2026-11-19T12:00:00Z", "extra": "x"}
    assert (dict(os.environ), os.getcwd(), sys.argv, signal.getsignal(signal.SIGTERM),
            logging.getLogger().handlers) == before
    again = run("doctor")  # no cwd given: the run starts here and the directory is put back
    assert seen["cwd"] == str(tmp_path) and again.exit_code == 4
    assert (dict(os.environ), os.getcwd(), sys.argv, signal.getsignal(signal.SIGTERM),
            logging.getLogger().handlers) == before


def test_an_exception_escaping_main_is_exit_1_with_its_traceback(monkeypatch):
    def main(argv):
        raise RuntimeError("boom")

    monkeypatch.setattr(reporter.cli, "main", main)
    r = run("-v", "doctor")
    assert r.exit_code == 1 and isinstance(r.exception, RuntimeError)
    assert "Traceback" in r.stderr and "RuntimeError: boom" in r.stderr


def test_in_process_and_separate_process_runs_agree(home):
    """The same failing command gives the same exit code and output either way."""
    args = ("ask", "How many GPUs are in use now?")
    inside, outside = run(*args), run_process(*args)
    assert (inside.exit_code, inside.stdout, inside.stderr) == \
        (outside.exit_code, outside.stdout, outside.stderr)
    assert inside.exit_code == 1 and inside.error_line().startswith("error: ")
