"""The ``respond`` node: close the turn — the final ``Answer``, and the conversation kept.

The thread's ``messages`` get the question (``HumanMessage``), any question asked back and the
choice given, and the headline (``AIMessage``), each with its timestamp in
``additional_kwargs["timestamp"]``; ``last`` becomes this turn's understanding, which the next
question of a session may follow up on. ``agent.sessions`` lists conversations from these.
"""

from __future__ import annotations

from dataclasses import replace

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from agent.graph.state import AgentState, wall_clock


def respond(state: AgentState, config: RunnableConfig) -> dict:
    u = state["understanding"]
    answer = replace(state["answer"], warnings=list(state.get("warnings") or []),
                     data_collected=list(state.get("data_collected") or []),
                     llm_calls=state.get("llm_calls") or 0)
    asked, now = state.get("asked_at") or wall_clock(), wall_clock()
    messages = [HumanMessage(state.get("question") or "", additional_kwargs={"timestamp": asked})]
    for c in state.get("clarifications") or []:
        messages += [AIMessage(c["question"], additional_kwargs={"timestamp": asked}),
                     HumanMessage(c["answer"], additional_kwargs={"timestamp": now})]
    messages.append(AIMessage(answer.headline, additional_kwargs={"timestamp": now,
                                                                  "intent": answer.intent}))
    return {"answer": answer, "last": u, "messages": messages}
