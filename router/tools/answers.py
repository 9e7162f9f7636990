"""Answer equivalence: ask a model the same questions with plain text and through the router.

Read-back is a proxy; what users care about is whether their model answers the same. Questions with
known answers are built from the benchmark corpus:

- ``fact`` and ``identifier``: a sentence with a ticket number or a 16-digit hex key is planted at a
  seeded position in a prose document; the question asks for it back;
- ``table``: the value of one cell of a markdown table;
- ``code``: the default value of one parameter of a function in the code;
- ``json``: one field of one object; ``log``: the version a log line records.

Each question is asked twice: once as sent (plain text) and once routed. An answer is right when the
expected string appears in it (case, whitespace and quotes folded). The report gives accuracy, input
tokens (the backend's usage, and the router's estimate), cost and latency for each arm.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from router.integrations.completion import route_call
from router.tools.bench_corpus import Document

CITIES = ["Tallinn", "Porto", "Kraków", "Osaka", "Valparaíso", "Hobart", "Tromsø", "Nairobi"]
CITIES_ZH = ["杭州", "成都", "青岛", "昆明", "大连", "厦门", "兰州", "桂林"]
ONLY = "Reply with the value only."


class Question(BaseModel):
    id: str
    document: str
    kind: str
    question: str
    answer: str
    context: str


class Answer(BaseModel):
    question: str
    arm: str
    answer: str
    correct: bool
    usage_tokens: int | None
    estimated_tokens: int
    cost: float | None
    latency_ms: float
    error: str | None = None


def build_questions(documents: Sequence[Document], *, per_document: int = 2, seed: int = 7) -> list[Question]:
    rng = random.Random(seed)
    questions: list[Question] = []
    for document in documents:
        made = _questions_for(document, rng, per_document)
        questions += [q.model_copy(update={"id": f"{document.name}-{i}"}) for i, q in enumerate(made, 1)]
    return questions


def _questions_for(document: Document, rng: random.Random, count: int) -> list[Question]:
    def q(kind: str, question: str, answer: str, context: str = document.text) -> Question:
        return Question(id="", document=document.name, kind=kind, question=question, answer=answer, context=context)

    if document.kind in ("prose", "markdown"):
        text, out = document.text, []
        for i in range(count):
            if i % 2 == 0:
                ticket = f"MW-{rng.randint(10000, 99999)}"
                if document.script == "cjk":
                    city = rng.choice(CITIES_ZH)
                    fact = f"备注：{city}集群的维护窗口登记在工单 {ticket} 下。"
                    question = f"{city}集群的维护窗口登记在哪个工单下？只回答工单号。"
                else:
                    city = rng.choice(CITIES)
                    fact = f"For the record, the maintenance window for the {city} cluster is under ticket {ticket}."
                    question = f"Under which ticket is the maintenance window for the {city} cluster booked? {ONLY}"
                text, answer, kind = _plant(text, fact, rng), ticket, "fact"
            else:
                vault, key = rng.randint(2, 99), f"{rng.getrandbits(64):016x}"
                fact = f"The recovery key for vault {vault} is {key}."
                text, answer, kind = _plant(text, fact, rng), key, "identifier"
                question = f"What is the recovery key for vault {vault}? {ONLY}"
            out.append((kind, question, answer))
        return [q(kind, question, answer, text) for kind, question, answer in out]
    if document.kind == "table":
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in document.text.splitlines()]
        header, body = rows[0], [r for r in rows[2:] if len(r) == len(rows[0]) and r[2]]
        picks = rng.sample(body, min(count, len(body)))
        ask_cell = "In the table, what is the '{}' value of the row for {}? " + ONLY
        return [q("table", ask_cell.format(header[2], r[0]), r[2]) for r in picks]
    if document.kind == "code":
        defaults = re.findall(r"def (\w+)\(([^)]*)\)", document.text)
        pairs = [
            (function, *(side.strip() for side in param.split("=", 1)))
            for function, params in defaults
            for param in params.split(",")
            if "=" in param
        ]
        chosen_defaults: list[Any] = rng.sample(pairs, min(count, len(pairs)))
        ask_default = "In the code, what is the default value of the parameter `{}` of `{}`? " + ONLY
        return [q("code", ask_default.format(p, f), v) for f, p, v in chosen_defaults]
    if document.kind == "json":
        found = re.findall(r'^  "([^"]+)": \{\n(?:.*\n)*?    "max_input_tokens": (\d+)', document.text, re.MULTILINE)
        chosen_fields: list[Any] = rng.sample(found, min(count, len(found)))
        return [q("json", f'In the JSON, what is max_input_tokens for "{m}"? {ONLY}', v) for m, v in chosen_fields]
    if document.kind == "log":
        found = re.findall(r" status installed ([^\s:]+)(?::\S+)? (\S+)$", document.text, re.MULTILINE)
        versions: dict[str, set[str]] = {}
        for package, version in found:
            versions.setdefault(package, set()).add(version)
        unique = sorted((p, v.pop()) for p, v in versions.items() if len(v) == 1)  # one answer, not several
        chosen_versions: list[Any] = rng.sample(unique, min(count, len(unique)))
        ask_version = "Which version of the package {} does the log show as installed? " + ONLY
        return [q("log", ask_version.format(p), v) for p, v in chosen_versions]
    return []


def _plant(text: str, sentence: str, rng: random.Random) -> str:
    """Insert ``sentence`` as its own paragraph at a random paragraph break (never the first or last)."""
    breaks = [m.end() for m in re.finditer(r"\n\s*\n", text)]
    at = rng.choice(breaks[1:-1] or breaks or [len(text)])
    return text[:at] + sentence + "\n\n" + text[at:]


def _folded(text: str) -> str:
    return re.sub(r"[\s'\"`*]", "", text).casefold()


def ask(question: Question, model: str, *, router: Any, **kwargs: Any) -> list[Answer]:
    """One question on both arms: as plain text, then as routed. The request is routed once; the
    routed arm sends exactly what ``Router.completion`` would. Errors are recorded, never raised."""
    from router._litellm import litellm

    messages = [{"role": "user", "content": question.context}, {"role": "user", "content": question.question}]
    as_text = {**kwargs, "model": model, "messages": messages}
    as_routed, routed = route_call(router, as_text)
    arms = (("text", as_text, routed.report.tokens_before), ("routed", as_routed, routed.report.tokens_after))
    answers = []
    for arm, call, estimate in arms:
        started = time.perf_counter()
        try:
            response = litellm.completion(**call)
        except Exception as exc:  # a backend error is a result here: the arm failed this question
            answers.append(
                Answer(
                    question=question.id, arm=arm, answer="", correct=False, usage_tokens=None,
                    estimated_tokens=estimate, cost=None, latency_ms=(time.perf_counter() - started) * 1000,
                    error=f"{type(exc).__name__}: {exc}"[:300],
                )
            )  # fmt: skip
            continue
        latency = (time.perf_counter() - started) * 1000
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        try:
            cost: float | None = float(litellm.completion_cost(completion_response=response))
        except Exception:  # unknown models have no price in litellm's map
            cost = None
        answers.append(
            Answer(
                question=question.id, arm=arm, answer=text.strip()[:200],
                correct=_folded(question.answer) in _folded(text),
                usage_tokens=getattr(usage, "prompt_tokens", None) if usage else None,
                estimated_tokens=estimate, cost=cost, latency_ms=latency,
            )
        )  # fmt: skip
    return answers


def run_answers(
    documents: Sequence[Document], model: str, *, router: Any, per_document: int = 2, **kwargs: Any
) -> dict[str, Any]:
    """Ask every question on both arms; the per-question answers and a summary per arm."""
    questions = build_questions(documents, per_document=per_document)
    answers = [answer for q in questions for answer in ask(q, model, router=router, **kwargs)]
    summary = {}
    for arm in ("text", "routed"):
        mine = [a for a in answers if a.arm == arm]
        costs = [a.cost for a in mine if a.cost is not None]
        usage = [a.usage_tokens for a in mine if a.usage_tokens is not None]
        summary[arm] = {
            "accuracy": sum(a.correct for a in mine) / len(mine) if mine else 0.0,
            "correct": sum(a.correct for a in mine),
            "questions": len(mine),
            "errors": sum(a.error is not None for a in mine),
            "usage_tokens": sum(usage) if usage else None,
            "estimated_tokens": sum(a.estimated_tokens for a in mine),
            "cost": sum(costs) if costs else None,
            "latency_ms_p50": statistics.median(a.latency_ms for a in mine) if mine else 0.0,
        }
    return {
        "model": model,
        "summary": summary,
        "questions": [q.model_dump(exclude={"context"}) for q in questions],
        "answers": [a.model_dump() for a in answers],
    }


def answers_markdown(report: dict[str, Any]) -> list[str]:
    lines = [
        f"Answer equivalence on `{report['model']}` ({len(report['questions'])} questions, each asked as text"
        " and routed):",
        "",
        "| arm | accuracy | input tokens (backend) | input tokens (estimate) | cost (USD) | p50 latency ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, s in report["summary"].items():
        usage = f"{s['usage_tokens']:,}" if s["usage_tokens"] is not None else "–"
        cost = f"{s['cost']:.4f}" if s["cost"] is not None else "–"
        lines.append(
            f"| {arm} | {s['correct']}/{s['questions']} ({s['accuracy']:.0%}) | {usage} | {s['estimated_tokens']:,} |"
            f" {cost} | {s['latency_ms_p50']:.0f} | {s['errors']} |"
        )
    return lines
