"""The LiteLLM integration: the callback (direct and inside a real LiteLLM Proxy) and routing()."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anthropic
import litellm
import openai
import pytest

from router import Policy, Router
from router.integrations.litellm_hook import RoutingHook, routing
from router.testing import REPLY, AnthropicBackend, OpenAIBackend, free_port, wait_until_up

MASTER_KEY = "sk-hcr-test-master-key-0123456789abcdef"


def long_request(prose: str) -> list[dict]:
    return [{"role": "user", "content": f"Here is a licence:\n\n{prose}\n\nWhich freedoms does it list?"}]


def has_images(body: dict) -> bool:
    content = body["messages"][0]["content"]
    return isinstance(content, list) and any(p["type"] in ("image", "image_url") for p in content)


@pytest.fixture()
def hook_installed() -> Iterator[RoutingHook]:
    hook = RoutingHook(Router())
    litellm.callbacks.append(hook)
    try:
        yield hook
    finally:
        litellm.callbacks.remove(hook)


def test_callback_routes_acompletion_for_the_deployment_model(
    hook_installed: RoutingHook, anthropic_backend: AnthropicBackend, english_prose: str
) -> None:
    messages = long_request(english_prose)
    response = asyncio.run(
        litellm.acompletion(
            model="anthropic/claude-sonnet-4-6", messages=messages, api_base=anthropic_backend.url, api_key="k"
        )
    )
    assert response.choices[0].message.content == REPLY
    assert has_images(anthropic_backend.last.body)
    assert messages[0]["content"].startswith("Here is a licence")  # the caller's list is not modified


def test_callback_bypass(hook_installed: RoutingHook, openai_backend: OpenAIBackend, english_prose: str) -> None:
    asyncio.run(
        litellm.acompletion(
            model="openai/gpt-4o", messages=long_request(english_prose), api_base=openai_backend.url, api_key="k",
            metadata={"hcr_bypass": True},
        )
    )  # fmt: skip
    assert not has_images(openai_backend.last.body)


def test_routing_context_manager_and_decorator(openai_backend: OpenAIBackend, english_prose: str) -> None:
    original = litellm.completion
    with routing():
        response = litellm.completion(
            "openai/gpt-4o", long_request(english_prose), api_base=openai_backend.url, api_key="k"
        )
        assert response.routing_report.images >= 1
    assert litellm.completion is original and has_images(openai_backend.last.body)

    @routing()
    def ask() -> str:
        result = litellm.completion(
            model="openai/gpt-4o", messages=long_request(english_prose), api_base=openai_backend.url, api_key="k"
        )
        return result.choices[0].message.content

    assert ask() == REPLY and has_images(openai_backend.last.body)
    litellm.completion(
        model="openai/gpt-4o", messages=long_request(english_prose), api_base=openai_backend.url, api_key="k"
    )
    assert not has_images(openai_backend.last.body)  # outside the context: unchanged


def test_routing_nests_and_stays_in_its_context(openai_backend: OpenAIBackend, english_prose: str) -> None:
    """routing() holds its router in a context variable: the innermost block wins, other threads and
    tasks started elsewhere are not routed, and litellm is itself again once every block has closed."""
    original = litellm.completion
    call = {"model": "openai/gpt-4o", "api_base": openai_backend.url, "api_key": "k"}
    text_only = Router(Policy.builtin("text-only"))
    with routing(Router()):
        with routing(text_only):
            inner = litellm.completion(messages=long_request(english_prose), **call)
        outer = litellm.completion(messages=long_request(english_prose), **call)
        elsewhere: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: elsewhere.update(r=litellm.completion(messages=long_request(english_prose), **call))
        )
        thread.start()
        thread.join()

        async def in_a_task_of_another_loop() -> object:
            return await litellm.acompletion(messages=long_request(english_prose), **call)

        result: dict[str, object] = {}
        other = threading.Thread(target=lambda: result.update(r=asyncio.run(in_a_task_of_another_loop())))
        other.start()
        other.join()
    assert inner.routing_report.images == 0 and outer.routing_report.images >= 1
    assert getattr(elsewhere["r"], "routing_report", None) is None
    assert getattr(result["r"], "routing_report", None) is None
    assert litellm.completion is original


POLICY = "name: proxy-test\nmin_tokens: 100\nrules:\n  - {name: long, when: {min_tokens: 100}, action: image}\n"


def deployments(anthropic_backend: AnthropicBackend, openai_backend: OpenAIBackend) -> str:
    return f"""model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-6
      api_base: {anthropic_backend.url}
      api_key: sk-ant-test
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_base: {openai_backend.url}
      api_key: sk-test
