"""Router.route end to end: mixed prompt shape, pass-through, fallbacks, guards and limits."""

from __future__ import annotations

import json
import re

import pytest

from router import InvalidRequestError, Policy, Router, UnsafeURLError
from router.fidelity.guard import FidelitySettings
from router.models import Rendering, RoutedRequest
from router.prompt import SYSTEM_POINTER
from router.providers.geometry import EncoderProfile, get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import Density, get_density
from router.route_chunk import largest_at_the_same_price


@pytest.fixture(scope="module")
def router() -> Router:
    return Router()


def image_parts(content: object) -> list[dict]:
    return (
        [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
        if isinstance(content, list)
        else []
    )


def test_document_is_rendered_and_the_question_stays_text(router: Router, english_prose: str) -> None:
    question = "Which freedoms does the preamble list?"
    messages = [{"role": "user", "content": f"Read this:\n\n{english_prose}\n\n{question}"}]
    routed = router.route(messages, model="claude-sonnet-4-6")
    content = routed.messages[0]["content"]
    assert [p["type"] for p in content][:2] == ["text", "text"]
    # Text chunks keep their exact text; the short opening paragraph stays text with "Read this:".
    assert content[0]["text"].startswith("Read this:\n\nThe GNU General Public License is a free")
    assert content[1]["text"].startswith("[Context #") and " rendered as an image: " in content[1]["text"]
    assert content[-1]["type"] == "text" and content[-1]["text"].endswith("\n\n" + question)
    images = image_parts(content)
    assert images and all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in images)
    report = routed.report
    assert report.encoder == "anthropic" and report.images == len(images)
    assert report.tokens_after < report.tokens_before
    assert report.cost_after is not None and report.cost_before is not None and report.cost_after < report.cost_before
    rendered = [c for c in report.chunks if c.action == "image"]
    assert len(rendered) == 1 and rendered[0].reason.startswith("rule:") and rendered[0].pages == len(images)
    assert routed.pages[rendered[0].index]


def test_openai_parts_ask_for_high_detail(router: Router, english_prose: str) -> None:
    messages = [{"role": "user", "content": english_prose}, {"role": "user", "content": "Summarise it."}]
    routed = router.route(messages, model="gpt-4o")
    assert {p["image_url"].get("detail") for p in image_parts(routed.messages[0]["content"])} == {"high"}


def test_text_only_model_gets_the_request_unchanged(router: Router, english_prose: str) -> None:
    messages = [{"role": "system", "content": english_prose}, {"role": "user", "content": english_prose + "\n\nOk?"}]
    routed = router.route(messages, model="gpt-3.5-turbo")
    assert all(a is b for a, b in zip(routed.messages, messages, strict=True))
    assert routed.report.tokens_after == routed.report.tokens_before and routed.report.images == 0
    assert {c.reason for c in routed.report.chunks if c.text_tokens >= 600} == {
        "guard:no-vision: the backend does not accept images"
    }


def test_text_only_policy_passes_everything(english_prose: str) -> None:
    messages = [{"role": "user", "content": english_prose * 3}]
    routed = Router(Policy.builtin("text-only")).route(messages, model="gpt-4o")
    assert routed.messages[0] is messages[0]


def test_render_failure_sends_the_chunk_as_text(router: Router, english_prose: str) -> None:
    middle = len(english_prose) // 2
    lone_surrogate = json.loads('"\\ud800"')  # as JSON allows
    broken = english_prose[:middle] + lone_surrogate + english_prose[middle:]
    messages = [{"role": "user", "content": broken + "\n\nSummarise."}]
    routed = router.route(messages, model="claude-sonnet-4-6")
    failed = [c for c in routed.report.chunks if c.reason.startswith("guard:render-failed")]
    assert failed and failed[0].action == "text"
    assert routed.messages[0] is messages[0]  # nothing dropped: the message goes as it came


