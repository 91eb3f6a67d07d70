"""Data sources behind one small protocol (``base.Source``), and the factory that picks one.

Source modules are imported only when chosen: the `lens` source pulls in httpx, the `sql`
source SQLAlchemy, and a process needs at most one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.sources.base import NotFound, Source, SourceError

if TYPE_CHECKING:
    from agent.settings import SourceSettings

__all__ = ["NotFound", "Source", "SourceError", "make_source"]


def make_source(settings: "SourceSettings") -> Source:
    """The configured source.

    ``lens`` talks to the Lens API at ``settings.lens_url``. ``sql`` reads the Lens tables; so
    does ``prometheus``, because ``gpureport ingest prometheus`` fills that same SQL store and
    questions are then answered from it.
    """
    if settings.kind == "lens":
        if not settings.lens_url:
            raise SourceError("source.kind is 'lens' but source.lens_url (env LENS_API_URL) "
                              "is not set")
        from agent.sources.lens import LensSource

        return LensSource(settings.lens_url, user_annotation=settings.user_annotation,
                          timeout=settings.timeout, retries=settings.retries)
    from agent.sources.sql import SqlSource

    return SqlSource(settings.database_url, databases=settings.databases,
                     user_annotation=settings.user_annotation)
