"""The ``gpureport`` command line: a Click group whose commands are thin shells.

Commands live in their own modules and are imported only when invoked, so ``gpureport --help``
stays instant (no SQLAlchemy, LangGraph or WeasyPrint at start-up); this module imports only
Click, ``agent.errors`` and ``reporter.logs`` (which ``main`` configures first: levels, quiet
third-party loggers, secrets redacted from every record). Every ``GpureportError`` (``agent/errors.py``) is printed as one line
``error: <message>`` on stderr with the error's exit code (1, or 2 for usage); a question that
needs clarification exits 3; anything else is reported with its type name, and ``-v`` adds the
traceback. A command run with ``--json`` that fails also prints one JSON object on stdout,
``{"error": {"type", "message", "exit_code", ...}}`` (``error_json``), so a script that parses
stdout always gets JSON; stderr and the exit code are the same as without ``--json``.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import sys
import traceback
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from agent.errors import GpureportError, PeriodError
from reporter import logs

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CLARIFY = 0, 1, 2, 3


class _Failed(click.ClickException):
    """A ``GpureportError`` leaving a command: ``error: <message>`` and the error's exit code."""

    def __init__(self, error: GpureportError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file=None) -> None:  # one line, no "Error: " decoration
        click.echo(f"error: {self.format_message()}", err=True)


def error_json(exc: BaseException) -> dict:
    """A failure as ``--json`` prints it: type, one-line message and exit code, plus what the
    error carries for a script to act on (the kind and name not found, the real names to try)."""
    if isinstance(exc, GpureportError):
        message, code = str(exc), exc.exit_code
    elif isinstance(exc, click.ClickException):
        message, code = exc.format_message(), exc.exit_code
    else:  # a bug or a library failing: what main() prints on stderr
        message, code = f"{type(exc).__name__}: {exc}", EXIT_ERROR
    error: dict = {"type": type(exc).__name__, "message": message, "exit_code": code}
    for field in ("kind", "name", "suggestions"):
        if getattr(exc, field, None) is not None:
            error[field] = getattr(exc, field)
    return {"error": error}


_JSON_ASKED = "gpureport.json"  # ctx.meta: "--json" was on the command line
_DECIDED = "_gpureport_json_decided"  # set on an exception once --json's output is settled


def _settle(ctx: click.Context, exc: BaseException, as_json: bool) -> None:
    """Print ``exc`` as JSON on stdout once, by the innermost command that knows whether
    ``--json`` was given (its own parameter, else the raw arguments the root group saw)."""
    if getattr(exc, _DECIDED, False):
        return
    if as_json:
        original = exc.__cause__ if isinstance(exc, _Failed) else exc
        click.echo(json.dumps(error_json(original), ensure_ascii=False, default=str))
    try:
        setattr(exc, _DECIDED, True)
    except AttributeError:  # an exception type without a __dict__: printed at most once anyway
        pass


class Command(click.Command):
    """A gpureport command. A ``GpureportError`` it raises leaves through Click's own exception
    protocol as one line ``error: <message>``, so the command behaves the same whether it runs
    under ``main()`` or is invoked on its own (``CliRunner`` in tests). With ``--json``, any
    failure is also one JSON object on stdout (``error_json``)."""

    def invoke(self, ctx: click.Context):
        as_json = (bool(ctx.params["as_json"]) if "as_json" in ctx.params
                   else bool(ctx.meta.get(_JSON_ASKED)))
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:  # a chosen exit code (3: asked back), output already out
            raise
        except GpureportError as exc:
            failed = _Failed(exc)
            failed.__cause__ = exc
            _settle(ctx, failed, as_json)
            raise failed from exc
        except Exception as exc:  # usage errors of a subcommand's options, bugs: as they were
            _settle(ctx, exc, as_json)
            raise


class Group(Command, click.Group):
    """A group of gpureport commands; its subcommands and subgroups are gpureport ones too. The
    root one notes whether ``--json`` is anywhere on the command line, so that a failure before
    the command's own options are read (a bad ``--now``, a bad option value) is JSON too."""

    command_class = Command
    group_class = type  # subgroups: this same class

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            ctx.meta[_JSON_ASKED] = "--json" in (args[:args.index("--")] if "--" in args else args)
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as exc:  # the group's own options (a --tz without a value)
            _settle(ctx, exc, bool(ctx.meta.get(_JSON_ASKED)))
            raise


