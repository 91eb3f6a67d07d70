"""The JSON bodies of the chat API (api.md): the seed's field names, validated by Pydantic.

A request that does not fit gets FastAPI's 422 with the field errors; an empty or blank
``query`` is one of those. Unknown fields are ignored, as the seed did, so front-ends that send
more keep working.

Clarification: an answer that asks back names its conversation (``session_id``) and its
``options``. The seed's clients answer with a new ``query`` in that session — the option or
its number — and that resumes the waiting question; ``resume`` says so explicitly (then
``query`` may be left out, and a session that waits for nothing is a 422).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

# thread ids of ``ask --session``: no paths, no spaces — the one rule, shared with the CLI
from agent.text import SESSION_MAX, SESSION_PATTERN

MAX_QUERY = 10_000  # as ``gpureport ask``
MAX_HISTORY = 200
MAX_CHOICE = 1000


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"query": "Why is ml-team's utilization lower this week than last week?",
         "cluster_name": "gpu-east"},
        {"query": "现在集群有多少GPU在使用？", "session_id": "my-session"},
    ]})

    # ``resume`` is declared first so that the checks of ``query`` and ``session_id`` see it
    resume: str | None = Field(None, min_length=1, max_length=MAX_CHOICE,
                               description="The answer to a clarification this session is "
                                           "waiting on: an option or its number.")
    query: str = Field(None, min_length=1, max_length=MAX_QUERY, validate_default=True,
                       description="The question, in English or Chinese (required unless "
                                   "`resume` is given).")
    cluster_name: str | None = Field(None, max_length=253,
                                     description="Cluster to ask about (else ask back).")
    session_id: str | None = Field(None, min_length=1, max_length=SESSION_MAX,
                                   pattern=SESSION_PATTERN, validate_default=True,
                                   description="Conversation id (the same as `ask --session`).")
    conversation_history: list[dict[str, Any]] = Field(default_factory=list,
                                                       max_length=MAX_HISTORY)
    save_history: bool = True

    @field_validator("query", mode="before")
    @classmethod
    def _query_or_resume(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None:
            if info.data.get("resume"):
                return info.data["resume"]
            raise PydanticCustomError("missing", "Field required")
        return v

    @field_validator("session_id")
    @classmethod
    def _resume_needs_session(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None and info.data.get("resume"):
            raise ValueError("resume answers a question of a conversation: give its session_id")
        return v

    @field_validator("query", "resume")
    @classmethod
    def _not_blank(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if not v.strip():
            raise ValueError("the question is empty" if info.field_name == "query"
                             else "the choice is empty")
        return v.strip()

    @field_validator("cluster_name")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None


class ChatResponse(BaseModel):
    """The seed's fields plus every field of ``gpureport ask --json``."""

    model_config = ConfigDict(extra="allow")

    answer: str
    insights: list[str]
    data_collected: list[dict[str, Any]]
    conversation_history: list[dict[str, Any]]
    debug_info: dict[str, Any]
    timestamp: str
    language: str
    intent: str
    entities: dict[str, Any]
    figures: dict[str, Any]
    needs_clarification: bool
    options: list[str]
    question: str | None
    llm_calls: int
    session_id: str | None
    warnings: list[str]


class ErrorBody(BaseModel):
    detail: str
    error_type: str | None = None


__all__ = ["ChatRequest", "ChatResponse", "ErrorBody", "MAX_QUERY", "SESSION_MAX", "SESSION_PATTERN"]
