"""A chat with a long history, for code that calls litellm.completion directly: `with routing():`."""

import _common  # noqa: F401  (first: keeps litellm offline)
import litellm
from _common import load_request, provider, show

from router.integrations.litellm_hook import routing

request = load_request("long_chat.json")
with provider("gemini") as local, routing():
    extra = {"api_base": local.url, "api_key": "local"} if local else {}
    response = litellm.completion(model=request["model"], messages=request["messages"], **extra)
    show(response.routing_report, response.choices[0].message.content)
