"""The hcr proxy with the OpenAI SDK: an existing app changes only its base URL.

Starts `hcr serve` on 127.0.0.1 in front of gpt-4.1 (or a local OpenAI-compatible backend when
OPENAI_API_KEY is not set), then sends the bundled code-review request through it.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import openai
from _common import free_port, load_request, provider, wait_until_up

KEY = "sk-hcr-example-0123456789"
request = load_request("code_review.json")

with provider("openai") as local, tempfile.TemporaryDirectory() as folder:
    upstream = f"api_base: {local.url}, api_key: local" if local else "api_key: os.environ/OPENAI_API_KEY"
    config = Path(folder) / "proxy.yaml"
    config.write_text(
        f"model_list:\n  - model_name: reviewer\n    litellm_params: {{model: openai/gpt-4.1, {upstream}}}\n"
        f"general_settings:\n  master_key: {KEY}\n"
    )
    port = free_port()
    hcr = str(Path(sys.executable).parent / "hcr")
    server = subprocess.Popen(
        [hcr, "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ},
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health/readiness")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY)  # the only change
        raw = client.chat.completions.with_raw_response.create(model="reviewer", messages=request["messages"])
        headers = raw.headers
        print(
            f"routed for {headers['x-hcr-encoder']}: {int(headers['x-hcr-tokens-before']):,} -> "
            f"{int(headers['x-hcr-tokens-after']):,} input tokens, {headers['x-hcr-images']} image(s)"
        )
        print(f"answer: {raw.parse().choices[0].message.content}")
    finally:
        server.terminate()
        server.wait(timeout=30)
