"""The URL guard in the library: every wire format, every part that carries a URL, every path."""

from __future__ import annotations

import asyncio

import pytest

from router import Router, UnsafeURLError
from router.integrations.litellm_hook import RoutingHook
from router.url_guard import find_urls


def openai_image(url: str) -> list[dict]:
    return [
        {"role": "user", "content": [{"type": "text", "text": "?"}, {"type": "image_url", "image_url": {"url": url}}]}
    ]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (" http://images.example.com/x.png", "whitespace"),
        ("\thttp://169.254.169.254/latest", "whitespace"),
        ("http://images.example.com/x.png\n", "whitespace"),
        ("http://127.0.0.1:8080\\@8.8.8.8/x.png", "backslash"),
        ("http://user:pw@images.example.com/x.png", "user-info"),
        ("http://images%2eexample.com/x.png", "user-info and percent-encoded"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher'"),
        ("dict://127.0.0.1:11211/stat", "scheme 'dict'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("ftp://images.example.com/x.png", "scheme 'ftp'"),
        ("//images.example.com/x.png", "not an absolute"),
        ("images.example.com/x.png", "not an absolute"),
        ("http://exa mple.com/x.png", "whitespace"),
        ("http:///x.png", "not a plain host"),
    ],
)
def test_malformed_and_foreign_urls_are_refused_everywhere(url: str, problem: str) -> None:
    router = Router()
    with pytest.raises(UnsafeURLError, match=problem):
        router.route(openai_image(url), model="gpt-4o")  # OpenAI fetches URLs itself: only the form is wrong
    blocks = [{"type": "image", "source": {"type": "url", "url": url}}]
    with pytest.raises(UnsafeURLError, match=r"messages\[0\]\.content\[0\]\.source\.url"):
        router.route([{"role": "user", "content": blocks}], model="claude-sonnet-4-6", wire="anthropic")


def test_public_urls_pass_where_the_provider_fetches_them() -> None:
    routed = Router().route(openai_image("https://images.example.com/chart.png"), model="gpt-4o")
    assert routed.messages[0]["content"][1]["image_url"]["url"] == "https://images.example.com/chart.png"
    assert Router().route(openai_image("data:image/png;base64,iVBORw0KGgo="), model="claude-sonnet-4-6")


def test_urls_litellm_would_download_here_are_refused_unless_allowed() -> None:
    with pytest.raises(UnsafeURLError, match="litellm would download it on this machine"):
        Router().route(openai_image("https://images.example.com/x.png"), model="claude-sonnet-4-6")
    allowed = Router(allowed_image_hosts=frozenset({"images.example.com"}))
    assert allowed.route(openai_image("https://images.example.com/x.png"), model="claude-sonnet-4-6")


def test_internal_addresses_are_refused_when_private_hosts_are_blocked() -> None:
    guarded = Router(block_private_image_hosts=True)
    for url in ("http://127.0.0.1/x.png", "http://[::1]/x.png", "http://localhost/x.png", "http://0x7f.1/x.png"):
        with pytest.raises(UnsafeURLError):
            guarded.route(openai_image(url), model="gpt-4o")


def test_urls_nested_in_tool_results_and_the_system_prompt_are_checked() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "gopher://127.0.0.1/x"}}
    tool_result = {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "ok"}, image]}
    with pytest.raises(UnsafeURLError, match=r"messages\[1\]\.content\[0\]\.content\[1\]\.source\.url"):
        Router().route(
            [{"role": "user", "content": "hi"}, {"role": "user", "content": [tool_result]}],
            model="claude-sonnet-4-6",
            wire="anthropic",
            system="Be brief.",
        )
    system = [{"type": "text", "text": "x"}, {"type": "image", "source": {"type": "url", "url": "dict://x/"}}]
    with pytest.raises(UnsafeURLError, match=r"^system\[1\]\.source\.url"):
        Router().route([{"role": "user", "content": "hi"}], model="claude-sonnet-4-6", wire="anthropic", system=system)
    file_id = [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file:///etc/shadow"}}]}]
    with pytest.raises(UnsafeURLError, match=r"file\.file_id"):
        Router().route(file_id, model="gemini/gemini-2.5-flash")
    assert Router().route(
        [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc123"}}]}], "gpt-4o"
    )


def test_text_that_mentions_urls_is_not_a_url() -> None:
    messages = [{"role": "user", "content": "Fetch gopher://127.0.0.1/ and \\\\host\\share for me."}]
    assert list(find_urls(messages, "messages")) == []
    assert Router().route(messages, model="claude-sonnet-4-6")


def test_the_litellm_hook_guards_bypassed_requests() -> None:
    hook = RoutingHook(Router(block_private_image_hosts=True))
    kwargs = {"model": "gpt-4o", "messages": openai_image("http://127.0.0.1:9/x.png"), "metadata": {"hcr_bypass": True}}
    with pytest.raises(UnsafeURLError):
        asyncio.run(hook.async_pre_call_deployment_hook(kwargs, "acompletion"))
    clean = {**kwargs, "messages": [{"role": "user", "content": "hi"}]}
    assert asyncio.run(hook.async_pre_call_deployment_hook(clean, "acompletion")) is None
