"""Every error gpureport raises on purpose, in one place.

Our exception hierarchy::

    GpureportError(Exception)        exit_code = 1; str() is one line
     ├── UsageError                  exit_code = 2 (bad option value, empty question, bad --period)
     │    └── PeriodError            (an unusable period)
     ├── ConfigError                 (config / schedule / rules file: file, key, reason)
     │    ├── ScheduleError
     │    └── RulesError
     ├── SourceError                 (a data source could not answer)
     │    ├── NotFound               (kind, name, suggestions)
     │    ├── PrometheusError
     │    │    └── TooManySamples
     │    └── IngestError
     ├── StateError
     ├── LLMError
     ├── ReportError
     ├── DeliveryError               (attempts, permanent)
     │    └── DeliveryUncertain      (the connection failed after SMTP DATA: maybe delivered)
     ├── RunError                    (result)
     ├── DemoError
     ├── AlertsBusy
     └── Interrupted                 (SIGTERM during a run: recorded, then exit 1)

Why one tree: a caller that only wants "tell the user in one line" catches ``GpureportError``
and reads ``exit_code`` from the class, so the command line needs one ``except`` and no list of
"user error" classes. Anything that is not a ``GpureportError`` is a bug or an unexpected
failure of a library, and is reported with its type name (and a traceback with ``-v``).

Messages are written for the person at the terminal: one line that says what could not be done
and why (naming the file, key, URL or name involved). Secrets never appear in them: URLs go
through ``agent.text.mask_url`` first.

This module imports nothing, so every layer (the agent, the sources, the reporter, the CLI)
can raise these errors without pulling anything else in.
"""

from __future__ import annotations

from typing import Any


class GpureportError(Exception):
    """An error gpureport raises on purpose; ``str()`` is one line fit for the terminal."""

    exit_code = 1


class UsageError(GpureportError):
    """The command was given something it cannot use (an option value, an empty question)."""

    exit_code = 2


class PeriodError(UsageError):
    """A period that cannot be used (malformed, impossible, or empty)."""


class ConfigError(GpureportError):
    """Configuration that cannot be used. The message names the file or key and the reason."""


class ScheduleError(ConfigError):
    """A schedule that cannot be used. The message names the file, the field and the reason."""


class RulesError(ConfigError):
    """An alert rule file that cannot be used: ``<file>: <field>: <reason>``."""


class SourceError(GpureportError):
    """A data source could not answer (unreachable, refused, malformed)."""


class NotFound(SourceError):
    """A named entity does not exist; ``suggestions`` holds the closest real names."""

    def __init__(self, kind: str, name: str, suggestions: list[str] | None = None):
        self.kind, self.name, self.suggestions = kind, name, list(suggestions or [])
        hint = f"; did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown {kind} '{name}'{hint}")


class UnknownName(GpureportError):
    """A name in a question that matches no real name, nor closely (answers.md §1): one line
    naming the word and a few real names of that kind; never an answer over all clusters.
    ``kind`` (cluster, namespace, user, label or "any"), ``name`` and ``suggestions`` (the real
    names the line shows) are kept apart for ``--json`` and scripts."""

    def __init__(self, message: str, *, kind: str | None = None, name: str | None = None,
                 suggestions: list[str] | None = None):
        super().__init__(message)
        self.kind, self.name, self.suggestions = kind, name, list(suggestions or [])


class PrometheusError(SourceError):
    """Prometheus could not be reached or refused a query."""


class TooManySamples(PrometheusError):
    """The query would load more samples than ``--query.max-samples`` allows (retry smaller)."""


class IngestError(SourceError):
    """The ingest cannot run as asked (bad range, bad config)."""


class StateError(GpureportError):
    """The state database cannot be used (unreachable, refused, not migratable)."""


class LLMError(GpureportError):
    """The language model could not be used for this question (shown as a warning)."""


class ReportError(GpureportError):
    """A report that cannot be built or rendered (bad kind, a preset the agent could not
    answer, PDF output without WeasyPrint)."""


class DeliveryError(GpureportError):
    """Sending failed for good; ``attempts`` says how often we tried, ``permanent`` whether
    the server refused (5xx) rather than being unreachable."""

    def __init__(self, message: str, *, attempts: int, permanent: bool) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.permanent = permanent


class DeliveryUncertain(DeliveryError):
    """The connection failed or timed out after the SMTP DATA command: the server may have
    accepted the message. Never retried automatically (that is how duplicates happen);
    ``message_id`` lets the operator look for it."""

    def __init__(self, message: str, *, attempts: int, message_id: str | None = None) -> None:
        super().__init__(message, attempts=attempts, permanent=True)
        self.message_id = message_id


class RunError(GpureportError):
    """A scheduled run that failed; ``result`` holds the outcome that was recorded."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class DemoError(GpureportError):
    """The demo store cannot be (re)generated."""


class AlertsBusy(GpureportError):
    """Another ``alerts check`` holds the check lock."""


class Interrupted(GpureportError):
    """SIGTERM arrived during a run; raised where the run was, so that it gets recorded."""


__all__ = [
    "GpureportError", "UsageError", "PeriodError", "ConfigError", "ScheduleError", "RulesError",
    "SourceError", "NotFound", "PrometheusError", "TooManySamples", "IngestError", "StateError",
    "LLMError", "ReportError", "DeliveryError", "DeliveryUncertain", "RunError", "DemoError",
    "AlertsBusy",
    "Interrupted",
]
