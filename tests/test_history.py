"""History blocks: a long chat of short turns is drawn in blocks of closed turns, cut once, resent as is."""

from __future__ import annotations

import json

import pytest

from router import Policy, Router
from router.history import HistorySettings
from tests.conftest import GPL


@pytest.fixture(scope="module")
def chat() -> list[dict]:
    """Thirty short turns about GPL clauses: every message under min_tokens on its own."""
    paragraphs = [p.strip() for p in GPL.read_text(encoding="utf-8").split("\n\n") if 100 < len(p.strip()) < 900]
    messages: list[dict] = [{"role": "system", "content": "You are a licensing assistant."}]
    for n in range(30):
        messages.append({"role": "user", "content": f"Question {n}: what does this clause mean?\n\n{paragraphs[n]}"})
        messages.append({"role": "assistant", "content": f"It means: {paragraphs[n + 40][:400]}"})
    return messages


def turn(chat: list[dict], n: int) -> list[dict]:
    """The request of the ``n``-th user turn: everything before it, and its question."""
    return chat[: 2 * n]


def test_closed_turns_become_one_user_message_of_pages(chat: list[dict]) -> None:
    request = turn(chat, 26)
    routed = Router().route(request, model="gpt-4o")
    blocks = [c for c in routed.report.chunks if c.kind == "history"]
    assert blocks and blocks[0].action == "image" and blocks[0].text_tokens >= 2000
    assert blocks[0].reason.startswith("rule:history") and routed.report.tokens_after < routed.report.tokens_before
    sent = routed.messages
    assert sent[0] == request[0] and len(sent) < len(request)
    block = sent[1]
    assert block["role"] == "user" and block["content"][0]["text"].startswith("[Context #")
    assert "history" in block["content"][0]["text"] and any(p["type"] == "image_url" for p in block["content"])
    assert sent[-3:] == request[-3:]  # the newest turns stay as they were
    after = blocks[0].message_index + blocks[0].messages  # the first message the block did not fold
    assert request[after - 1]["role"] == "assistant" and sent[2] == request[after]


def test_blocks_are_cut_once_and_resent_byte_identical(chat: list[dict]) -> None:
    router = Router()
    previous: list | None = None
    changed_at: list[int] = []
    for n in range(24, 31):
        sent = router.route(turn(chat, n), model="gpt-4o").messages
        if previous is not None:
            stable = next((i for i, (a, b) in enumerate(zip(previous, sent, strict=False)) if a != b), len(previous))
            if stable < len(previous):
                changed_at.append(n)
        previous = sent
    assert len(changed_at) <= 1  # only when a second block is cut


def test_tool_turns_and_recent_turns_stay_out_of_blocks(chat: list[dict]) -> None:
    request = json.loads(json.dumps(turn(chat, 26)))
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    request[10] = {**request[10], "tool_calls": [call]}
    request.insert(11, {"role": "tool", "tool_call_id": "call_1", "content": "found"})
    routed = Router().route(request, model="gpt-4o")
    for chunk in routed.report.chunks:
        if chunk.kind == "history":
            assert not chunk.message_index <= 10 < chunk.message_index + chunk.messages  # never across the call
    assert any(m.get("tool_calls") == [call] for m in routed.messages)
    assert routed.messages[-1] == request[-1]


def test_off_without_vision_or_when_disabled(chat: list[dict]) -> None:
    off = Policy.builtin("default").model_copy(update={"history": HistorySettings(block_tokens=0)})
    assert all(c.kind != "history" for c in Router(off).route(turn(chat, 26), model="gpt-4o").report.chunks)
    routed = Router().route(turn(chat, 26), model="gpt-3.5-turbo")
    assert routed.messages == turn(chat, 26) and all(c.kind != "history" for c in routed.report.chunks)
