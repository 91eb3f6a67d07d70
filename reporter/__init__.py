"""gpureport's reporter: the command line, reports, schedules, alerts and ingest.

The error hierarchy lives in ``agent.errors`` (the agent raises it too) and is re-exported here,
so ``from reporter import GpureportError`` works for anyone driving gpureport from Python.
"""

from agent.errors import (AlertsBusy, ConfigError, DeliveryError, DemoError, GpureportError,
                          IngestError, Interrupted, LLMError, NotFound, PeriodError,
                          PrometheusError, ReportError, RulesError, RunError, ScheduleError,
                          SourceError, StateError, TooManySamples, UsageError)

__all__ = [
    "GpureportError", "UsageError", "PeriodError", "ConfigError", "ScheduleError", "RulesError",
    "SourceError", "NotFound", "PrometheusError", "TooManySamples", "IngestError", "StateError",
    "LLMError", "ReportError", "DeliveryError", "RunError", "DemoError", "AlertsBusy",
    "Interrupted",
]
