"""Ask Gemini about a large table: litellm's own price list of vision models, as markdown."""

import _common  # noqa: F401  (first: keeps litellm offline)
import litellm
from _common import provider, show

from router import Router

rows = [
    f"| {name} | {info.get('litellm_provider')} | {info['input_cost_per_token'] * 1e6:.3f} | "
    f"{info.get('output_cost_per_token', 0) * 1e6:.3f} | {info.get('max_input_tokens') or ''} |"
    for name, info in sorted(litellm.model_cost.items())
    if info.get("supports_vision") and info.get("input_cost_per_token") and info.get("mode") == "chat"
][:400]
table = "| model | provider | $ / M input | $ / M output | max input tokens |\n|---|---|---|---|---|\n"
table += "\n".join(rows)
messages = [
    {
        "role": "user",
        "content": f"Vision models and their prices:\n\n{table}\n\n"
        "Which three models have the cheapest input price, and what do they cost?",
    }
]
with provider("gemini") as local:
    extra = {"api_base": local.url, "api_key": "local"} if local else {}
    response = Router().completion(model="gemini/gemini-2.5-flash", messages=messages, **extra)
    show(response.routing_report, response.choices[0].message.content)