def test_system_context_moves_into_the_first_user_message(router: Router, markdown_table: str) -> None:
    system = "You answer from the table.\n\n" + markdown_table * 3
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "What does 404 mean?"},
    ]
    routed = router.route(messages, model="gpt-4o")
    assert routed.messages[0]["role"] == "system" and isinstance(routed.messages[0]["content"], str)
    assert routed.messages[0]["content"].startswith("You answer from the table.")
    assert SYSTEM_POINTER in routed.messages[0]["content"]
    first_user = routed.messages[1]["content"]
    assert re.match(r"\[System context #[0-9a-f]{10} rendered as an image: table", first_user[0]["text"])
    assert image_parts(first_user) and first_user[-1] == {"type": "text", "text": "Hi"}
    assert routed.messages[2:] == messages[2:]


def test_system_context_stays_text_without_a_user_message(router: Router, markdown_table: str) -> None:
    messages = [{"role": "system", "content": markdown_table * 4}]
    routed = router.route(messages, model="gpt-4o")
    assert routed.messages[0] is messages[0]
    assert any(c.reason.startswith("guard:no-user-message") for c in routed.report.chunks)


def test_assistant_turns_and_unanswered_tool_results_stay_text(router: Router, english_prose: str) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "read", "arguments": '{"path": "LICENSE"}'}}
    messages = [
        {"role": "user", "content": "Read the licence."},
        {"role": "assistant", "content": english_prose, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": english_prose * 2},
        {"role": "user", "content": "Summarise it."},
    ]
    routed = router.route(messages, model="gpt-4o")
    assert routed.messages == messages
    reasons = {c.role: c.reason for c in routed.report.chunks if c.text_tokens > 600}
    assert reasons["assistant"].startswith("guard:role") and reasons["tool"] == "rule:unanswered-tool-results"


def test_small_gain_is_refused_by_min_saving(english_prose: str) -> None:
    policy = Policy.from_yaml_text("min_tokens: 0\nmin_saving: 50\nrules:\n  - {name: all, action: image}\n")
    routed = Router(policy).route([{"role": "user", "content": english_prose}], model="claude-sonnet-4-6")
    chunk = routed.report.chunks[0]
    assert chunk.action == "text" and chunk.reason.startswith("guard:min-saving") and chunk.image_tokens > 0
    assert routed.report.tokens_after == routed.report.tokens_before


def test_image_limit_sends_the_least_saving_chunks_back_to_text(english_prose: str) -> None:
    policy = Policy.from_yaml_text(
        "max_images: 1\nmin_tokens: 0\nmin_saving: 1.01\nrules:\n  - {name: all, action: image}\n"
    )
    messages = [
        {"role": "user", "content": english_prose * 6},
        {"role": "user", "content": english_prose[:1500]},
    ]
    routed = Router(policy).route(messages, model="gpt-4o")
    assert routed.report.images <= 1
    limited = [c for c in routed.report.chunks if c.reason.startswith("guard:image-limit")]
    assert limited and all(c.action == "text" for c in limited)
    assert "at most 1 images" in limited[0].reason


def test_cache_control_marker_moves_to_the_last_replacing_part(router: Router, english_prose: str) -> None:
    marker = {"type": "ephemeral"}
    messages = [{"role": "user", "content": [{"type": "text", "text": english_prose * 2, "cache_control": marker}]}]
    routed = router.route(messages, model="claude-sonnet-4-6")
    content = routed.messages[0]["content"]
    assert content[-1]["cache_control"] == marker
    assert sum("cache_control" in p for p in content) == 1


def test_remote_image_urls_are_refused_where_litellm_would_fetch_them(router: Router) -> None:
    messages = [
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/internal.png"}},
        ]}
    ]  # fmt: skip
    with pytest.raises(UnsafeURLError) as caught:
        router.route(messages, model="claude-sonnet-4-6")
    assert caught.value.location == "messages[0].content[1].image_url.url"
    assert router.route(messages, model="gpt-4o").messages[0] is messages[0]  # OpenAI fetches URLs itself


def test_bad_requests_are_named(router: Router) -> None:
    with pytest.raises(InvalidRequestError, match=r"^model:"):
        router.route([{"role": "user", "content": "hi"}], model="")
    with pytest.raises(InvalidRequestError, match=r"^messages\[0\]\.role:"):
        router.route([{"role": "robot", "content": "hi"}], model="gpt-4o")
    with pytest.raises(InvalidRequestError, match=r"^messages:"):
        router.completion(model="gpt-4o")


