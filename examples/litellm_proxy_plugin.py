"""LiteLLM Proxy with the router as its plugin, called with the OpenAI SDK.

Starts `litellm --config` on 127.0.0.1 with `litellm_settings.callbacks: router.integrations.litellm_hook.hook`,
in front of Claude (or a local Anthropic-compatible backend when ANTHROPIC_API_KEY is not set).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import openai
from _common import free_port, load_request, provider, show, wait_until_up

MASTER_KEY = "sk-hcr-example-master-key-0123456789"
request = load_request("long_markdown.json")

with provider("anthropic") as local, tempfile.TemporaryDirectory() as folder:
    upstream = (
        f"      api_base: {local.url}\n      api_key: local\n"
        if local
        else "      api_key: os.environ/ANTHROPIC_API_KEY\n"
    )
    config = Path(folder) / "config.yaml"
    config.write_text(
        "model_list:\n  - model_name: claude\n    litellm_params:\n      model: anthropic/claude-sonnet-4-6\n"
        + upstream
        + "litellm_settings:\n  callbacks: router.integrations.litellm_hook.hook\n"
        + f"general_settings:\n  master_key: {MASTER_KEY}\n"
    )
    port = free_port()
    litellm_cli = str(Path(sys.executable).parent / "litellm")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proxy = subprocess.Popen(
        [litellm_cli, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health/liveliness")
        print(f"LiteLLM Proxy with the router plugin is up on port {port}")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=MASTER_KEY)
        response = client.chat.completions.create(model="claude", messages=request["messages"], max_tokens=400)
        if local:
            sent = local.last.body["messages"][0]["content"]
            images = sum(1 for block in sent if isinstance(block, dict) and block.get("type") == "image")
            print(f"the deployment received {images} image block(s) from the proxy")
        show(None, response.choices[0].message.content)
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)
