"""Agent sessions: tool results and history are routed, ids stay paired, earlier turns keep their bytes.

The sessions are built from real files on this machine (``router.tools.agent_session``): a CPython
module, dpkg's log, a package README, litellm's price map, a stdlib diff and the GPL.
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from router import Policy, Router
from router.models import ChunkReport, RoutedRequest
from router.tools.agent_session import session_requests

MAX_CHARS = 9000  # each tool result: a few pages, enough to pay for its images


@pytest.fixture(scope="module")
def openai_turns() -> list[dict]:
    return session_requests("openai", max_chars=MAX_CHARS)


@pytest.fixture(scope="module")
def anthropic_turns() -> list[dict]:
    return session_requests("anthropic", max_chars=MAX_CHARS)


def images_of(content: object) -> list[str]:
    """Every image payload in a content value, at any depth (tool results nest theirs)."""
    text = json.dumps(content)
    return re.findall(r'"(?:url|data)": "((?:data:image/png;base64,)?iVBOR[^"]+)"', text)


def test_openai_tool_results_are_imaged_after_their_batch(openai_turns: list[dict]) -> None:
    messages = openai_turns[3]["messages"]
    original = copy.deepcopy(messages)
    routed = Router().route(messages, model="gpt-4o")
    assert messages == original  # the caller's request is not modified
    report = {c.message_index: c for c in routed.report.chunks if c.role == "tool"}
    answered = [i for i, c in report.items() if c.action == "image"]
    assert answered and all(report[i].tool_name for i in answered)
    newest = max(report)
    assert report[newest].action == "text" and report[newest].reason == "rule:unanswered-tool-results"

    sent = routed.messages
    calls = {c["id"] for m in sent if m["role"] == "assistant" for c in m.get("tool_calls") or []}
    for n, message in enumerate(sent):
        if message["role"] == "tool":  # every result follows its call's assistant turn or another result
            assert message["tool_call_id"] in calls and sent[n - 1]["role"] in ("assistant", "tool")
            assert isinstance(message["content"], str) and not images_of(message["content"])
    stubs = [m for m in sent if m["role"] == "tool" and m["content"].startswith("[Tool result #")]
    assert len(stubs) == len(answered)
    carriers = [n for n, m in enumerate(sent) if m["role"] == "user" and images_of(m["content"])]
    assert len(carriers) == len(answered)  # one user message after each batch, right after it
    for n in carriers:
        assert sent[n - 1]["role"] == "tool" and sent[n + 1]["role"] == "assistant"
        label = sent[n]["content"][0]["text"]
        chunk_id = re.match(r"\[Tool result #([0-9a-f]{10}) of (\w+) rendered as an image", label)
        assert chunk_id and f"#{chunk_id.group(1)}" in sent[n - 1]["content"]
    assert sent[-1] == messages[-1]  # the newest result, unanswered, is untouched


def test_anthropic_tool_results_hold_their_pages(anthropic_turns: list[dict]) -> None:
    request = copy.deepcopy(anthropic_turns[2])
    log_result = request["messages"][4]["content"][0]  # dpkg's log, read with bash and answered since
    log_result["cache_control"] = {"type": "ephemeral"}
    log_result["is_error"] = False
    # The caller marked the log as a cached prefix: on Claude (reads at 0.1x) it stays text, since
    # drawing it would rewrite the cache from there (router.cache_gate) ...
    kept = Router().route(request["messages"], model="claude-sonnet-4-6", system=request["system"], wire="anthropic")
    gated = [c for c in kept.report.chunks if c.role == "tool"][1]
    assert gated.action == "text" and gated.reason.startswith("guard:cache:") and gated.cache.startswith("kept warm")
    assert kept.messages[4] is request["messages"][4]
    # ... and without the cache counted, the pages go inside the tool_result, the marker kept.
    uncached = Policy.builtin("default").model_copy(update={"cache": {"aware": False}})
    routed = Router(Policy.model_validate(uncached.model_dump())).route(
        request["messages"], model="claude-sonnet-4-6", system=request["system"], wire="anthropic"
    )
    assert routed.system == request["system"]
    block = routed.messages[4]["content"][0]
    assert block["type"] == "tool_result" and block["tool_use_id"] == "toolu_1"
    assert block["cache_control"] == {"type": "ephemeral"} and block["is_error"] is False
    kinds = [b["type"] for b in block["content"]]
    assert kinds[0] == "text" and kinds.count("image") >= 1
    assert block["content"][0]["text"].startswith("[Tool result #") and " of bash " in block["content"][0]["text"]
    assert len(routed.messages) == len(request["messages"])  # nothing inserted: Anthropic takes images here
    tool_chunks = [c for c in routed.report.chunks if c.role == "tool"]
    assert tool_chunks[1].action == "image" and tool_chunks[-1].action == "text"
    assert sum(c.text_tokens for c in tool_chunks) > 4000  # counted, not 6 tokens


def test_block_list_results_keep_their_other_blocks(anthropic_turns: list[dict]) -> None:
    request = copy.deepcopy(anthropic_turns[2])
    result = request["messages"][4]["content"][0]
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="
    screenshot = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
    result["content"] = [{"type": "text", "text": result["content"]}, screenshot]
    routed = Router().route(request["messages"], model="claude-sonnet-4-6", system=request["system"], wire="anthropic")
    content = routed.messages[4]["content"][0]["content"]
    assert content[-1] == screenshot and len(images_of(content)) > 1


def test_three_turns_keep_every_earlier_image_byte_identical(openai_turns: list[dict]) -> None:
    router = Router()
    seen: dict[str, list[str]] = {}  # chunk id -> its image data URLs
    previous_prefix: list | None = None
    for request in openai_turns[2:5]:
        routed = router.route(request["messages"], model="gpt-4o")
        for message in routed.messages:
            if message["role"] == "user" and isinstance(message["content"], list):
                label = message["content"][0]["text"]
                chunk_id = re.search(r"#([0-9a-f]{10})", label).group(1)
                urls = images_of(message["content"])
                assert seen.setdefault(chunk_id, urls) == urls, f"#{chunk_id} changed between turns"
        if previous_prefix is not None:
            # Everything the previous request sent, up to its newest (then unanswered) result, is resent as is.
            stable = previous_prefix[:-1]
            assert routed.messages[: len(stable)] == stable
        previous_prefix = routed.messages
    assert len(seen) >= 2


def test_an_image_stays_an_image_when_its_position_would_say_text(english_prose: str) -> None:
    policy = Policy.from_yaml_text(
        "rules:\n  - {name: recent, when: {max_age: 2}, action: image}\n  - {name: rest, action: text}\n"
    )
    router = Router(policy)
    messages = [{"role": "user", "content": english_prose}, {"role": "assistant", "content": "Read."}]

    def document(routed: RoutedRequest) -> ChunkReport:
        return max(routed.report.chunks, key=lambda c: c.text_tokens)

    first = router.route([*messages, {"role": "user", "content": "Summarise."}], model="gpt-4o")
    assert document(first).action == "image"
    later = [*messages, {"role": "user", "content": "Summarise."}, {"role": "assistant", "content": "Done."}]
    second = router.route([*later, {"role": "user", "content": "Thanks."}], model="gpt-4o")
    assert document(second).action == "image" and second.messages[0] == first.messages[0]
    fresh = Router(policy).route([*later, {"role": "user", "content": "Thanks."}], model="gpt-4o")
    assert document(fresh).reason == "rule:rest"  # the rule alone would have flipped it


SECRETS = {
    "private key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n",
    "AWS access key": "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
    "password": 'DATABASE_PASSWORD="hunter2-correct-horse"\n',
}


@pytest.mark.parametrize("what", sorted(SECRETS))
def test_a_tool_result_holding_a_secret_stays_text(openai_turns: list[dict], what: str) -> None:
    messages = copy.deepcopy(openai_turns[2]["messages"])
    messages[3]["content"] = messages[3]["content"][:4000] + SECRETS[what] + messages[3]["content"][4000:]
    routed = Router().route(messages, model="gpt-4o")
    chunk = next(c for c in routed.report.chunks if c.message_index == 3)
    assert chunk.action == "text" and chunk.reason.startswith(f"guard:secret: looks like it holds a {what}")
    assert routed.messages[3] == messages[3]


def test_a_planted_hash_is_in_the_factsheet(openai_turns: list[dict]) -> None:
    messages = copy.deepcopy(openai_turns[2]["messages"])
    planted = "commit 3f9ab2c41d7e6f0a5b8c9d2e1f4a7b6c5d8e9f01 fixed the parser\n"
    messages[5]["content"] = messages[5]["content"][:3000] + planted + messages[5]["content"][3000:]
    routed = Router().route(messages, model="gpt-4o")
    chunk = next(c for c in routed.report.chunks if c.message_index == 5)
    assert chunk.action == "image" and chunk.factsheet_tokens > 0
    stub = next(m for m in routed.messages if m.get("tool_call_id") == "call_1")["content"]
    facts = stub.split("\n", 1)[1] if "\n" in stub else ""
    assert f"[Exact strings in #{chunk.id}" in stub and "3f9ab2c41d7e6f0a5b8c9d2e1f4a7b6c5d8e9f01" in facts
    assert facts.index("3f9ab2c41d7e6f0a5b8c9d2e1f4a7b6c5d8e9f01") < 200  # hashes are ranked first


def test_results_of_calls_it_cannot_see_pass_unchanged(openai_turns: list[dict]) -> None:
    messages = copy.deepcopy(openai_turns[2]["messages"])
    messages[3]["tool_call_id"] = "call_nobody_made"
    routed = Router().route(messages, model="gpt-4o")
    assert routed.messages[3] is messages[3] or routed.messages[3] == messages[3]
    assert all(c.message_index != 3 for c in routed.report.chunks)


def test_a_file_read_is_that_file(openai_turns: list[dict]) -> None:
    routed = Router().route(openai_turns[1]["messages"], model="gpt-4o")
    first = next(c for c in routed.report.chunks if c.tool_name == "read_file")
    assert first.kind == "code"  # read_file of Lib/argparse.py, whatever its first lines look like
