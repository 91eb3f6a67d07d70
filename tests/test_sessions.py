"""Sessions in the state database, on SQLite and PostgreSQL: a question asked back by one
process is answered by the next ``gpureport ask --session``, and the conversation can be listed,
read, searched and deleted from the checkpointer alone (``agent.sessions``).
"""

from __future__ import annotations

import pytest

from agent.deps import AgentDeps
from agent.graph.build import compiled
from agent.graph.state import new_turn
from agent.sessions import checkpointer, delete_thread, get_thread, list_threads, search_threads
from agent.settings import SourceSettings, default_state_url
from agent.sources import make_source
from tests.cli import run, run_process
from tests.conftest import NOW


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request, home, demo_db, monkeypatch) -> str:
    """Ask about the demo store, with the session state in SQLite (the default file under
    GPUREPORT_HOME) or in a fresh PostgreSQL database."""
    monkeypatch.setenv("GPUREPORT_DATABASE_URL", demo_db)
    if request.param == "sqlite":
        return default_state_url()
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("GPUREPORT_STATE_DATABASE_URL", url)
    return url


def ask_json(*args, code=0):
    r = run("ask", *args, "--json")
    assert r.exit_code == code, r
    return r.json()


def test_a_clarification_is_answered_by_another_process(state_url):
    asked = ask_json("trend for namespace ml-teem", "--session", "k1", code=3)
    assert asked["needs_clarification"] and asked["options"] == ["ml-team"]
    assert asked["session_id"] == "k1"
    r = run_process("ask", "1", "--session", "k1", "--json")  # the option's number
    assert r.exit_code == 0, r
    done = r.json()
    assert (done["intent"], done["entities"]["namespace"]) == ("trend", "ml-team")
    assert done["session_id"] == "k1" and not done["needs_clarification"]
    # and the session goes on from the resolved turn
    follow = ask_json("and last week?", "--session", "k1")
    assert follow["entities"]["namespace"] == "ml-team"
    assert follow["entities"]["period"] == {"start": "2026-11-09T00:00:00Z",
                                            "end": "2026-11-16T00:00:00Z"}


def test_a_question_that_is_no_option_starts_a_new_turn(state_url):
    ask_json("I want to check GPU usage", "--session", "k2", code=3)
    other = ask_json("How many GPUs are currently in use?", "--session", "k2",
                     "--cluster", "gpu-east")
    assert other["intent"] == "realtime" and not other["needs_clarification"]
    # the pending question was dropped: its option names are now just a new question
    again = ask_json("gpu-west", "--session", "k2")
    assert not again["needs_clarification"] and again["entities"]["cluster"] == "gpu-west"


def test_conversations_are_listed_read_searched_and_deleted(state_url):
    ask_json("What is ml-team's utilization this week?", "--session", "first")
    ask_json("what about cv-team?", "--session", "first")
    ask_json("trend for namespace ml-teem", "--session", "second", code=3)
    with checkpointer(state_url) as saver:
        threads = list_threads(saver, limit=10)
        assert [t.session_id for t in threads] == ["second", "first"]  # newest first
        second, first = threads
        assert first.name == "What is ml-team's utilization this week?" and not first.waiting
        assert second.name == "trend for namespace ml-teem" and second.waiting
        assert second.messages == []  # nothing answered yet
        assert first.created_at <= first.updated_at
        assert [t.session_id for t in list_threads(saver, limit=1, offset=1)] == ["first"]

        conv = get_thread(saver, "first")
        assert [(m.role, m.content[:22]) for m in conv.messages] == [
            ("user", "What is ml-team's util"), ("assistant", "ml-team (gpu-east) ave"),
            ("user", "what about cv-team?"), ("assistant", "cv-team (gpu-east) ave")]
        assert all(m.timestamp and m.timestamp.endswith("Z") for m in conv.messages)
        assert conv.as_dict(with_messages=True)["messages"][0]["role"] == "user"
        assert get_thread(saver, "nobody") is None

        assert [t.session_id for t in search_threads(saver, "CV-TEAM")] == ["first"]
        assert [t.session_id for t in search_threads(saver, "ml-teem")] == ["second"]
        assert search_threads(saver, "   ") == []

        assert delete_thread(saver, "first") is True
        assert get_thread(saver, "first") is None and delete_thread(saver, "first") is False
        assert [t.session_id for t in list_threads(saver)] == ["second"]


def test_a_turn_is_saved_as_one_checkpoint(state_url):
    """A run keeps only its final state (``durability="exit"``): one write per turn, so a
    session costs the state database one row per question, not one per graph step."""
    ask_json("What is ml-team's utilization this week?", "--session", "once")
    ask_json("what about cv-team?", "--session", "once")
    with checkpointer(state_url) as saver:
        saved = list(saver.list({"configurable": {"thread_id": "once"}}))
        assert [c.metadata.get("conversation") for c in saved] == [None, "started"]
        assert len(get_thread(saver, "once").messages) == 4
    # a first turn that asked back, then answered: still one mark, so a listing of two
    # conversations is two conversations
    ask_json("trend for namespace ml-teem", "--session", "asked", code=3)
    ask_json("1", "--session", "asked")
    with checkpointer(state_url) as saver:
        marks = [c.metadata.get("conversation")
                 for c in saver.list({"configurable": {"thread_id": "asked"}})]
        assert marks.count("started") == 1 and len(marks) == 2
        assert [t.session_id for t in list_threads(saver, limit=2)] == ["asked", "once"]


def test_threads_saved_step_by_step_by_earlier_versions_are_still_listed(state_url, demo_db):
    """Before one-write turns, every step was saved and a thread was found by its ``step -1``
    input checkpoint; such a thread is still listed, read and searched."""
    ask_json("What is ml-team's utilization this week?", "--session", "newer")
    source = make_source(SourceSettings(database_url=demo_db))
    deps = AgentDeps(source, NOW)
    with checkpointer(state_url) as saver:
        config = {"configurable": {"thread_id": "older", "deps": deps}}
        compiled(saver).invoke(new_turn("What is cv-team's utilization this week?",
                                        cluster="gpu-east"), config, durability="async")
        assert len(list(saver.list({"configurable": {"thread_id": "older"}}))) > 2
        assert [t.session_id for t in list_threads(saver)] == ["older", "newer"]
        older = get_thread(saver, "older")
        assert older.name == "What is cv-team's utilization this week?"
        assert [m.role for m in older.messages] == ["user", "assistant"]
        assert [t.session_id for t in search_threads(saver, "cv-team")] == ["older"]
    source.close()
