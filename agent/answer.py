"""The answer to one question, in parts that the CLI, the HTTP API and report templates render.

Every part is built from the same computed ``figures`` (answers.md §6), so nobody downstream
ever parses the prose: a terminal prints ``headline``, ``notes``, the ``tables`` and the
``warnings``; a report template puts ``headline`` in its narrative and a table in its section;
``to_json()`` is the stable ``ask --json`` shape of product.md §6.

* ``headline`` — the answer in one or two sentences; its first sentence names the scope.
* ``insights`` — one line per detail (a contributor, a ranked item). When a table shows the same
  rows, a terminal prints the table instead; JSON keeps both for scripts written against the seed.
* ``notes`` — context that no table shows (e.g. "Inside ml-team: …", "Figures cover all
  clusters"): always printed.
* ``tables`` — rows for people: named, with column keys and labels; values stay numbers.
* ``warnings`` — what the reader must know to trust the figures (partial coverage, LLM fallback).
* ``llm_rejected`` — why the grounding guard rejected the model's phrasing (number | date |
  direction | entity), None when it was kept or none was asked for; counted by the service.

A question that needs an answer back (``needs_clarification``) carries the ``question``, its
``options`` and the ``clarify_entity`` it is about; ``thread_id`` names the graph thread waiting
for the choice, which ``agent.ask.ask(..., session=thread_id, resume=choice)`` continues.

``stream()`` yields ``Status``, ``Data`` and finally ``Final`` events while the graph runs (the
HTTP API turns them into server-sent events).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class Column:
    key: str
    label: str
    # how a value is shown: text | pct (one decimal and %) | pp (signed, " pp") | gpu_hours |
    # int | change (a "before → after" pair given as a two-item list) | signed (a signed number)
    kind: str = "text"


@dataclass
class Table:
    name: str  # stable id: "contributors", "ranking", "by_namespace", "options", ...
    columns: list[Column]
    rows: list[dict[str, Any]]
    title: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    headline: str
    intent: str = "help"
    language: str = "en"
    insights: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    entities: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    needs_clarification: bool = False
    options: list[str] = field(default_factory=list)
    question: str | None = None  # the clarification question, when one is needed
    data_collected: list[dict] = field(default_factory=list)
    llm_calls: int = 0
    session_id: str | None = None
    clarify_entity: str | None = None  # what the clarification is about: cluster, namespace, ...
    thread_id: str | None = None  # the graph thread (the session, or a one-shot thread)
    llm_rejected: str | None = None  # why the LLM phrasing was rejected (phrasing.guard)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """The stable ``ask --json`` object (product.md §6), plus ``warnings``, ``notes`` and
        ``tables``. ``insights`` holds the detail lines and then the notes, as before."""
        return {
            "answer": self.headline,
            "insights": [*self.insights, *self.notes],
            "language": self.language,
            "intent": self.intent,
            "entities": self.entities,
            "figures": self.figures,
            "needs_clarification": self.needs_clarification,
            "options": self.options,
            "question": self.question if self.needs_clarification else None,
            "data_collected": self.data_collected,
            "llm_calls": self.llm_calls,
            "session_id": self.session_id,
            "warnings": self.warnings,
            "llm_rejected": self.llm_rejected,
            "notes": self.notes,
            "tables": [t.as_dict() for t in self.tables],
        }


# -- what stream() yields while the graph runs ------------------------------------------------------
@dataclass(frozen=True)
class Status:
    """A node of the graph started or finished (``stage`` is the node's name)."""

    stage: str
    phase: Literal["start", "end"]
    message: str
    type: Literal["status"] = "status"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "stage": self.stage, "phase": self.phase, "message": self.message}


@dataclass(frozen=True)
class Data:
    """One tool call finished: which tool, its arguments, how many rows, a one-line summary."""

    tool: str
    args: dict[str, Any]
    rows: int
    summary: str
    stage: str = "execute"
    type: Literal["data"] = "data"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "stage": self.stage, "message": self.summary,
                "data": {self.tool: self.summary}, "tool": self.tool, "args": self.args,
                "rows": self.rows}


@dataclass(frozen=True)
class Final:
    """The answer (or the clarification question) once the graph has stopped."""

    answer: Answer
    type: Literal["final"] = "final"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **self.answer.to_json()}


Event = Status | Data | Final
