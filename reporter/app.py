"""What every command gets: the configuration, the fixed "now", the display zone, verbosity.

The ``gpureport`` group creates one ``AppContext`` per invocation (``ctx.obj``); commands take
it with ``click.pass_obj``. Configuration and "now" are read on first use, so a command that
fails on its arguments never touches the configuration files.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from datetime import datetime

from agent.cache import CatalogCache
from agent.deps import AgentDeps
from agent.periods import parse_now
from agent.sources.base import Source
from reporter.config import Config, load_config

# The state database's name cache needs SQLAlchemy; every command starts by building an
# AppContext (also ``report --help``), so the module is imported when the cache is first
# asked for — by name, as ``agent.sources`` imports the chosen source.
_CATALOG_CACHE = ("reporter.statedb.catalog_cache", "StateCatalogCache")


@dataclass
class AppContext:
    config_path: str | None = None
    now_arg: str | None = None
    tz: str | None = None
    verbose: int = 0
    _config: Config | None = field(default=None, repr=False)
    _now: datetime | None = field(default=None, repr=False)
    _catalog: CatalogCache | None = field(default=None, repr=False)

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

    def catalog_cache(self) -> CatalogCache:
        """The name cache in the state database (``source.catalog_ttl_s``), shared by every
        gpureport process; also what ``make_source(cfg.source, cache=...)`` takes, so the Lens
        source keeps its cluster list there. Connects on first use, not here."""
        if self._catalog is None:
            cfg = self.config
            module, name = _CATALOG_CACHE
            cache = getattr(importlib.import_module(module), name)
            self._catalog = cache(cfg.state.database_url, cfg.source.catalog_ttl_s)
        return self._catalog

    def agent_deps(self, source: Source, *, use_llm: bool = True) -> AgentDeps:
        """What the agent needs from this invocation: the source the command opened, the fixed
        "now", the LLM settings (None with ``use_llm=False``: rules only, no network), the
        name cache of the state database."""
        return AgentDeps(source=source, now=self.now, llm=self.config.llm if use_llm else None,
                         catalog=self.catalog_cache(), prices=self.config.prices)
