"""``gpureport serve``: the seed's HTTP API over the same agent, state database and sessions.

    app.py           the FastAPI application: health, readiness, metrics, the web page
    api.py           /api/gpu-analysis: chat, chat/stream, capabilities, conversations
                     (storage/…: the ask --session threads), reports (bearer token)
    events.py        one agent run (agent.ask.stream) -> the /chat JSON and the SSE events
    observe.py       what a run tells /metrics as it runs: tool timings, LLM calls and tokens
    sse.py           an event-stream response that notices its client leaving
    work.py          blocking work in bounded worker threads; abandoning unwanted runs;
                     events handed from a worker thread to the event loop
    context.py       what the service holds for its lifetime (source, state, checkpointer)
    middleware.py    body limit (413), access log and request metrics
    models.py        request and response bodies (Pydantic)
    capabilities.py  what the agent answers, from the agent's own definitions
    report_files.py  past runs and their kept HTML/PDF files
    server.py        uvicorn, logging, workers, graceful SIGTERM
    static/          the web page (no framework, no CDN)
"""