# name -> ("module:attribute", one-line help shown by --help without importing the module)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("reporter.commands_basic:demo", "Fill the embedded store with synthetic clusters."),
    "ask": ("reporter.commands_ask:ask", "Ask a question about GPU usage (English or Chinese)."),
    "report": ("reporter.commands_report:report", "Render a report as HTML and/or PDF."),
    "run": ("reporter.commands_schedule:run", "Run one schedule once (what the CronJob calls)."),
    "scheduler": ("reporter.commands_schedule:scheduler", "Long-running scheduler / next fire times."),
    "alerts": ("reporter.commands_alerts:alerts", "Evaluate alert rules, notify, show state."),
    "ingest": ("reporter.commands_ingest:ingest", "Fill hourly tables from Prometheus."),
    "nudges": ("reporter.commands_nudges:nudges", "Idle nudges: who was told, at which level."),
    "history": ("reporter.commands_schedule:history", "Past runs and deliveries."),
    "doctor": ("reporter.commands_basic:doctor", "Show the effective config and reach every service."),
    "serve": ("reporter.commands_serve:serve", "Serve the chat API, web page and metrics over HTTP."),
}


class LazyGroup(Group):
    """The root group: ``LAZY_COMMANDS`` names each command's module, imported when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name][0].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name][1]) for name in sorted(LAZY_COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="FILE",
              help="YAML config (default ./gpureport.yaml, then ~/.config/gpureport/config.yaml).")
@click.option("--now", "now_arg", metavar="ISO",
              help="Fix 'now' for relative periods (also GPUREPORT_NOW).")
@click.option("--tz", metavar="ZONE", help="Time zone for displayed times (default UTC).")
@click.option("-v", "--verbose", count=True, help="More output; tracebacks on errors.")
@click.version_option(package_name="gpureport", prog_name="gpureport")
@click.pass_context
def cli(ctx: click.Context, config_path, now_arg, tz, verbose) -> None:
    """Understand how your Kubernetes GPU clusters are used.

    \b
    Quick start:
      gpureport demo --reset          # synthetic clusters into the embedded SQLite store
      gpureport ask "Why is ml-team's utilization lower this week than last week?"
      gpureport report weekly --format both
    """
    from reporter.app import AppContext

    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise click.BadParameter(f"unknown time zone '{tz}'", param_hint="--tz") from None
    app = AppContext(config_path=config_path, now_arg=now_arg, tz=tz, verbose=verbose)
    if now_arg:
        try:
            app.now  # noqa: B018 - validate eagerly: a bad --now is a usage error
        except PeriodError as exc:
            raise click.BadParameter(str(exc).removeprefix("--now: "), param_hint="--now") from None
    ctx.obj = app


def _verbosity(args: list[str]) -> int:
    """How many ``-v`` the group got (``-v``, ``-vv``, ``--verbose``, before the command)."""
    count = 0
    for arg in args:
        if arg in LAZY_COMMANDS:
            break
        if arg == "--verbose":
            count += 1
        elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) == {"v"}:
            count += len(arg) - 1
    return count


def main(argv: list[str] | None = None) -> None:
    """The ``gpureport`` entry point: every way out of a command becomes an exit code here."""
    # At exit, leave the heap to the operating system. The interpreter's last collection would
    # walk and tear down the ~130,000 objects that LangChain, Pydantic and SQLAlchemy leave
    # (0.1-0.2 s of CPU after every command, longer than a rule-path question takes to answer);
    # frozen, they are skipped. atexit handlers still run (log flushing, thread pools), streams
    # are flushed, and an SQLite file left open is in the state a crash leaves (WAL: nothing
    # committed is lost). Registered once however often main() runs (tests call it in-process).
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = _verbosity(args)
    logs.configure(verbose)  # levels, quiet HTTP loggers, redaction of every record
    try:
        rv = cli.main(args=argv, prog_name="gpureport", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except GpureportError as exc:  # raised outside a command body
        if verbose:
            traceback.print_exception(exc)
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if verbose and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug or a library failing unexpectedly
        if verbose:
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (run with -v for the traceback)", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


if __name__ == "__main__":
    # ``python -m reporter.cli``: run the importable module, not this ``__main__`` copy, so that
    # the commands (which import ``reporter.cli``) and the group share one set of classes
    from reporter.cli import main as _main

    _main()
