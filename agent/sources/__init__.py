"""Data sources behind one protocol (``base.Source``), and the factory that picks one.

A source module is imported only when it is chosen, by name (as the CLI imports a command's
module only when that command runs): the ``lens`` source pulls in httpx, the ``sql`` source
SQLAlchemy, and a process needs one of them. Importing the other would cost a Lens question
about 0.2 s of start-up for SQLAlchemy it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agent.errors import NotFound, SourceError
from agent.sources.base import Source

if TYPE_CHECKING:  # pragma: no cover
    from agent.cache import CatalogCache
    from agent.settings import SourceSettings

__all__ = ["NotFound", "Source", "SourceError", "make_source"]


def _source_class(module: str, name: str) -> type:
    return getattr(importlib.import_module(module), name)


def make_source(settings: "SourceSettings", cache: "CatalogCache | None" = None) -> Source:
    """The configured source.

    ``lens`` talks to the Lens API at ``settings.lens_url``; ``cache`` (the CLI's state-database
    name cache, ``AppContext.catalog_cache()``) keeps its cluster list between processes.
    ``sql`` reads the Lens tables; so does ``prometheus``, because ``gpureport ingest
    prometheus`` fills that same SQL store and questions are then answered from it.
    """
    if settings.kind == "lens":
        if not settings.lens_url:
            raise SourceError("source.kind is 'lens' but source.lens_url (env LENS_API_URL) "
                              "is not set")
        lens = _source_class("agent.sources.lens", "LensSource")
        return lens(settings.lens_url, user_annotation=settings.user_annotation,
                    timeout=settings.timeout, retries=settings.retries, cache=cache)
    sql = _source_class("agent.sources.sql", "SqlSource")
    return sql(settings.database_url, databases=settings.databases,
               user_annotation=settings.user_annotation)
