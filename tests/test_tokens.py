"""The one token counter: each model's own tokenizer where it is public, a labelled estimate otherwise."""

from __future__ import annotations

import pytest
import tiktoken

from router import Router
from router.tokens import count_tokens, token_counter


@pytest.mark.parametrize(
    ("model", "encoding"),
    [("gpt-4o", "o200k_base"), ("openai/gpt-4.1", "o200k_base"), ("azure/gpt-4o-mini", "o200k_base"),
     ("o3", "o200k_base"), ("gpt-4", "cl100k_base"), ("gpt-3.5-turbo", "cl100k_base")],
)  # fmt: skip
def test_openai_models_are_counted_with_their_own_encoding(model: str, encoding: str, chinese_prose: str) -> None:
    counter = token_counter(model)
    assert counter.exact and counter.name == encoding and counter.note.startswith(encoding)
    assert count_tokens(chinese_prose, model) == len(tiktoken.get_encoding(encoding).encode(chinese_prose))


def test_gpt_4o_chinese_is_not_counted_as_cl100k(chinese_prose: str) -> None:
    o200k, cl100k = count_tokens(chinese_prose, "gpt-4o"), count_tokens(chinese_prose, "gpt-4")
    assert o200k < cl100k * 0.9  # cl100k overcounts gpt-4o's Chinese (577 against 716 here)


def test_claude_names_count_alike_and_say_they_estimate(chinese_prose: str) -> None:
    names = ["claude-sonnet-4-6", "anthropic/claude-sonnet-4-6", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"]
    assert len({count_tokens(chinese_prose, n) for n in names}) == 1
    for name in names:
        assert not token_counter(name).exact and "Anthropic's tokenizer is not public" in token_counter(name).note


@pytest.mark.parametrize("model", ["gemini/gemini-2.5-flash", "hosted_vllm/Qwen/Qwen2.5-VL-7B-Instruct", "local-vlm"])
def test_other_models_are_labelled_estimates(model: str) -> None:
    counter = token_counter(model)
    assert not counter.exact and counter.note.startswith("estimate: ") and counter.note.endswith("o200k_base")


def test_the_report_says_what_counted() -> None:
    routed = Router().route([{"role": "user", "content": "hello"}], model="gpt-4o")
    assert routed.report.tokenizer == "o200k_base, gpt-4o's own tokenizer"
