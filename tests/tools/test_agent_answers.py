"""Exact strings from old tool results, measured on every arm against a local model that reads.

The local model reads text as it is and pages by OCR (RapidOCR), like ``tests/tools/test_bench.py``'s
reader, and behaves as a careful model would: it reads the pages in order until it finds the
artefact's line (OCR is the slow part of the suite: reading all five pages first took 165 s, this 62-90 s),
takes the id it read next to the artefact's name, prefers an exact string from a factsheet when one is
within a few characters of it, and, when the recall tool is offered, asks it before answering.
"""

from __future__ import annotations

import json
import re

from rapidfuzz.distance import Levenshtein

from router.integrations.recall import RECALL_TOOL_NAME
from router.testing import OpenAIBackend, ToolCalls
from router.tools.agent_answers import AGENT_ARMS, agent_answers_markdown, agent_questions, run_agent_answers
from tests.tools.test_bench import LOCAL_MODEL, local_policy, read_png, sent_parts


def careful_reader(body: dict) -> str | ToolCalls:
    messages = body["messages"]
    question = (
        messages[-1]["content"]
        if messages[-1]["role"] == "user"
        else next(m["content"] for m in reversed(messages) if m["role"] == "user" and isinstance(m["content"], str))
    )
    artefact = re.search(r"build id for ([\w-]+)", question).group(1)
    texts, pngs = sent_parts(body)
    text = "\n".join(texts)
    wanted = rf"build id for {re.escape(artefact)}: ?([0-9a-f]{{40}})"
    if found := re.search(wanted, text):  # in text: the plain arm, or what the recall tool returned
        return found.group(1)
    offered = [t["function"]["name"] for t in body.get("tools") or []]
    if RECALL_TOOL_NAME in offered:
        ids = sorted(set(re.findall(r"#([0-9a-f]{10}) of \w+ rendered as an image", text)))
        return ToolCalls([(f"r{n}", RECALL_TOOL_NAME, {"chunk": i, "search": artefact}) for n, i in enumerate(ids)])
    read = None
    pages: list[str] = []
    for png in pngs:  # page by page, as a reader would, until the artefact's line is found
        pages.append(read_png(png))
        seen = re.sub(r"\s*[↪→⤷]\s*", "", "\n".join(pages))  # wrapped lines joined again
        if read := re.search(rf"build\s*id\s*for\s*{re.escape(artefact)}\s*:?\s*([0-9a-zA-Z\s]{{40,60}})", seen, re.I):
            break
    if read is None:
        return "I cannot find it."
    guess = re.sub(r"\s", "", read.group(1))[:40]
    listed = re.findall(r"^[0-9a-f]{40}$", text, re.MULTILINE)  # factsheet lines
    exact = [s for s in listed if Levenshtein.distance(s, guess) <= 6]
    return exact[0] if exact else guess


def test_questions_are_planted_in_answered_results() -> None:
    messages, questions = agent_questions(2, max_chars=6000)
    body = json.dumps(messages)
    assert len(questions) == 2 and all(q.answer in body for q in questions)
    assert agent_questions(2, max_chars=6000)[1] == questions  # seeded


def test_every_arm_through_litellm() -> None:
    with OpenAIBackend(responder=careful_reader) as reader:
        report = run_agent_answers(
            LOCAL_MODEL, policy=local_policy(), count=2, max_chars=6000, api_base=reader.url + "/v1", api_key="local"
        )
    summary = report["summary"]
    assert list(summary) == list(AGENT_ARMS) and all(s["errors"] == 0 for s in summary.values())
    assert summary["text"]["correct"] == 2
    # Pages alone and with the factsheet: measured, whatever OCR makes of the ids; the factsheet can
    # only turn a near miss into the exact string, never lose one.
    assert summary["images+factsheet"]["correct"] >= summary["images"]["correct"]
    recall = summary["images+factsheet+recall"]
    assert recall["correct"] == 2 and recall["recall_rounds"] >= 1  # ids not in text are asked for
    for arm in AGENT_ARMS[1:]:
        assert summary[arm]["estimated_tokens"] < summary["text"]["estimated_tokens"]
    assert "| images+factsheet+recall | 2/2 |" in "\n".join(agent_answers_markdown(report))
