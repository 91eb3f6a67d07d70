"""Run the ``gpureport`` command line from tests: in this process, or as a separate one.

``run(*args, env=None, input=None, cwd=None)`` calls ``reporter.cli.main(list(args))`` — the
console script's entry point, error handling and exit codes included — inside Click's
``CliRunner().isolation()``: ``input`` is stdin, stdout and stderr are captured separately,
``env`` overrides the environment (``None`` unsets a variable) and ``cwd`` the working
directory, all restored afterwards. Each run starts the way a new process would:

* the clock is ``GPUREPORT_NOW=NOW`` (tests/conftest.py) unless the environment, ``env`` or
  ``--now`` says otherwise;
* functools caches in ``agent.*`` and ``reporter.*`` modules are emptied;
* the root logger has no handlers, so a logged warning reaches the captured stderr through
  logging's last-resort handler, and Python's default warning filters apply;
* whatever the run changes in ``os.environ``, the working directory, ``sys.argv``, the
  SIGTERM/SIGINT handlers and the root logger is put back.

``run_process(*args, env=None, input=None, cwd=None, timeout=120, python=())`` runs
``python -m reporter.cli`` with the same arguments and environment rules. Use it only where the
process boundary is what the test is about: start-up (what ``--help`` imports), signals, locks
and concurrency between processes, state that must outlive a process.

Both return a ``Result``: ``exit_code``, ``stdout``, ``stderr``, ``json()``, ``error_line()``;
``str(result)`` shows all of it for assertion messages (``assert r.exit_code == 0, r``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from click.testing import CliRunner

from tests.conftest import NOW_ISO

ROOT = Path(__file__).resolve().parent.parent
OWN_PACKAGES = ("agent", "reporter")


@dataclass
class Result:
    """What one ``gpureport`` invocation printed and how it exited."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None  # escaped main() (only with -v): stderr has it

    def json(self) -> Any:
        return json.loads(self.stdout)

    def error_line(self) -> str:
        """The single line on stderr of a failed run, checked to come without a traceback."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, self
        assert "Traceback" not in self.stderr, self
        return lines[0]

    def __str__(self) -> str:
        return (f"gpureport {shlex.join(self.args)} -> exit {self.exit_code}\n"
                f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}")


def run(*args: Any, env: Mapping[str, str | None] | None = None, input: str | bytes | None = None,
        cwd: str | Path | None = None) -> Result:
    """``gpureport *args`` in this process (see the module docstring)."""
    from reporter.cli import main

    argv = [str(a) for a in args]
    overrides: dict[str, str | None] = {} if "GPUREPORT_NOW" in os.environ else \
        {"GPUREPORT_NOW": NOW_ISO}
    overrides.update(env or {})
    exit_code, escaped = 0, None
    with _as_a_new_process(argv), _working_directory(cwd), \
            CliRunner().isolation(input=input, env=overrides) as (out, err, _mixed):
        try:
            main(argv)
        except SystemExit as exc:
            exit_code = _exit_code(exc.code)
        except Exception as exc:  # noqa: BLE001 - what the interpreter would print, then exit 1
            escaped, exit_code = exc, 1
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
    return Result(tuple(argv), exit_code, out.getvalue().decode("utf-8", "replace"),
                  err.getvalue().decode("utf-8", "replace"), escaped)


def run_process(*args: Any, env: Mapping[str, str | None] | None = None,
                input: str | None = None, cwd: str | Path | None = None, timeout: float = 120,
                python: tuple[str, ...] = ()) -> Result:
    """``python [python flags] -m reporter.cli *args`` as a separate process."""
    argv = [str(a) for a in args]
    full = dict(os.environ)
    full.setdefault("GPUREPORT_NOW", NOW_ISO)
    for name, value in (env or {}).items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), full.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, *python, "-m", "reporter.cli", *argv], env=full,
                          input=input, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


# -- what a new process would start with ------------------------------------------------------------

def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"): printed, exit status 1
    return 1


def forget_caches() -> None:
    """Empty every functools cache at module level of agent.* and reporter.*."""
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".", 1)[0] not in OWN_PACKAGES:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, functools._lru_cache_wrapper):
                value.cache_clear()


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _as_a_new_process(argv: list[str]) -> Iterator[None]:
    forget_caches()
    environ = dict(os.environ)
    saved_argv = sys.argv
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    root = logging.getLogger()
    root_handlers, root_level = root.handlers[:], root.level
    # a run sets levels on named loggers (reporter.logs quiets httpx & co.): give them back
    levels = {name: lg.level for name, lg in logging.Logger.manager.loggerDict.items()
              if isinstance(lg, logging.Logger)}
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    sys.argv = ["gpureport", *argv]
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()  # the interpreter's defaults (no -W options) ...
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                             ResourceWarning):
                warnings.filterwarnings("ignore", category=category, append=True)
            warnings.showwarning = _print_warning  # ... printed on stderr, not recorded by pytest
            yield
    finally:
        sys.argv = saved_argv
        root.handlers[:] = root_handlers
        root.setLevel(root_level)
        for name, lg in logging.Logger.manager.loggerDict.items():
            if isinstance(lg, logging.Logger):
                lg.setLevel(levels.get(name, logging.NOTSET))
        for sig, handler in handlers.items():
            if signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)
        if dict(os.environ) != environ:
            os.environ.clear()
            os.environ.update(environ)


@contextlib.contextmanager
def _working_directory(cwd: str | Path | None) -> Iterator[None]:
    before = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)
