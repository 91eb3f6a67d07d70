"""``gpureport serve``: the seed's chat API over real HTTP, and what a service needs.

The service runs in this process on a real socket (tests/serve_server.py); clients are the
seed's: ``requests.post(.../chat)`` reading ``answer``/``insights``, and a stream reader of
``data: {json}`` lines until ``done``. Limits, auth, CORS, timeouts and disconnects are each
exercised against it; a slow or failing data source is the fake Lens API (its real contract,
with a delay or HTTP 500s).
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
import requests

from agent.understand.model import INTENTS, Metadata
from agent.understand.rules import understand as rule_understand
from reporter.config import ConfigError, load_config
from reporter.serve.capabilities import capabilities
from reporter.statedb import DeliveryRecord, open_state
from tests.conftest import NOW
from tests.fakes.lens_api import serve_lens
from tests.serve_server import live_server, serve_config, sse_events

CHAT = "/api/gpu-analysis/chat"
STREAM = "/api/gpu-analysis/chat/stream"
ASK_JSON_FIELDS = {"answer", "insights", "language", "intent", "entities", "figures",
                   "needs_clarification", "options", "question", "data_collected", "llm_calls",
                   "session_id", "warnings"}
SEED_FIELDS = {"answer", "insights", "data_collected", "conversation_history", "debug_info",
               "timestamp"}


@pytest.fixture(scope="module")
def service(demo_db, tmp_path_factory):
    """One service over the demo store for the tests that only read."""
    tmp = tmp_path_factory.mktemp("serve")
    with live_server(serve_config(tmp, demo_db)) as url:
        yield url


# -- the seed's clients ---------------------------------------------------------------------------
def test_a_seed_client_posts_a_question_and_reads_answer_and_insights(service):
    r = requests.post(service + CHAT, json={
        "query": "Why is ml-team's utilization lower this week than last week?",
        "cluster_name": "gpu-east"}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert SEED_FIELDS | ASK_JSON_FIELDS <= set(body)
    assert body["intent"] == "drilldown"
    assert body["entities"]["namespace"] == "ml-team" and body["entities"]["cluster"] == "gpu-east"
    assert "ml-team" in body["answer"] and "gpu-east" in body["answer"]
    # the scripted scenario of the demo: user_a's workloads and the new idle 8-GPU server
    assert any("llm-eval-server" in i for i in body["insights"])
    assert any("user_a" in i for i in body["insights"])
    assert body["debug_info"]["session_id"] == body["session_id"]
    assert body["timestamp"].endswith("Z")
    assert [m["role"] for m in body["conversation_history"]] == ["user", "assistant"]
    assert body["conversation_history"][1]["content"] == body["answer"]
    assert {c["tool"] for c in body["data_collected"]} >= {"drilldown_change"}


def test_the_answer_is_the_same_as_ask_json(service, demo_db):
    """Same agent, same figures: the HTTP answer equals ``gpureport ask --json``."""
    from tests.cli import run

    question = "Which namespaces wasted the most GPU hours last week across all clusters?"
    cli = run("ask", question, "--json", "--no-llm", env={"GPUREPORT_DATABASE_URL": demo_db})
    assert cli.exit_code == 0, cli
    http = requests.post(service + CHAT, json={"query": question}, timeout=60).json()
    expected = cli.json()
    for key in ("answer", "insights", "intent", "entities", "figures", "language"):
        assert http[key] == expected[key], key


def test_a_stream_client_reads_session_first_and_final_before_done(service):
    with httpx.stream("POST", service + STREAM, timeout=60, json={
            "query": "What is the GPU utilization trend over the last 7 days?",
            "cluster_name": "gpu-west"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(r))
    types = [e["type"] for e in events]
    assert types[0] == "session" and events[0]["session_id"]
    assert types[-2:] == ["final", "done"]
    assert types[1] == "status" and events[1]["stage"] == "understand"
    assert "data" in types and types.index("data") < types.index("final")
    # one status per graph node as it starts, the tool's data inside execute
    order = [e["stage"] if e["type"] == "status" else e["type"] for e in events]
    assert order == ["session", "understand", "plan", "execute", "data", "synthesize",
                     "respond", "final", "done"]
    assert events[2]["message"] == "Planning the queries…"
    data = events[4]
    assert data["stage"] == "execute" and data["tool"] == "query_gpu_usage_trend"
    assert data["data"] == {"query_gpu_usage_trend": data["message"]}
    assert data["rows"] == 7 * 24 and data["message"].startswith("query_gpu_usage_trend")
    assert data["args"]["scope"]["cluster"] == "gpu-west"
    final = events[-2]
    assert ASK_JSON_FIELDS <= set(final) and "data" in final
    assert final["intent"] == "trend" and final["entities"]["cluster"] == "gpu-west"
    assert final["figures"]["series"] and "gpu-west" in final["answer"]
    assert final["session_id"] == events[0]["session_id"]


def test_a_chinese_question_is_answered_in_chinese(service):
    r = requests.post(service + CHAT, json={"query": "现在所有集群有多少GPU在使用？"}, timeout=60)
    body = r.json()
    assert r.status_code == 200 and body["language"] == "zh" and body["intent"] == "realtime"
    assert "块GPU" in body["answer"]
    with httpx.stream("POST", service + STREAM, json={"query": "过去7天所有集群GPU利用率趋势如何？"},
                      timeout=60) as s:
        events = list(sse_events(s))
    assert events[1]["message"] == "正在理解问题…"
    assert events[-2]["language"] == "zh" and events[-1] == {"type": "done"}


def test_an_unknown_cluster_is_a_clarification_not_an_error(service):
    r = requests.post(service + CHAT, json={"query": "utilization of ml-team this week",
                                            "cluster_name": "gpu-est"}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert body["needs_clarification"] is True
    assert body["options"] == ["gpu-east", "gpu-west"]
    assert "gpu-est" in body["question"]


def test_a_session_keeps_the_previous_turn(service):
    """Turns with the same ``session_id`` continue one conversation (the checkpointer thread
    that ``ask --session`` uses)."""
    first = requests.post(service + CHAT, json={
        "query": "What is ml-team's utilization this week?", "cluster_name": "gpu-east",
        "session_id": "team-review"}, timeout=60).json()
    assert first["session_id"] == "team-review" and first["entities"]["namespace"] == "ml-team"
    follow = requests.post(service + CHAT, json={
        "query": "and last week?", "session_id": "team-review"}, timeout=60).json()
    assert follow["entities"]["namespace"] == "ml-team"
    assert follow["entities"]["cluster"] == "gpu-east"
    assert follow["entities"]["period"]["start"] == "2026-11-09T00:00:00Z"


def test_without_save_history_nothing_is_kept(service):
    r = requests.post(service + CHAT, json={"query": "What is ml-team's utilization this week?",
                                            "session_id": "forget-me", "save_history": False,
                                            "conversation_history": [{"role": "user",
                                                                      "content": "hi"}]},
                      timeout=60).json()
    assert r["conversation_history"] == [{"role": "user", "content": "hi"}]
    assert r["debug_info"]["saved"] is False
    follow = requests.post(service + CHAT, json={"query": "and last week?",
                                                 "session_id": "forget-me"}, timeout=60).json()
    assert follow["entities"]["namespace"] is None


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, field", [
    ({"query": ""}, "query"),
    ({"query": "   \n\t"}, "query"),
    ({}, "query"),
    ({"query": 42}, "query"),
    ({"query": "x", "save_history": "maybe"}, "save_history"),
    ({"query": "x", "conversation_history": "no"}, "conversation_history"),
    ({"query": "x", "session_id": "../../etc"}, "session_id"),
])
def test_bad_bodies_get_422_with_the_field(service, body, field):
    r = requests.post(service + CHAT, json=body, timeout=30)
    assert r.status_code == 422, r.text
    fields = [e["loc"][-1] for e in r.json()["detail"]]
    assert field in fields
    assert "Traceback" not in r.text and "input" not in r.json()["detail"][0]


def test_a_body_that_is_not_json_gets_422(service):
    r = requests.post(service + CHAT, data=b"query=hello",
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 422


def test_hostile_names_come_back_as_data(service):
    """Quotes, markup, CJK and control characters in a question are answered or clarified,
    never a 500, and come back as JSON strings (the page puts them in with textContent)."""
    nasty = "utilization of namespace '<script>alert(1)</script>\"; DROP TABLE x;--\x07 命名空间'"
    r = requests.post(service + CHAT, json={"query": nasty + "x" * 300}, timeout=60)
    # a name that matches nothing is one error naming it (answers.md §1), as data
    assert r.status_code in (200, 404) and "Traceback" not in r.text, r.text
    assert r.headers["content-type"].startswith("application/json")


# -- limits, auth, CORS ------------------------------------------------------------------------------
def test_a_body_over_the_limit_gets_413(demo_db, tmp_path):
    with live_server(serve_config(tmp_path, demo_db, max_body_bytes=2048)) as url:
        big = {"query": "x" * 4000}
        r = requests.post(url + CHAT, json=big, timeout=30)
        assert r.status_code == 413 and "2048" in r.json()["detail"]

        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"query": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'
        r = requests.post(url + CHAT, data=chunks(), headers={"Content-Type": "application/json"},
                          timeout=30)
        assert r.status_code == 413
        ok = requests.post(url + CHAT, json={"query": "How many GPUs are in use right now across all clusters?"},
                           timeout=60)
        assert ok.status_code == 200


def test_a_token_guards_every_api_route_but_not_health_or_metrics(demo_db, tmp_path):
    with live_server(serve_config(tmp_path, demo_db, token="s3cret-token")) as url:
        for method, path in (("POST", CHAT), ("POST", STREAM),
                             ("GET", "/api/gpu-analysis/capabilities"),
                             ("GET", "/api/gpu-analysis/reports"),
                             ("GET", "/api/gpu-analysis/reports/1.html"),
                             ("GET", "/api/gpu-analysis/storage/conversations"),
                             ("GET", "/api/gpu-analysis/storage/conversations/s1"),
                             ("DELETE", "/api/gpu-analysis/storage/conversations/s1"),
                             ("GET", "/api/gpu-analysis/storage/search?query=x")):
            for headers in ({}, {"Authorization": "Bearer wrong"},
                            {"Authorization": "Basic s3cret-token"}):
                r = requests.request(method, url + path, json={"query": "hi"}, headers=headers,
                                     timeout=30)
                assert r.status_code == 401, (path, headers, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
                assert "s3cret" not in r.text
        good = {"Authorization": "Bearer s3cret-token"}
        r = requests.post(url + CHAT, json={"query": "How many GPUs are in use right now across all clusters?"},
                          headers=good, timeout=60)
        assert r.status_code == 200 and r.json()["intent"] == "realtime"
        for path in ("/health", "/healthz", "/readyz", "/metrics", "/ui", "/static/app.js"):
            assert requests.get(url + path, timeout=30).status_code == 200, path
        assert "s3cret" not in requests.get(url + "/metrics", timeout=30).text


def test_the_token_comes_from_the_environment():
    cfg = load_config(None, env={"GPUREPORT_SERVER_TOKEN": "from-env", "GPUREPORT_SERVER_PORT": "9001",
                                 "GPUREPORT_SERVER_CORS_ORIGINS": "https://a.example, http://b:8080"})
    assert cfg.server.token.get_secret_value() == "from-env" and cfg.server.port == 9001
    assert cfg.server.cors_origins == ["https://a.example", "http://b:8080"]
    assert cfg.masked()["server"]["token"] == "****"
    with pytest.raises(ConfigError, match="server.cors_origins.*'\\*' is not allowed"):
        load_config(None, env={"GPUREPORT_SERVER_CORS_ORIGINS": "*"})
    with pytest.raises(ConfigError, match="server.cors_origins"):
        load_config(None, env={"GPUREPORT_SERVER_CORS_ORIGINS": "https://a.example/path"})


def test_cors_is_off_unless_origins_are_listed(service, demo_db, tmp_path):
    origin = {"Origin": "https://dash.example"}
    r = requests.post(service + CHAT, json={"query": "How many GPUs are in use right now across all clusters?"},
                      headers=origin, timeout=60)
    assert "access-control-allow-origin" not in r.headers
    pre = requests.options(service + CHAT, headers={**origin,
                                                    "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers
    with live_server(serve_config(tmp_path, demo_db,
                                  cors_origins=["https://dash.example"])) as url:
        pre = requests.options(url + CHAT, headers={
            **origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"}, timeout=30)
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://dash.example"
        assert "access-control-allow-credentials" not in pre.headers
        r = requests.post(url + CHAT, json={"query": "How many GPUs are in use right now across all clusters?"},
                          headers=origin, timeout=60)
        assert r.headers["access-control-allow-origin"] == "https://dash.example"
        other = requests.post(url + CHAT, json={"query": "How many GPUs are in use right now across all clusters?"},
                              headers={"Origin": "https://evil.example"}, timeout=60)
        assert "access-control-allow-origin" not in other.headers


# -- outages, timeouts, disconnects -------------------------------------------------------------
def test_a_source_outage_is_503_with_one_line_and_readyz_says_why(tmp_path):
    down = "postgresql+psycopg://gpureport:hunter2@127.0.0.1:1/lens"
    with live_server(serve_config(tmp_path, down)) as url:
        r = requests.post(url + CHAT, json={"query": "How many GPUs are in use right now across all clusters?"},
                          timeout=60)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["error_type"] == "SourceError" and "\n" not in body["detail"]
        assert "127.0.0.1:1" in body["detail"] and "hunter2" not in r.text
        with httpx.stream("POST", url + STREAM, json={"query": "How many GPUs are in use?"},
                          timeout=60) as s:
            events = list(sse_events(s))
        assert [e["type"] for e in events][-2:] == ["error", "done"]
        assert events[-2]["error_type"] == "SourceError" and "hunter2" not in json.dumps(events)
        ready = requests.get(url + "/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["reason"].startswith("source: ") and "hunter2" not in ready.text
        assert requests.get(url + "/healthz", timeout=30).status_code == 200


@pytest.mark.postgres
def test_readyz_checks_the_state_database_too(demo_db, tmp_path):
    from tests.conftest import create_pg_database, drop_pg_database

    state_url = create_pg_database("gr_serve_state")
    cfg = serve_config(tmp_path, demo_db)
    cfg = cfg.model_copy(update={"state": cfg.state.model_copy(update={"database_url": state_url})})
    try:
        with live_server(cfg) as url:
            assert requests.get(url + "/readyz", timeout=30).json()["status"] == "ready"
            drop_pg_database(state_url)  # the state database goes away under the service
            r = requests.get(url + "/readyz", timeout=30)
            assert r.status_code == 503
            assert r.json()["reason"].startswith("state database: ")
            assert requests.get(url + "/healthz", timeout=30).status_code == 200
    finally:
        drop_pg_database(state_url)


@pytest.fixture
def slow_lens(demo_db):
    with serve_lens(demo_db) as lens:
        yield lens


def wait_quiet(lens, quiet: float = 2.0, limit: float = 30.0) -> int:
    """The number of requests the fake Lens has seen once none arrived for ``quiet`` s (a run
    that kept working would never fall silent: every request it sends waits the delay)."""
    deadline = time.monotonic() + limit
    seen, since = len(lens.requests), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if len(lens.requests) != seen:
            seen, since = len(lens.requests), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return seen
    raise AssertionError(f"the source never fell quiet ({seen} requests)")


def _lens_config(tmp_path, lens, **server):
    cfg = serve_config(tmp_path, **server)
    return cfg.model_copy(update={"source": cfg.source.model_copy(
        update={"kind": "lens", "lens_url": lens.url, "retries": 0})})


@pytest.mark.slow  # > 4 s: .ci/run runs it with the slow tests (default suite ≤ 4 min)
def test_a_request_over_its_timeout_gets_504_and_its_run_stops(tmp_path, slow_lens):
    with live_server(_lens_config(tmp_path, slow_lens, request_timeout_s=0.5)) as url:
        slow_lens.delay(0.25)
        started = time.monotonic()
        r = requests.post(url + CHAT, json={"query": "How many GPUs are in use right now across all clusters?",
                                            "cluster_name": "gpu-east"}, timeout=60)
        took = time.monotonic() - started
        assert r.status_code == 504 and r.json() == {"detail": "no answer within 0.5 s",
                                                     "error_type": "Timeout"}
        assert took < 1.5
        after_timeout = wait_quiet(slow_lens)
        time.sleep(1.0)
        assert len(slow_lens.requests) == after_timeout, "the abandoned run kept going"


def test_a_client_that_disconnects_mid_stream_cancels_its_run(tmp_path, slow_lens):
    """No further events and no further work: the abandoned run sends the data source no
    request after the client left, where a finished run would have sent many more."""
    with live_server(_lens_config(tmp_path, slow_lens)) as url:
        question = {"query": "How many GPUs are in use right now across all clusters?", "cluster_name": "gpu-east"}
        before = len(slow_lens.requests)
        full = requests.post(url + CHAT, json=question, timeout=120)
        assert full.status_code == 200
        needed = len(slow_lens.requests) - before

        slow_lens.delay(0.25)
        before = len(slow_lens.requests)
        with httpx.stream("POST", url + STREAM, json=question, timeout=60) as s:
            events = sse_events(s)
            assert next(events)["type"] == "session"
            assert next(events)["stage"] == "understand"
        # the client is gone: the source calls in flight finish (a Lens call may page or loop
        # over clusters), then the run makes no further call
        seen = wait_quiet(slow_lens)
        time.sleep(1.0)
        assert len(slow_lens.requests) == seen, "the abandoned run kept querying the source"
        assert seen - before < needed, (seen - before, needed)
        metrics = requests.get(url + "/metrics", timeout=30).text
        assert 'gpureport_requests_total{endpoint="/api/gpu-analysis/chat/stream",status="499"} 1.0' \
            in metrics


def until(condition, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


class HeldSnapshots:
    """The demo source, except that reading the latest snapshot waits for ``release``."""

    def __init__(self, source):
        import threading

        self._source = source
        self.entered = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name):
        return getattr(self._source, name)

    def latest_snapshot(self, *args, **kwargs):
        self.entered.set()
        self.release.wait(30)
        return self._source.latest_snapshot(*args, **kwargs)


def test_a_run_whose_client_left_stops_at_its_next_step(demo_db, tmp_path):
    """The client leaves while a tool runs; the tool's source call then completes, and the run
    stops at the next step: no synthesize, no respond (the conversation keeps no answer), while
    the same question run to its end keeps one."""
    from agent.settings import SourceSettings
    from agent.sources import make_source

    source = make_source(SourceSettings(database_url=demo_db))
    held = HeldSnapshots(source)
    try:
        with live_server(serve_config(tmp_path, demo_db), source=held) as url:
            question = {"query": "How many GPUs are in use right now across all clusters?",
                        "session_id": "walked-away"}
            gone = 'gpureport_requests_total{endpoint="/api/gpu-analysis/chat/stream",status="499"}'
            tool = 'gpureport_tool_calls_total{outcome="cancelled",tool="get_latest_snapshot"}'

            def count(name: str) -> float:
                return metric(requests.get(url + "/metrics", timeout=30).text, name)

            before = {gone: count(gone), tool: count(tool)}
            with httpx.stream("POST", url + STREAM, json=question, timeout=60) as s:
                events = sse_events(s)
                while next(events).get("stage") != "execute":
                    pass
                assert held.entered.wait(10)
            until(lambda: count(gone) == before[gone] + 1)  # the server saw the client go
            held.release.set()  # the tool's call returns; the run would go on from here
            until(lambda: count(tool) == before[tool] + 1)
            time.sleep(0.3)  # ample for synthesize + respond (milliseconds), had it gone on
            conv = requests.get(url + "/api/gpu-analysis/storage/conversations/walked-away",
                                timeout=30).json()
            assert conv["messages"] == [], "the abandoned run went on to respond"
            done = requests.post(url + CHAT, json={**question, "session_id": "finished"},
                                 timeout=60)
            assert done.status_code == 200
            conv = requests.get(url + "/api/gpu-analysis/storage/conversations/finished",
                                timeout=30).json()
            assert [m["role"] for m in conv["messages"]] == ["user", "assistant"]
    finally:
        source.close()


@pytest.mark.parametrize("workers", [2, 1])
def test_a_saturated_worker_hands_keep_alive_connections_back(demo_db, tmp_path, workers):
    """Workers share one socket and a keep-alive connection stays where it was accepted. While
    runs wait for this worker's thread, its answers say ``Connection: close`` (the client's
    next request opens a new connection, which a less busy worker takes); once nothing waits,
    connections are kept. A single worker has nowhere to send them: it keeps them all."""
    import concurrent.futures

    from agent.settings import SourceSettings
    from agent.sources import make_source

    source = make_source(SourceSettings(database_url=demo_db))
    held = HeldSnapshots(source)
    question = {"query": "How many GPUs are in use right now?", "cluster_name": "gpu-east",
                "save_history": False}
    try:
        with live_server(serve_config(tmp_path, demo_db, threads=1), source=held,
                         workers=workers) as url, \
                concurrent.futures.ThreadPoolExecutor(3) as pool:
            first = pool.submit(requests.post, url + CHAT, json=question, timeout=60)
            assert held.entered.wait(10)  # the only thread is taken
            waiting = [pool.submit(requests.post, url + CHAT, json=question, timeout=60)
                       for _ in range(2)]
            time.sleep(1.0)  # both wait for the thread (local requests: ample)
            held.release.set()
            answers = [first.result(), *(w.result() for w in waiting)]
            handed_back = metric(requests.get(url + "/metrics", timeout=30).text,
                                 "gpureport_connections_handed_back_total")
        assert [r.status_code for r in answers] == [200, 200, 200]
        closing = [r.headers.get("connection") == "close" for r in answers]
        assert handed_back == sum(closing)  # operators see it on /metrics
        if workers == 1:
            assert closing == [False, False, False]
        else:  # the first answer left one run waiting; the last left none
            assert closing[0] and not all(closing)
    finally:
        source.close()


def test_a_source_that_answers_garbage_is_503_not_500(tmp_path, slow_lens):
    with live_server(_lens_config(tmp_path, slow_lens)) as url:
        slow_lens.fail_next(1000, 500)
        r = requests.post(url + CHAT, json={"query": "How many GPUs are in use right now across all clusters?"},
                          timeout=60)
        assert r.status_code == 503 and r.json()["error_type"] in ("SourceError", "NotFound")
        slow_lens.reset_faults()


# -- the name cache ---------------------------------------------------------------------------------
def test_names_are_cached_in_the_worker_and_shared_through_the_state_database(demo_db, tmp_path):
    """The names a question is resolved against are read once per TTL: a warm worker reads
    none, a new worker (another replica, on the same state database) starts from what the
    first one fetched; with ``catalog_ttl_s: 0`` every question reads them again."""
    question = {"query": "Why is ml-team's utilization lower this week than last week?",
                "cluster_name": "gpu-east"}

    def source_calls(url: str) -> int:
        body = requests.post(url + CHAT, json=question, timeout=60).json()
        assert body["intent"] == "drilldown" and "ml-team" in body["answer"]
        return body["debug_info"]["source_calls"]

    cfg = serve_config(tmp_path, demo_db)
    with live_server(cfg) as url:
        cold, warm = source_calls(url), source_calls(url)
    assert warm < cold
    with live_server(cfg) as url:  # a new worker: memory empty, the state database warm
        assert source_calls(url) == warm
    uncached = cfg.model_copy(update={"source": cfg.source.model_copy(
        update={"catalog_ttl_s": 0})})
    with live_server(uncached) as url:
        assert source_calls(url) == source_calls(url) == cold


def test_the_layered_cache_serves_memory_then_the_state_database_by_age():
    from datetime import datetime, timedelta, timezone

    from agent.cache import MemoryCache, fresh_many
    from reporter.serve.context import LayeredCache

    now = datetime.now(timezone.utc)
    back = MemoryCache(300)  # stands for the state database's table
    cache = LayeredCache(MemoryCache(300), back)
    cache.front.put("stale-here", ["old"], now - timedelta(seconds=400))
    back.put("stale-here", ["fresh"], now - timedelta(seconds=10))  # another worker's fetch
    back.put("only-there", ["b"], now - timedelta(seconds=20))
    cache.front.put("only-here", ["m"], now)
    assert fresh_many(cache, ["stale-here", "only-there", "only-here", "nowhere"]) == {
        "stale-here": ["fresh"], "only-there": ["b"], "only-here": ["m"]}
    # copied to memory with the time it was stored: it ages as it would have there
    assert cache.front.get("only-there") == (["b"], now - timedelta(seconds=20))
    cache.put("new", [1], now)
    assert back.get("new") == cache.front.get("new") == ([1], now)


# -- health, capabilities, reports, metrics, docs ------------------------------------------------
def test_health_in_the_seed_shape(service):
    assert requests.get(service + "/health", timeout=30).json() == {
        "status": "healthy", "version": requests.get(service + "/openapi.json").json()["info"]["version"],
        "llm_provider": None, "lens_api_url": None}
    assert requests.get(service + "/", timeout=30).json()["status"] == "healthy"
    page = requests.get(service + "/", headers={"Accept": "text/html"}, timeout=30)
    assert page.headers["content-type"].startswith("text/html") and "<title>gpureport" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    ready = requests.get(service + "/readyz", timeout=30).json()
    assert ready["status"] == "ready" and "3 clusters" in ready["source"]


def test_capabilities_list_what_the_agent_understands(service):
    body = requests.get(service + "/api/gpu-analysis/capabilities", timeout=30).json()
    assert body == capabilities()
    types = [c["type"] for c in body["capabilities"]]
    assert {"trend", "compare", "drilldown", "realtime", "ranking", "discovery", "help"} <= set(types)
    assert types == [i for i in INTENTS if i in types]
    assert {"cluster", "namespace", "user", "workload", "label"} <= set(body["supported_dimensions"])
    assert {"utilization", "allocation", "gpu_hours"} <= set(body["supported_metrics"])
    meta = Metadata(clusters=["gpu-east", "gpu-lab", "gpu-west"],
                    namespaces=["ml-team", "cv-team", "ml-training", "nlp-team"])
    for cap in body["capabilities"]:
        assert cap["name"] and cap["description"] and cap["examples"], cap
        for example in cap["examples"]:
            got = rule_understand(example, NOW, meta, default_cluster="gpu-east").intent
            assert got == cap["type"], (example, got)
    assert {e for c in body["capabilities"] for e in c["examples"]} >= {
        "Why is ml-team's utilization lower this week than last week?", "现在集群有多少GPU在使用？"}


def test_an_example_the_agent_does_not_understand_is_not_advertised():
    from reporter.serve.capabilities import understood

    assert understood("realtime", "How many GPUs are currently in use in the cluster?")
    assert not understood("realtime", "Compare GPU usage between ml-team and cv-team")
    assert not understood("freshness", "What's the weather like?")


def test_past_report_runs_are_listed_with_their_kept_files(demo_db, tmp_path):
    cfg = serve_config(tmp_path, demo_db)
    reports = tmp_path / "reports" / "weekly-digest" / "2026-W47"
    reports.mkdir(parents=True)
    html = reports / "weekly-digest-2026-W47.html"
    html.write_text("<html><body><h1>GPU digest 2026-W47</h1></body></html>")
    pdf = reports / "weekly-digest-2026-W47.pdf"
    pdf.write_bytes(b"%PDF-1.4 test")
    outside = tmp_path / "secret.html"
    outside.write_text("not a report")
    with open_state(cfg.state.database_url) as state:
        kept = state.start_run(schedule="weekly-digest", kind="weekly", period_start=NOW,
                               period_end=NOW, trigger="scheduler")
        state.finish_run(kept, "succeeded", files=[html, pdf], message_id="<m@x>",
                         deliveries=[DeliveryRecord("email", "a@example.com", "sent", "<m@x>")])
        sneaky = state.start_run(schedule="weekly-digest", kind="weekly", period_start=NOW,
                                 period_end=NOW)
        state.finish_run(sneaky, "failed", files=[outside, "/etc/passwd"], error="boom")
    with live_server(cfg) as url:
        body = requests.get(url + "/api/gpu-analysis/reports", timeout=30).json()
        assert [r["id"] for r in body["reports"]] == [sneaky, kept]
        first, second = body["reports"]
        assert first["files"] == {} and first["status"] == "failed" and first["error"] == "boom"
        assert second["files"] == {"html": f"/api/gpu-analysis/reports/{kept}.html",
                                   "pdf": f"/api/gpu-analysis/reports/{kept}.pdf"}
        r = requests.get(url + second["files"]["html"], timeout=30)
        assert r.status_code == 200 and "GPU digest 2026-W47" in r.text
        assert "default-src 'none'" in r.headers["content-security-policy"]
        r = requests.get(url + second["files"]["pdf"], timeout=30)
        assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
        assert requests.get(url + f"/api/gpu-analysis/reports/{sneaky}.html",
                            timeout=30).status_code == 404
        assert requests.get(url + "/api/gpu-analysis/reports/999.pdf", timeout=30).status_code == 404
        paged = requests.get(url + "/api/gpu-analysis/reports?limit=1&offset=1", timeout=30).json()
        assert [r["id"] for r in paged["reports"]] == [kept]


def test_metrics_count_requests_and_questions(service):
    def sample(text: str, prefix: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(prefix))

    before = requests.get(service + "/metrics", timeout=30).text
    for q in ("How many GPUs are in use right now across all clusters?", "现在所有集群有多少GPU在使用？"):
        assert requests.post(service + CHAT, json={"query": q}, timeout=60).status_code == 200
    requests.post(service + CHAT, json={"query": ""}, timeout=30)
    after = requests.get(service + "/metrics", timeout=30).text
    chat = 'gpureport_requests_total{endpoint="/api/gpu-analysis/chat",'
    assert sample(after, chat + 'status="200"}') - sample(before, chat + 'status="200"}') == 2
    assert sample(after, chat + 'status="422"}') - sample(before, chat + 'status="422"}') == 1
    q = 'gpureport_questions_total{intent="realtime",language="zh",outcome="answered"}'
    assert sample(after, q) - sample(before, q) == 1
    tool = 'gpureport_tool_calls_total{outcome="ok",tool="get_latest_snapshot"}'
    assert sample(after, tool) - sample(before, tool) == 2
    timed = 'gpureport_tool_seconds_count{tool="get_latest_snapshot"}'
    assert sample(after, timed) - sample(before, timed) == 2
    took = 'gpureport_tool_seconds_sum{tool="get_latest_snapshot"}'
    assert 0 < sample(after, took) - sample(before, took) < 10
    hist = 'gpureport_request_seconds_count{endpoint="/api/gpu-analysis/chat"}'
    assert sample(after, hist) - sample(before, hist) == 3
    assert "gpureport_source_seconds_bucket" in after
    for family in ("gpureport_llm_calls_total", "gpureport_llm_tokens_total",
                   "gpureport_tool_seconds", "process_resident_memory_bytes"):
        assert f"# TYPE {family.removesuffix('_total')}" in after, family


def metric(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefix))


class FailingSnapshots:
    """The demo source, except that the latest snapshot cannot be read (mid-``execute``)."""

    def __init__(self, source):
        self._source = source

    def __getattr__(self, name):
        return getattr(self._source, name)

    def latest_snapshot(self, *args, **kwargs):
        from agent.errors import SourceError

        raise SourceError("snapshot table unreadable")


def test_a_tool_that_fails_is_counted_as_an_error_of_that_tool(demo_db, tmp_path):
    from agent.settings import SourceSettings
    from agent.sources import make_source

    source = make_source(SourceSettings(database_url=demo_db))
    try:
        with live_server(serve_config(tmp_path, demo_db), source=FailingSnapshots(source)) as url:
            before = requests.get(url + "/metrics", timeout=30).text
            r = requests.post(url + CHAT, json={"query": "How many GPUs are in use right now across all clusters?"},
                              timeout=60)
            assert r.status_code == 503 and r.json() == {
                "detail": "snapshot table unreadable", "error_type": "SourceError"}
            after = requests.get(url + "/metrics", timeout=30).text
    finally:
        source.close()
    failed = 'gpureport_tool_calls_total{outcome="error",tool="get_latest_snapshot"}'
    assert metric(after, failed) - metric(before, failed) == 1
    errors = 'gpureport_questions_total{intent="unknown",language="en",outcome="error"}'
    assert metric(after, errors) - metric(before, errors) == 1


def test_llm_calls_are_counted_by_purpose_with_their_tokens(demo_db, tmp_path):
    """The LLM path over real HTTP (the scripted OpenAI-compatible server): the extraction
    (``understand``) and the phrasing (``synthesize``) are counted apart, with the tokens the
    server reported for each."""
    from agent.settings import LLMSettings
    from tests.fakes.openai_api import serve_openai

    with serve_openai() as llm:
        cfg = serve_config(tmp_path, demo_db)
        cfg = cfg.model_copy(update={"llm": LLMSettings(api_key="sk-test-not-a-secret",
                                                        base_url=llm.url, model="scripted")})
        with live_server(cfg) as url:
            r = requests.post(url + CHAT, json={"query": "How many GPUs are in use right now across all clusters?"},
                              timeout=60)
            assert r.json()["llm_calls"] == 0 and llm.requests == []  # confident rules
            before = requests.get(url + "/metrics", timeout=30).text
            llm.script = [{"tool": {"intent": "trend", "namespace": "ml-team",
                                    "period": "last-7d"}},
                          {"content": "(phrased)"}]
            body = requests.post(url + CHAT, json={
                "query": "the ml folks and their boxes, lately?"}, timeout=60).json()
            after = requests.get(url + "/metrics", timeout=30).text
    assert body["intent"] == "trend" and body["llm_calls"] == 2 == len(llm.requests)
    for purpose in ("extract", "phrase"):
        line = f'gpureport_llm_calls_total{{purpose="{purpose}"}}'
        assert metric(after, line) - metric(before, line) == 1, purpose
    for kind in ("prompt", "completion"):  # the fake reports 1 + 1 tokens per call
        line = f'gpureport_llm_tokens_total{{kind="{kind}"}}'
        assert metric(after, line) - metric(before, line) == 2, kind
    assert "sk-test-not-a-secret" not in after


def test_docs_and_openapi(service):
    spec = requests.get(service + "/openapi.json", timeout=30).json()
    assert {CHAT, STREAM, "/api/gpu-analysis/capabilities", "/api/gpu-analysis/reports",
            "/api/gpu-analysis/storage/conversations",
            "/api/gpu-analysis/storage/conversations/{session_id}",
            "/api/gpu-analysis/storage/search",
            "/health", "/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    assert "resume" in spec["components"]["schemas"]["ChatRequest"]["properties"]
    assert "ChatRequest" in spec["components"]["schemas"]
    assert requests.get(service + "/docs", timeout=30).status_code == 200


def test_the_access_log_has_no_question_and_no_query_string(service, caplog):
    import logging

    def logged() -> list[dict]:
        return [json.loads(r.getMessage()) for r in caplog.records
                if r.name == "gpureport.access"]

    with caplog.at_level(logging.INFO, logger="gpureport.access"):
        requests.post(service + CHAT, json={"query": "secret-project utilization"}, timeout=60)
        requests.get(service + "/api/gpu-analysis/reports?limit=5&offset=0", timeout=30)
        # the line is written once the response has gone out: the client may be faster
        until(lambda: {line["route"] for line in logged()} >= {CHAT, "/api/gpu-analysis/reports"})
    lines = logged()
    text = json.dumps(lines)
    assert "secret-project" not in text and "limit=5" not in text
    assert all({"status", "duration_ms", "request_id", "method", "path"} <= set(line)
               for line in lines)


# -- the command line ----------------------------------------------------------------------------
def test_serve_fails_fast_with_one_line_when_the_state_database_is_unreachable(config_file):
    from tests.cli import run
    from tests.fakes import free_port

    cfg = config_file({"state": {"database_url": "postgresql+psycopg://u:pw@127.0.0.1:1/state"}})
    r = run("--config", cfg, "serve", "--port", free_port())
    assert r.exit_code == 1
    line = r.error_line()
    assert line.startswith("error: state database postgresql+psycopg://u:***@127.0.0.1:1/state")


def test_serve_refuses_a_port_in_use(config_file, tmp_path):
    import socket

    from tests.cli import run

    cfg = config_file({"state": {"database_url": f"sqlite:///{tmp_path / 's.db'}"}})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("--config", cfg, "serve", "--port", port)
    assert r.exit_code == 1
    assert r.error_line().startswith(f"error: cannot listen on 127.0.0.1:{port}")


def test_an_abandoned_run_stops_at_its_next_source_call(demo_db):
    from agent.sources import make_source
    from agent.settings import SourceSettings
    from reporter.serve.work import Abandoned, Control, WatchedSource

    source = make_source(SourceSettings(database_url=demo_db))
    try:
        control = Control()
        watched = WatchedSource(source, control)
        assert watched.clusters() == ["gpu-east", "gpu-lab", "gpu-west"]
        assert control.source_calls == 1
        control.cancel("client disconnected")
        with pytest.raises(Abandoned, match="client disconnected"):
            watched.namespaces(None, NOW, NOW)
        assert control.source_calls == 1
        watched.close()  # the shared source stays open for other runs
        assert source.clusters() == ["gpu-east", "gpu-lab", "gpu-west"]
    finally:
        source.close()
