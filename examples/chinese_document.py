"""A Chinese document with the Anthropic SDK, wrapped: system prompt and messages are routed."""

import anthropic
from _common import load_request, provider, show

import router

request = load_request("chinese_document.json")
with provider("anthropic") as local:
    client = anthropic.Anthropic(api_key="local", base_url=local.url) if local else anthropic.Anthropic()
    client = router.wrap(client)
    message = client.messages.create(
        model=request["model"], max_tokens=500, system="请用中文回答。", messages=request["messages"]
    )
    show(message.routing_report, message.content[0].text)
