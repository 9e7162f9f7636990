"""Code review of a long file with the OpenAI SDK: one line, router.wrap(client)."""

import openai
from _common import load_request, provider, show

import router

request = load_request("code_review.json")
with provider("openai") as local:
    client = openai.OpenAI(api_key="local", base_url=local.url + "/v1") if local else openai.OpenAI()
    client = router.wrap(client)
    response = client.chat.completions.create(model=request["model"], messages=request["messages"], temperature=0)
    show(response.routing_report, response.choices[0].message.content)
