"""Conversation sessions: LangGraph checkpointer threads in the state database.

``--session ID`` keeps the graph state under thread ``ID``: the previous turn's understanding
(so "and last week?" asked by a *separate process* resolves against it), a clarification
waiting for its answer, and the conversation itself — each turn's question and headline as
messages with timestamps (``agent.graph.respond``). SQLite and PostgreSQL are both supported,
with LangGraph's own savers and tables, and our checkpoint types on the serializer's allow-list
(``agent.graph.state.serializer``).

The conversation API reads threads back through the saver's own interface only
(``list``/``get_tuple``/``delete_thread``), so it works on any LangGraph saver:

* ``list_threads(saver, limit, offset)`` — newest first: id, name (the first question),
  created/updated times, how many messages, whether a clarification is waiting;
* ``get_thread(saver, id)`` — the same with the messages (``role``, ``content``,
  ``timestamp``), or None;
* ``delete_thread(saver, id)`` — True when there was one;
* ``search_threads(saver, text, limit)`` — threads with a message containing ``text``.

Runs keep only their final checkpoint (LangGraph's ``durability="exit"``, ``agent.ask``): a
turn is one write, not one per step, and a turn cut short leaves the conversation as it was
before it. The first turn of a thread marks its checkpoint (metadata ``conversation:
started``, put there by ``agent.ask``), so listing the marked checkpoints gives one row per
thread without reading every checkpoint; threads written before that (every step saved) are
found by their ``step == -1`` input checkpoint. A listing is read to its end before the threads
are looked up (the SQLite saver holds its lock while a listing is open).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from agent.errors import StateError
from agent.graph.state import serializer
from agent.periods import iso
from agent.text import one_line

NAME_LIMIT = 120
CONVERSATION_KEY, CONVERSATION_STARTED = "conversation", "started"  # the first turn's mark
_FIRSTS = ({CONVERSATION_KEY: CONVERSATION_STARTED}, {"step": -1})  # newer runs, older runs


@contextlib.contextmanager
def checkpointer(state_url: str) -> Iterator[Any]:
    """A LangGraph saver on the state database ``state_url`` (SQLite or PostgreSQL)."""
    url = make_url(state_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        path = url.database or ":memory:"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        try:
            saver = SqliteSaver(conn, serde=serializer())
            saver.setup()  # WAL
            # a run writes a checkpoint per step: in WAL mode NORMAL syncs at checkpoints of
            # the WAL, not per commit (a power cut may lose the last turns, a crash none)
            conn.execute("PRAGMA synchronous=NORMAL")
            yield saver
        finally:
            conn.close()
    elif backend == "postgresql":
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=0, row_factory=dict_row,
                             connect_timeout=10) as conn:
            saver = PostgresSaver(conn, serde=serializer())
            saver.setup()
            yield saver
    else:
        raise StateError(f"sessions need a SQLite or PostgreSQL state database, not {backend}")


@dataclass(frozen=True)
class Message:
    role: str  # user | assistant
    content: str
    timestamp: str | None


@dataclass(frozen=True)
class Thread:
    session_id: str
    name: str
    created_at: str | None
    updated_at: str | None
    waiting: bool  # a clarification waits for its answer
    messages: list[Message] = field(default_factory=list)

    def as_dict(self, with_messages: bool = False) -> dict[str, Any]:
        out = {"session_id": self.session_id, "name": self.name, "created_at": self.created_at,
               "updated_at": self.updated_at,
               "metadata": {"messages": len(self.messages), "waiting": self.waiting}}
        if with_messages:
            out["messages"] = [asdict(m) for m in self.messages]
        return out


def list_threads(saver: Any, limit: int = 20, offset: int = 0) -> list[Thread]:
    """Conversations, newest first (by when they started)."""
    firsts = _firsts(saver, None, limit=offset + limit)[offset:]
    threads = (_thread(saver, f.config["configurable"]["thread_id"], f) for f in firsts)
    return [t for t in threads if t is not None]


def get_thread(saver: Any, session_id: str) -> Thread | None:
    """One conversation with its messages, or None when there is none of that id."""
    first = next(iter(_firsts(saver, _config(session_id), limit=1)), None)
    return _thread(saver, session_id, first)


def delete_thread(saver: Any, session_id: str) -> bool:
    """Remove a conversation; False when there was none."""
    if saver.get_tuple(_config(session_id)) is None:
        return False
    saver.delete_thread(session_id)
    return True


def search_threads(saver: Any, text: str, limit: int = 20) -> list[Thread]:
    """Conversations with a message (or a waiting question) that contains ``text``, any case."""
    needle = text.casefold().strip()
    if not needle:
        return []
    out: list[Thread] = []
    for first in _firsts(saver, None):
        thread = _thread(saver, first.config["configurable"]["thread_id"], first)
        if thread is not None and (needle in thread.name.casefold() or
                                   any(needle in m.content.casefold() for m in thread.messages)):
            out.append(thread)
            if len(out) >= limit:
                break
    return out


def _firsts(saver: Any, config: dict | None, limit: int | None = None) -> list[Any]:
    """The first checkpoint of each thread (of one, given ``config``), newest thread first."""
    found: dict[str, Any] = {}
    for marker in _FIRSTS:
        for item in list(saver.list(config, filter=marker, limit=limit)):
            thread = item.config["configurable"]["thread_id"]
            if thread not in found or item.checkpoint["id"] < found[thread].checkpoint["id"]:
                found[thread] = item
    newest = sorted(found.values(), key=lambda f: f.checkpoint["id"], reverse=True)
    return newest[:limit] if limit is not None else newest


def _config(session_id: str) -> dict:
    return {"configurable": {"thread_id": session_id, "checkpoint_ns": ""}}


def _thread(saver: Any, session_id: str, first: Any) -> Thread | None:
    latest = saver.get_tuple(_config(session_id))
    if latest is None:
        return None
    values = latest.checkpoint.get("channel_values") or {}
    messages = [Message("user" if m.type == "human" else "assistant", str(m.content),
                        m.additional_kwargs.get("timestamp"))
                for m in values.get("messages") or [] if m.type in ("human", "ai")]
    question = next((m.content for m in messages if m.role == "user"), None) or \
        values.get("question") or ""
    waiting = any(w[1] == "__interrupt__" for w in latest.pending_writes or ())
    return Thread(session_id=session_id, name=one_line(question, NAME_LIMIT),
                  created_at=_ts(first.checkpoint["ts"]) if first is not None else None,
                  updated_at=_ts(latest.checkpoint["ts"]), waiting=waiting, messages=messages)


def _ts(value: str) -> str | None:
    try:
        return iso(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return None
