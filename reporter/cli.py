"""The ``gpureport`` command line: a Click group whose commands are thin shells.

Commands live in their own modules and are imported only when invoked, so ``gpureport --help``
stays instant (no SQLAlchemy, LangGraph or WeasyPrint at start-up). Errors a user can act on
are printed as one line on stderr with exit code 1 (2 for usage, 3 when a question needs
clarification); ``-v`` adds the traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CLARIFY = 0, 1, 2, 3


class UserError(click.ClickException):
    """A failure the user can act on: printed as one line, exit 1."""

    exit_code = EXIT_ERROR

    def show(self, file=None) -> None:  # one line, no "Error: " decoration games
        click.echo(f"error: {self.format_message()}", err=True)


@dataclass
class AppContext:
    """What every command gets: configuration, the fixed "now", display zone, verbosity."""

    config_path: str | None = None
    now_arg: str | None = None
    tz: str | None = None
    verbose: int = 0
    _config: Any = field(default=None, repr=False)
    _now: datetime | None = field(default=None, repr=False)

    @property
    def config(self):
        if self._config is None:
            from reporter.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def now(self) -> datetime:
        if self._now is None:
            from agent.periods import parse_now

            self._now = parse_now(self.now_arg or os.environ.get("GPUREPORT_NOW"))
        return self._now

    def source(self):
        from agent.sources import make_source

        return make_source(self.config.source)

    def agent_deps(self, source=None, *, use_llm: bool = True):
        """What the agent needs from this invocation: the source, the fixed "now", the LLM
        settings (None with ``use_llm=False``)."""
        from agent.ask import AgentDeps

        return AgentDeps(source=source if source is not None else self.source(), now=self.now,
                         llm=self.config.llm if use_llm else None)

    def state(self):
        from reporter.statedb import open_state

        return open_state(self.config.state.database_url)


# name -> ("module:attribute", one-line help shown by --help without importing the module)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("reporter.commands_basic:demo", "Fill the embedded store with a synthetic cluster."),
    "ask": ("reporter.commands_ask:ask", "Ask a question about GPU usage (English or Chinese)."),
    "report": ("reporter.commands_report:report", "Render a report as HTML and/or PDF."),
    "run": ("reporter.commands_schedule:run", "Run one schedule once (what the CronJob calls)."),
    "scheduler": ("reporter.commands_schedule:scheduler", "Long-running scheduler / next fire times."),
    "alerts": ("reporter.commands_alerts:alerts", "Evaluate alert rules, notify, show state."),
    "ingest": ("reporter.commands_ingest:ingest", "Fill hourly tables from Prometheus."),
    "history": ("reporter.commands_schedule:history", "Past runs and deliveries."),
    "doctor": ("reporter.commands_basic:doctor", "Show the effective config and reach every service."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name][0].split(":")
            try:
                mod = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name == module:
                    return None  # not built yet
                raise
            return getattr(mod, attr)
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
    if tz:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise click.BadParameter(f"unknown time zone '{tz}'", param_hint="--tz") from None
    app = AppContext(config_path=config_path, now_arg=now_arg, tz=tz, verbose=verbose)
    if now_arg:
        from agent.periods import PeriodError

        try:
            app.now  # noqa: B018 - validate eagerly: a bad --now is a usage error
        except PeriodError as exc:
            raise click.BadParameter(str(exc).removeprefix("--now: "), param_hint="--now") from None
    ctx.obj = app


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "tell the user in one line", imported only if loaded."""
    found: list[type[BaseException]] = []
    for module, names in (
        ("reporter.config", ("ConfigError",)),
        ("agent.sources.base", ("SourceError",)),
        ("agent.periods", ("PeriodError",)),
        ("reporter.statedb", ("StateError",)),
        ("reporter.demo", ("DemoError",)),
        ("reporter.schedules", ("ScheduleError",)),
        ("reporter.delivery", ("DeliveryError",)),
    ):
        mod = sys.modules.get(module)
        for name in names:
            if mod is not None and hasattr(mod, name):
                found.append(getattr(mod, name))
    return tuple(found)


def main(argv: list[str] | None = None) -> None:
    verbose = any(a in ("-v", "-vv", "--verbose") for a in (argv or sys.argv[1:]))
    try:
        rv = cli.main(args=argv, prog_name="gpureport", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into exit codes
        if isinstance(exc, _user_errors()) and not verbose:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        if verbose:
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (run with -v for the traceback)", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


if __name__ == "__main__":
    # ``python -m reporter.cli``: run the importable module, not this ``__main__`` copy, so that
    # commands (which import ``reporter.cli``) share one AppContext class
    from reporter.cli import main as _main

    _main()
