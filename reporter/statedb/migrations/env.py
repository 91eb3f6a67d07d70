"""Alembic environment for the state database, driven programmatically by ``open_state``.

There is no alembic.ini at runtime: ``reporter.statedb`` builds the Alembic ``Config`` itself and
hands over an open connection in ``config.attributes["connection"]`` (already inside the
transaction that holds the PostgreSQL advisory lock). Running ``alembic`` by hand also works with
``-x url=...`` for developers writing the next migration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from reporter.statedb.models import metadata

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # developer use: alembic -x url=sqlite:///state.db upgrade head
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = create_engine(url)
        with engine.begin() as conn:
            _run(conn)
        engine.dispose()
