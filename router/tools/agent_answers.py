"""Exact strings in an agent session: can the model copy a hash from an old tool result?

A coding agent's history (``router.tools.agent_session``, the final turn, every earlier result
answered and so drawn as pages) gets build ids planted as log lines: a 40-hex id per artefact, in
dpkg's log and as comments in the Python module the agent read. Each question asks for one id back,
exactly. Every question is asked on four arms, the same session each time:

- ``text``: as the agent sent it, no routing;
- ``images``: routed, factsheets off and no recall tool: the model must read the id off the pages;
- ``images+factsheet``: routed with the default factsheet beside the pages;
- ``images+factsheet+recall``: and the ``hcr_recall`` tool, answered by the router.

An answer is right when it holds the id exactly. The report gives accuracy, input tokens (backend
usage, and the router's estimate), recall rounds and latency per arm.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from pydantic import BaseModel

from router.core import Router
from router.integrations.completion import get_report
from router.policy import Policy
from router.tools.agent_session import session_requests

__all__ = ["AGENT_ARMS", "AgentQuestion", "agent_answers_markdown", "agent_questions", "run_agent_answers"]

AGENT_ARMS = ("text", "images", "images+factsheet", "images+factsheet+recall")
ARTEFACTS = ["api-gateway", "billing-worker", "search-indexer", "auth-service", "report-builder", "cache-warmer"]


class AgentQuestion(BaseModel):
    id: str
    question: str
    answer: str


def agent_questions(count: int = 3, *, seed: int = 7, max_chars: int = 12000) -> tuple[list[Any], list[AgentQuestion]]:
    """The session's messages with ``count`` build ids planted in its answered tool results, and the questions."""
    rng = random.Random(seed)
    messages = session_requests("openai", max_chars=max_chars)[-1]["messages"]
    results = [i for i, m in enumerate(messages) if m["role"] == "tool"][:-1]  # answered ones only
    questions = []
    for n, artefact in enumerate(rng.sample(ARTEFACTS, min(count, len(ARTEFACTS)))):
        build_id = f"{rng.getrandbits(160):040x}"
        at = results[n % len(results)]
        lines = messages[at]["content"].split("\n")
        marker = "# " if messages[at - 1]["tool_calls"][0]["function"]["name"] == "read_file" else ""
        lines.insert(rng.randint(len(lines) // 4, 3 * len(lines) // 4), f"{marker}build id for {artefact}: {build_id}")
        messages[at] = {**messages[at], "content": "\n".join(lines)}
        question = f"What is the build id for {artefact}, as recorded in the tool output? Reply with the id only."
        questions.append(AgentQuestion(id=f"agent-{n + 1}", question=question, answer=build_id))
    return messages, questions


def _router_for(arm: str, policy: Policy) -> Router | None:
    if arm == "text":
        return None
    exact = policy.exact.model_copy(update={"factsheet": arm != "images"})
    return Router(policy.model_copy(update={"exact": exact, "recall": arm.endswith("recall")}))


def run_agent_answers(
    model: str, *, policy: Policy, count: int = 3, max_chars: int = 12000, **kwargs: Any
) -> dict[str, Any]:
    """Ask every question on every arm; errors are recorded as wrong answers, never raised."""
    from router._litellm import litellm

    messages, questions = agent_questions(count, max_chars=max_chars)
    as_text = Router(policy).route([*messages, {"role": "user", "content": questions[0].question}], model)
    rows: list[dict[str, Any]] = []
    for arm in AGENT_ARMS:
        router = _router_for(arm, policy)
        for question in questions:
            call = {**kwargs, "model": model, "messages": [*messages, {"role": "user", "content": question.question}]}
            started = time.perf_counter()
            row: dict[str, Any] = {"arm": arm, "question": question.id, "answer": "", "correct": False}
            if router is None:
                row["estimated_tokens"] = as_text.report.tokens_before  # the same count, unrouted
            try:
                response = router.completion(**call) if router else litellm.completion(**call)
            except Exception as exc:  # a failed call is a result here
                row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            else:
                text = response.choices[0].message.content or ""
                report = get_report(response)
                usage = getattr(response, "usage", None)
                row |= {
                    "answer": text.strip()[:200],
                    "correct": question.answer in text,
                    "usage_tokens": getattr(usage, "prompt_tokens", None),
                    "estimated_tokens": report.tokens_after if report else row.get("estimated_tokens"),
                    "recall_rounds": report.recall_rounds if report else 0,
                }
            row["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
            rows.append(row)
    summary = {}
    for arm in AGENT_ARMS:
        mine = [r for r in rows if r["arm"] == arm]
        estimated = [r["estimated_tokens"] for r in mine if r.get("estimated_tokens") is not None]
        usage = [r["usage_tokens"] for r in mine if r.get("usage_tokens") is not None]
        summary[arm] = {
            "correct": sum(r["correct"] for r in mine),
            "questions": len(mine),
            "errors": sum("error" in r for r in mine),
            "usage_tokens": sum(usage) if usage else None,
            "estimated_tokens": sum(estimated) if estimated else None,
            "recall_rounds": sum(r.get("recall_rounds", 0) for r in mine),
            "latency_ms_p50": statistics.median(r["latency_ms"] for r in mine) if mine else 0.0,
        }
    return {"model": model, "summary": summary, "questions": [q.model_dump() for q in questions], "answers": rows}


def agent_answers_markdown(report: dict[str, Any]) -> list[str]:
    lines = [
        f"Exact strings from old tool results on `{report['model']}` ({len(report['questions'])} build ids, "
        "each asked on every arm):",
        "",
        "| arm | exact | input tokens (backend) | input tokens (estimate) | recall rounds | p50 latency ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, s in report["summary"].items():
        usage = f"{s['usage_tokens']:,}" if s["usage_tokens"] is not None else "–"
        estimate = f"{s['estimated_tokens']:,}" if s["estimated_tokens"] is not None else "–"
        lines.append(
            f"| {arm} | {s['correct']}/{s['questions']} | {usage} | {estimate} | {s['recall_rounds']} |"
            f" {s['latency_ms_p50']:.0f} | {s['errors']} |"
        )
    return lines
