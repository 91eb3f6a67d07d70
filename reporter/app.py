"""What every command gets: the configuration, the fixed "now", the display zone, verbosity.

The ``gpureport`` group creates one ``AppContext`` per invocation (``ctx.obj``); commands take
it with ``click.pass_obj``. Configuration and "now" are read on first use, so a command that
fails on its arguments never touches the configuration files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

from agent.periods import parse_now
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
