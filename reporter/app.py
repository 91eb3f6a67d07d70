"""What every command gets: the configuration, the fixed "now", the display zone, verbosity.

The ``gpureport`` group creates one ``AppContext`` per invocation (``ctx.obj``); commands take
it with ``click.pass_obj``. Configuration and "now" are read on first use, so a command that
fails on its arguments never touches the configuration files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

from agent.deps import AgentDeps
from agent.periods import parse_now
from agent.sources.base import Source
from reporter.config import Config, load_config


@dataclass
class AppContext:
    config_path: str | None = None
    now_arg: str | None = None
    tz: str | None = None
    verbose: int = 0
    _config: Config | None = field(default=None, repr=False)
    _now: datetime | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def now(self) -> datetime:
        """``--now``, else ``GPUREPORT_NOW``, else the clock; fixed for the whole command."""
        if self._now is None:
            self._now = parse_now(self.now_arg or os.environ.get("GPUREPORT_NOW"))
        return self._now

    def agent_deps(self, source: Source, *, use_llm: bool = True) -> AgentDeps:
        """What the agent needs from this invocation: the source the command opened, the fixed
        "now", the LLM settings (None with ``use_llm=False``: rules only, no network)."""
        return AgentDeps(source=source, now=self.now, llm=self.config.llm if use_llm else None)
