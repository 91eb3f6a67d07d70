"""The agent as a LangGraph ``StateGraph`` of small node functions (product.md §5).

    START ──> understand ──┬──> clarify ⟲ (interrupt: ask back, resume with the choice)
                           │       │
                           └───────┴──> plan ──┬──> execute ⟲ (one plan step per run)
                                               │       │
                                               └───────┴──> synthesize ──> respond ──> END

* ``understand`` (understand.py): rules first, the LLM only when unsure; names resolved against
  the source's real ones; a session's previous turn fills in a follow-up.
* ``clarify`` (clarify.py): ``interrupt()`` with the question and the real options; resumed
  with ``Command(resume=choice)`` it applies the choice and loops while issues remain.
* ``plan`` (plan.py): the tool calls that answer the intent, as steps of independent calls.
* ``execute`` (execute.py): the calls of one step concurrently in a thread pool; a step may add
  a follow-up step (a cluster drill-down continues into the namespace that moved most).
* ``synthesize`` (synthesize.py): figures → headline, details, notes, tables (``Answer``).
* ``respond`` (respond.py): the final answer, the conversation messages, ``last``.

Every node is a module-level function ``(state, config) -> dict`` over ``state.AgentState``;
the source, clock, LLM settings and catalogue come from ``config["configurable"]["deps"]``
(``agent.deps.AgentDeps``). ``build.compiled(checkpointer)`` is the compiled graph; callers go
through ``agent.ask`` (``ask``, ``answer_preset``, ``stream``).
"""
