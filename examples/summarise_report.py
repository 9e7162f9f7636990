"""Summarise a long markdown report with Claude through Router.completion (litellm underneath)."""

from _common import load_request, provider, show

from router import Router

request = load_request("long_markdown.json")
with provider("anthropic") as local:
    extra = {"api_base": local.url, "api_key": "local"} if local else {}
    response = Router().completion(
        model="anthropic/claude-sonnet-4-6", messages=request["messages"], max_tokens=400, **extra
    )
    show(response.routing_report, response.choices[0].message.content)
