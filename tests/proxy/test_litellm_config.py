"""A LiteLLM Proxy ``config.yaml`` as it is: accepted, its deployments load-balanced and failed over
by ``litellm.Router``, keys hcr does not use ignored with one log line, and nothing of it settable by
callers."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import openai
import pytest

from router.errors import ConfigError
from router.proxy.app import create_app
from router.proxy.config import ProxyConfig
from router.testing import OpenAIBackend
from tests.inspector.servers import serving

KEY = "sk-hcr-litellm-config-0123456789"

CONFIG = """
model_list:
  - model_name: gpt
    litellm_params: {{model: openai/gpt-4o, api_base: "{a}", api_key: up, rpm: 600}}
    model_info: {{id: deployment-a, base_model: gpt-4o}}
  - model_name: gpt
    litellm_params: {{model: openai/gpt-4o, api_base: "{b}", api_key: up, rpm: 600}}
    model_info: {{id: deployment-b}}
litellm_settings:
  drop_params: true
  num_retries: 3
  success_callback: ["langfuse"]
router_settings:
  routing_strategy: simple-shuffle
  allowed_fails: 1
  cooldown_time: 60
  some_future_setting: 1
general_settings:
  master_key: {key}
  database_url: postgresql://llm:secret@db:5432/litellm
  store_model_in_db: true
environment_variables:
  LANGFUSE_HOST: https://langfuse.example.com
"""


def write_config(tmp_path: Path, a: str, b: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(a=a, b=b, key=KEY))
    return path


def ask(url: str, n: int) -> list[str]:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=30)
    return [
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": f"hello {i}"}])
        .choices[0]
        .message.content
        or ""
        for i in range(n)
    ]


def test_a_litellm_config_is_accepted_as_it_is(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = ProxyConfig.from_yaml(write_config(tmp_path, "http://127.0.0.1:1", "http://127.0.0.1:2"))
    assert [len(e) for e in config.groups().values()] == [2]
    assert sorted(config.ignored_keys()) == [
        "environment_variables", "general_settings.database_url", "general_settings.store_model_in_db",
    ]  # fmt: skip
    caplog.set_level(logging.INFO, logger="router.proxy")
    create_app(config)
    lines = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(lines) == 1
    for key in ("general_settings.database_url", "litellm_settings.success_callback", "router_settings.some_future"):
        assert key in lines[0]
    assert "secret" not in lines[0]  # key names only, never values


def test_deployments_share_the_load_and_a_failing_one_falls_over(tmp_path: Path) -> None:
    with OpenAIBackend() as a, OpenAIBackend() as b:
        with serving(create_app(ProxyConfig.from_yaml(write_config(tmp_path, a.url, b.url)))) as url:
            assert all(reply == "The answer is 42." for reply in ask(url, 24))
        assert len(a.requests) >= 4 and len(b.requests) >= 4  # simple-shuffle over both
        assert len(a.requests) + len(b.requests) == 24

    with OpenAIBackend(fail_status=500) as failing, OpenAIBackend() as healthy:
        with serving(create_app(ProxyConfig.from_yaml(write_config(tmp_path, failing.url, healthy.url)))) as url:
            assert all(reply == "The answer is 42." for reply in ask(url, 12))  # retried on the other
            # Callers still cannot reach the Router's settings or the deployment's.
            for field in ("num_retries", "fallbacks", "api_base", "model_list"):
                refused = httpx.post(
                    url + "/v1/chat/completions",
                    headers={"authorization": f"Bearer {KEY}"},
                    json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}], field: 1},
                )
                assert refused.status_code == 400 and field in refused.text, field
        assert len(healthy.requests) == 12
        assert 1 <= len(failing.requests) <= 4  # cooled down after its allowed failures


def test_deployments_of_one_group_must_read_images_alike(tmp_path: Path) -> None:
    mixed = {
        "model_list": [
            {"model_name": "chat", "litellm_params": {"model": "openai/gpt-4o"}},
            {"model_name": "chat", "litellm_params": {"model": "anthropic/claude-sonnet-4-6"}},
        ]
    }
    with pytest.raises(ValueError, match=r"'chat'.*openai-tile.*anthropic"):
        ProxyConfig.model_validate(mixed)
    mixed["model_list"][1]["encoder"] = "openai-tile"  # the operator says how that group reads images
    ProxyConfig.model_validate(mixed)


def test_an_unknown_model_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("model_list:\n  - model_name: fast\n    litellm_params: {model: gpt4o}\n")
    with pytest.raises(ConfigError, match=r"unknown model 'gpt4o'.*gpt-4o"):
        ProxyConfig.from_yaml(path)
    path.write_text("model_list:\n  - model_name: fast\n    litellm_params: {model: gpt4o}\n    encoder: openai-tile\n")
    ProxyConfig.from_yaml(path)  # the encoder says what it is