def test_routed_request_is_valid_for_the_openai_client(router: Router, english_prose: str) -> None:
    from openai.types.chat import (
        ChatCompletionMessageParam,
        ChatCompletionUserMessageParam,  # noqa: F401  (the type exists)
    )
    from pydantic import TypeAdapter

    routed: RoutedRequest = router.route([{"role": "user", "content": english_prose + "\n\nWhy?"}], model="gpt-4o")
    adapter = TypeAdapter(list[ChatCompletionMessageParam])
    adapter.validate_python(routed.messages, strict=True)


def test_budgets_send_whole_groups_back_to_text(english_prose: str, python_code: str) -> None:
    """Over the byte budget, the least profitable part goes back to text, whole; nothing is lost."""
    half = len(english_prose) // 2
    document = f"{english_prose[:half]}\n\n```python\n{python_code[:2500]}\n```"
    messages = [{"role": "user", "content": document}, {"role": "user", "content": english_prose[half:]}]
    rules = "min_tokens: 0\nmin_saving: 1.01\nrules:\n  - {name: all, action: image}\n"
    drawn = Router(Policy.from_yaml_text(rules)).route(messages, model="gpt-4o")
    imaged = {c.index: c.message_index for c in drawn.report.chunks if c.action == "image"}
    assert set(imaged.values()) == {0, 1}
    size = sum(len(p.png) for pages in drawn.pages.values() for p in pages)

    tight = Router(Policy.from_yaml_text(f"max_image_bytes: {size - 1}\n" + rules)).route(messages, model="gpt-4o")
    actions = {m: {tight.report.chunks[i].action for i, at in imaged.items() if at == m} for m in (0, 1)}
    assert sorted(map(sorted, actions.values())) == [["image"], ["text"]]  # one part drawn, the other not
    kept = next(m for m, a in actions.items() if a == {"text"})
    assert tight.messages[kept] is messages[kept]  # nothing lost: the text goes as it came
    reverted = [tight.report.chunks[i] for i, at in imaged.items() if at == kept]
    assert all(c.reason.startswith("guard:image-limit") and f"{(size - 1) // 1024} KiB of PNG" in c.reason
               for c in reverted)  # fmt: skip


def test_tiles_already_paid_for_take_larger_glyphs(english_prose: str) -> None:
    # Gemini bills whole 768-px tiles: the preamble fills part of one at dense, and the larger glyphs
    # of the next densities fit in the same tile. Claude bills by area: larger glyphs always cost more.
    for encoder, expected in (("gemini-2", ["dense", "balanced", "exact"]), ("anthropic", ["dense"])):
        profile = get_profile(encoder)
        drawn: list[str] = []

        def draw(density: Density, profile: EncoderProfile = profile, drawn: list[str] = drawn) -> Rendering:
            drawn.append(density.name)
            return render_text(english_prose, "prose", "latin", None, RenderTarget(profile, density))

        dense = get_density("dense", encoder)
        first = draw(dense)
        density, rendering = largest_at_the_same_price("prose", "latin", dense, first, draw, profile)
        assert drawn == expected and density.name == expected[-1]
        assert rendering.image_tokens == first.image_tokens and len(rendering.pages) == len(first.pages)
        assert density.latin.em_px >= dense.latin.em_px

    # Through the router: the report names the density drawn and why.
    policy = Policy.builtin("aggressive").model_copy(update={"fidelity": FidelitySettings(mode="off")})
    messages = [{"role": "user", "content": f"Read this:\n\n{english_prose}\n\nWhich freedoms does it list?"}]
    chunk = next(c for c in Router(policy).route(messages, model="gemini/gemini-2.5-flash").report.chunks if c.pages)
    assert chunk.density == "exact" and chunk.image_tokens == 258
    assert chunk.reason.endswith("; drawn at exact: larger glyphs for the same 258 image tokens")
