"""What the agent needs from outside, in one value: handed to the graph in
``config["configurable"]["deps"]`` so that no node reaches for a global.

Kept in its own light module (no LangGraph) so the CLI's application context can build it
without paying for the graph at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.cache import CatalogCache
from agent.prices import Prices
from agent.settings import LLMSettings
from agent.sources.base import Source


@dataclass(frozen=True)
class AgentDeps:
    source: Source
    now: datetime
    llm: LLMSettings | None = None  # None or without a key: rules only, no network at all
    default_cluster: str | None = None
    # where the names questions are resolved against are cached (agent.catalog); None: this
    # process's memory
    catalog: CatalogCache | None = None
    # GPU prices (the configuration's ``prices``); None or none configured: no money anywhere
    prices: Prices | None = None