general_settings:
  master_key: {MASTER_KEY}
"""


@contextlib.contextmanager
def litellm_proxy(tmp_path: Path, config_text: str) -> Iterator[tuple[str, Path]]:
    """A real LiteLLM Proxy process on 127.0.0.1 with ``config_text``: its URL and its log file."""
    config = tmp_path / "config.yaml"
    config.write_text(config_text, encoding="utf-8")
    port = free_port()
    litellm_cli = Path(sys.executable).parent / "litellm"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    log = tmp_path / "proxy.log"
    with log.open("w") as out:
        proxy = subprocess.Popen(
            [str(litellm_cli), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
        try:
            try:
                wait_until_up(f"http://127.0.0.1:{port}/health/liveliness", seconds=90)
            except RuntimeError:
                pytest.fail("LiteLLM Proxy did not start:\n" + log.read_text()[-3000:])
            yield f"http://127.0.0.1:{port}", log
        finally:
            proxy.terminate()
            proxy.wait(timeout=20)


def test_litellm_proxy_plugin(
    tmp_path: Path, anthropic_backend: AnthropicBackend, openai_backend: OpenAIBackend, english_prose: str
) -> None:
    """LiteLLM Proxy loads the hook from its config; the official SDKs talk to the proxy."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    config = deployments(anthropic_backend, openai_backend) + (
        "litellm_settings:\n  callbacks: router.integrations.litellm_hook.hook\n"
        f"environment_variables:\n  HCR_POLICY: {policy}\n"
    )
    with litellm_proxy(tmp_path, config) as (url, log):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY, max_retries=0)
        response = client.chat.completions.create(model="claude", messages=long_request(english_prose))
        assert response.choices[0].message.content == REPLY
        body = anthropic_backend.last.body
        assert body["model"] == "claude-sonnet-4-6"
        assert has_images(body), log.read_text()[-2000:]

        # Claude Code's way in: Anthropic Messages on LiteLLM Proxy's /v1/messages, streaming too.
        claude = anthropic.Anthropic(base_url=url, api_key=MASTER_KEY, max_retries=0)
        turn = [{"role": "user", "content": [{"type": "text", "text": long_request(english_prose)[0]["content"]}]}]
        message = claude.messages.create(model="claude", max_tokens=50, system="Be brief.", messages=turn)
        assert message.content[0].text == REPLY
        sent = anthropic_backend.last.body
        assert has_images(sent) and sent["system"] == "Be brief.", log.read_text()[-2000:]
        with claude.messages.stream(model="claude", max_tokens=50, messages=turn) as stream:
            assert stream.get_final_text() == REPLY
        assert has_images(anthropic_backend.last.body) and anthropic_backend.last.body["stream"] is True

        # Codex's way in: the Responses API on LiteLLM Proxy's /v1/responses.
        answer = client.responses.create(model="gpt", input=long_request(english_prose)[0]["content"])
        assert answer.output_text == REPLY
        items = openai_backend.last.body["input"]
        assert openai_backend.last.path.endswith("/responses"), log.read_text()[-2000:]
        assert any(p["type"] == "input_image" for p in items[0]["content"]), log.read_text()[-2000:]


def test_litellm_proxy_guardrail(
    tmp_path: Path, anthropic_backend: AnthropicBackend, openai_backend: OpenAIBackend, english_prose: str
) -> None:
    """As a guardrail, off by default: only requests (or keys) that name it are routed, with the policy
    its config gives."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    config = (
        deployments(anthropic_backend, openai_backend)
        + f"""guardrails:
  - guardrail_name: hcr
    litellm_params:
      guardrail: router.integrations.litellm_guardrail.RoutingGuardrail
      mode: pre_call
      default_on: false
      policy: {policy}
"""
    )
    with litellm_proxy(tmp_path, config) as (url, log):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY, max_retries=0)
        client.chat.completions.create(model="gpt", messages=long_request(english_prose))
        assert not has_images(openai_backend.last.body)  # not asked for: passed as it came
        client.chat.completions.create(
            model="gpt", messages=long_request(english_prose), extra_body={"guardrails": ["hcr"]}
        )
        assert has_images(openai_backend.last.body), log.read_text()[-3000:]
        claude = anthropic.Anthropic(base_url=url, api_key=MASTER_KEY, max_retries=0)
        turn = [{"role": "user", "content": long_request(english_prose)[0]["content"]}]
        claude.messages.create(model="claude", max_tokens=50, messages=turn, extra_body={"guardrails": ["hcr"]})
        assert has_images(anthropic_backend.last.body), log.read_text()[-3000:]
