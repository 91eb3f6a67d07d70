"""Conversations and clarification over HTTP: the same checkpointer threads as
``gpureport ask --session``.

A conversation started in the terminal is listed, opened and continued over HTTP, and goes on
in the terminal again; deleting it over HTTP removes the thread the CLI uses. A question that
asks back is resumed the way the seed's clients answer (a new ``query`` in the session: the
option or its number) or with an explicit ``resume``; over the stream the resumed run starts
at ``clarify``. The service runs in this process on a real socket (tests/serve_server.py).
"""

from __future__ import annotations

import httpx
import pytest
import requests

from tests.cli import run
from tests.serve_server import live_server, serve_config, sse_events

API = "/api/gpu-analysis"
CHAT = API + "/chat"
STREAM = API + "/chat/stream"
CONVERSATIONS = API + "/storage/conversations"


@pytest.fixture(scope="module")
def service(demo_db, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-sessions")
    cfg = serve_config(tmp, demo_db)
    with live_server(cfg) as url:
        yield url, cfg


def post(url: str, **body) -> dict:
    r = requests.post(url + CHAT, json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def cli_ask(cfg, demo_db, *args: str, code: int = 0) -> dict:
    r = run("ask", *args, "--json", env={"GPUREPORT_DATABASE_URL": demo_db,
                                         "GPUREPORT_STATE_DATABASE_URL": cfg.state.database_url})
    assert r.exit_code == code, r
    return r.json()


# -- clarification ---------------------------------------------------------------------------------
def test_a_clarification_is_resumed_by_its_number_as_the_seed_clients_answer(service):
    url, _ = service
    asked = post(url, query="Why is ml-team's utilization lower this week than last week?",
                 cluster_name="gpu-est", session_id="clarify-by-number")
    assert asked["needs_clarification"] and asked["options"] == ["gpu-east", "gpu-west"]
    assert asked["session_id"] == "clarify-by-number" and "gpu-est" in asked["question"]
    listed = requests.get(url + CONVERSATIONS + "/clarify-by-number", timeout=30).json()
    assert listed["metadata"]["waiting"] is True

    done = post(url, query="1", session_id="clarify-by-number")  # the option's number
    assert not done["needs_clarification"] and done["debug_info"]["resumed"] is True
    assert (done["intent"], done["entities"]["cluster"]) == ("drilldown", "gpu-east")
    assert done["entities"]["namespace"] == "ml-team"
    assert any("llm-eval-server" in i for i in done["insights"])  # the demo's scripted drop
    after = requests.get(url + CONVERSATIONS + "/clarify-by-number", timeout=30).json()
    assert after["metadata"]["waiting"] is False
    assert after["messages"][0]["content"] == \
        "Why is ml-team's utilization lower this week than last week?"


def test_an_explicit_resume_needs_no_query_and_names_the_option(service):
    url, _ = service
    asked = post(url, query="trend for namespace ml-teem", session_id="clarify-explicit")
    assert asked["options"] == ["ml-team"]
    done = post(url, resume="ML-TEAM", session_id="clarify-explicit")
    assert (done["intent"], done["entities"]["namespace"]) == ("trend", "ml-team")
    assert done["debug_info"]["resumed"] is True and done["figures"]["series"]


def test_resuming_what_is_not_waiting_is_a_422_and_loses_nothing(service):
    url, _ = service
    first = post(url, query="What is ml-team's utilization this week?", cluster_name="gpu-east",
                 session_id="nothing-waits")
    assert first["debug_info"]["resumed"] is False
    r = requests.post(url + CHAT, json={"resume": "1", "session_id": "nothing-waits"},
                      timeout=30)
    assert r.status_code == 422
    assert r.json() == {"error_type": "UsageError", "detail":
                        "nothing to resume: conversation 'nothing-waits' is not waiting for "
                        "an answer"}
    r = requests.post(url + CHAT, json={"resume": "1"}, timeout=30)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "session_id"]
    # the conversation is as it was
    conv = requests.get(url + CONVERSATIONS + "/nothing-waits", timeout=30).json()
    assert conv["metadata"] == {"messages": 2, "waiting": False}


def test_a_choice_that_names_nothing_asks_again(service):
    url, _ = service
    post(url, query="trend for namespace ml-teem", session_id="clarify-again")
    again = post(url, resume="no-such-team", session_id="clarify-again")
    assert again["needs_clarification"] and again["session_id"] == "clarify-again"
    done = post(url, query="ml-team", session_id="clarify-again")
    assert done["entities"]["namespace"] == "ml-team" and not done["needs_clarification"]


def test_a_question_asked_without_saving_history_can_still_be_answered_back(service):
    url, _ = service
    asked = post(url, query="trend for namespace ml-teem", save_history=False)
    thread = asked["session_id"]
    assert thread.startswith("oneshot-") and asked["needs_clarification"]
    done = post(url, query="1", session_id=thread, save_history=False)
    assert done["entities"]["namespace"] == "ml-team" and not done["needs_clarification"]
    # a one-shot thread lives in the worker's memory, never in the conversation list
    listed = requests.get(url + CONVERSATIONS + "?limit=200", timeout=30).json()
    assert thread not in {c["session_id"] for c in listed["conversations"]}
    # and it is gone once answered
    r = requests.post(url + CHAT, json={"resume": "1", "session_id": thread}, timeout=30)
    assert r.status_code == 422


def test_a_streamed_clarification_resumes_at_clarify(service):
    url, _ = service
    with httpx.stream("POST", url + STREAM, timeout=60, json={
            "query": "Why is ml-team's utilization lower this week than last week?",
            "cluster_name": "gpu-est", "session_id": "stream-clarify"}) as s:
        asked = list(sse_events(s))
    order = [e["stage"] if e["type"] == "status" else e["type"] for e in asked]
    assert order == ["session", "understand", "clarify", "clarify", "final", "done"]
    assert asked[3]["message"] == "Waiting for your choice"
    assert asked[-2]["options"] == ["gpu-east", "gpu-west"]
    assert asked[-2]["session_id"] == asked[0]["session_id"] == "stream-clarify"

    with httpx.stream("POST", url + STREAM, timeout=60, json={
            "query": "gpu-west", "resume": "gpu-west", "session_id": "stream-clarify"}) as s:
        done = list(sse_events(s))
    order = [e["stage"] if e["type"] == "status" else e["type"] for e in done]
    assert order == ["session", "clarify", "plan", "execute", "data", "synthesize", "respond",
                     "final", "done"]
    final = done[-2]
    assert final["entities"]["cluster"] == "gpu-west" and "gpu-west" in final["answer"]
    assert final["intent"] == "drilldown" and not final["needs_clarification"]


# -- one conversation across the CLI and HTTP -------------------------------------------------------
def test_a_session_goes_cli_to_http_to_cli_and_delete_removes_it(service, demo_db):
    url, cfg = service
    first = cli_ask(cfg, demo_db, "What is ml-team's utilization this week?", "--cluster",
                    "gpu-east", "--session", "round-trip")
    assert first["entities"]["namespace"] == "ml-team"

    listed = requests.get(url + CONVERSATIONS, timeout=30).json()
    mine = next(c for c in listed["conversations"] if c["session_id"] == "round-trip")
    assert mine["name"] == "What is ml-team's utilization this week?"
    assert mine["metadata"] == {"messages": 2, "waiting": False}

    # over HTTP the follow-up knows the CLI's turn
    http = post(url, query="and last week?", session_id="round-trip")
    assert http["entities"]["namespace"] == "ml-team"
    assert http["entities"]["cluster"] == "gpu-east"
    assert http["entities"]["period"]["start"] == "2026-11-09T00:00:00Z"

    # back in the terminal, the follow-up knows the HTTP turn (last week, not this week)
    back = cli_ask(cfg, demo_db, "what about cv-team?", "--session", "round-trip")
    assert back["entities"]["namespace"] == "cv-team"
    assert back["entities"]["period"]["start"] == "2026-11-09T00:00:00Z"

    conv = requests.get(url + CONVERSATIONS + "/round-trip", timeout=30).json()
    assert [(m["role"], m["content"]) for m in conv["messages"] if m["role"] == "user"] == [
        ("user", "What is ml-team's utilization this week?"), ("user", "and last week?"),
        ("user", "what about cv-team?")]
    assert conv["messages"][3]["content"] == http["answer"]
    assert all(m["timestamp"].endswith("Z") for m in conv["messages"])

    found = requests.get(url + API + "/storage/search", params={"query": "CV-TEAM"},
                         timeout=30).json()
    assert "round-trip" in {c["session_id"] for c in found["conversations"]}

    r = requests.delete(url + CONVERSATIONS + "/round-trip", timeout=30)
    assert r.status_code == 200 and r.json() == {"session_id": "round-trip", "deleted": True}
    assert requests.get(url + CONVERSATIONS + "/round-trip", timeout=30).status_code == 404
    assert requests.delete(url + CONVERSATIONS + "/round-trip", timeout=30).status_code == 404
    # the CLI starts over: no previous turn to follow
    fresh = cli_ask(cfg, demo_db, "and last week?", "--session", "round-trip", code=3)
    assert fresh["entities"]["namespace"] is None and fresh["needs_clarification"]  # which cluster?


def test_conversations_page_search_and_refuse_bad_ids(service):
    url, _ = service
    # markup as plain words (a quoted name that matches nothing would be an error, answers.md §1;
    # so would "命名空间 yyy…": the bell between them no longer hides that the words name one)
    nasty = "\u547d\u540d\u7a7a\u95f4 utilization of <b>x</b> \x07 " + "y" * 300
    post(url, query=nasty, session_id="page-nasty")
    post(url, query="How many GPUs are in use right now?", session_id="page-newest")
    page = requests.get(url + CONVERSATIONS, params={"limit": 2}, timeout=30).json()
    assert page["limit"] == 2 and page["offset"] == 0 and page["count"] == 2
    assert [c["session_id"] for c in page["conversations"]] == ["page-newest", "page-nasty"]
    named = page["conversations"][1]["name"]
    assert named.startswith("命名空间 utilization of <b>x</b>") and "\x07" not in named
    assert len(named) <= 120
    second = requests.get(url + CONVERSATIONS, params={"limit": 1, "offset": 1},
                          timeout=30).json()
    assert [c["session_id"] for c in second["conversations"]] == ["page-nasty"]
    hits = requests.get(url + API + "/storage/search", params={"query": "命名空间"},
                        timeout=30).json()
    assert [c["session_id"] for c in hits["conversations"]] == ["page-nasty"]
    assert requests.get(url + API + "/storage/search", params={"query": "zzz-nothing"},
                        timeout=30).json()["conversations"] == []

    assert requests.get(url + CONVERSATIONS + "/nobody", timeout=30).status_code == 404
    for bad in ("..%2F..%2Fetc", "a%20b", "x" * 201):
        r = requests.get(url + CONVERSATIONS + "/" + bad, timeout=30)
        assert r.status_code in (404, 422), (bad, r.status_code)
        assert "Traceback" not in r.text
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}):
        assert requests.get(url + CONVERSATIONS, params=params, timeout=30).status_code == 422
    assert requests.get(url + API + "/storage/search", params={"query": ""},
                        timeout=30).status_code == 422


@pytest.mark.slow
@pytest.mark.postgres
def test_on_a_postgresql_state_database_concurrent_turns_keep_their_own_threads(demo_db,
                                                                               tmp_path, pg_url):
    """The deployment keeps its state in PostgreSQL: one checkpointer connection shared by
    the worker threads. Sixteen conversations at once each keep their own turns, the CLI
    reads them, and a clarification waits and resumes there too."""
    from concurrent.futures import ThreadPoolExecutor

    cfg = serve_config(tmp_path, demo_db)
    cfg = cfg.model_copy(update={"state": cfg.state.model_copy(update={"database_url": pg_url})})
    with live_server(cfg) as url:
        def converse(i: int) -> tuple[dict, dict]:
            sid = f"pg-{i}"
            first = post(url, query="What is ml-team's utilization this week?",
                         cluster_name="gpu-east" if i % 2 else "gpu-west", session_id=sid)
            return first, post(url, query="and last week?", session_id=sid)

        with ThreadPoolExecutor(16) as pool:
            turns = list(pool.map(converse, range(16)))
        for i, (first, follow) in enumerate(turns):
            cluster = "gpu-east" if i % 2 else "gpu-west"
            assert first["entities"]["cluster"] == follow["entities"]["cluster"] == cluster
            assert follow["entities"]["period"]["start"] == "2026-11-09T00:00:00Z"
        listed = requests.get(url + CONVERSATIONS, params={"limit": 50}, timeout=30).json()
        assert {c["session_id"] for c in listed["conversations"]} == {f"pg-{i}" for i in range(16)}
        assert all(c["metadata"] == {"messages": 4, "waiting": False}
                   for c in listed["conversations"])

        asked = post(url, query="trend for namespace ml-teem", session_id="pg-clarify")
        assert asked["needs_clarification"]
        back = cli_ask(cfg, demo_db, "1", "--session", "pg-clarify")  # answered in a terminal
        assert back["entities"]["namespace"] == "ml-team"
        conv = requests.get(url + CONVERSATIONS + "/pg-clarify", timeout=30).json()
        assert conv["metadata"]["waiting"] is False
        # the question, the ask-back, the choice, the answer
        assert [(m["role"], m["content"][:12]) for m in conv["messages"]] == [
            ("user", "trend for na"), ("assistant", asked["answer"][:12]), ("user", "1"),
            ("assistant", back["answer"][:12])]

