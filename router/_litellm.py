"""litellm, imported with the offline switches set first.

litellm downloads its model cost map on import unless told to use the bundled copy, and tiktoken
downloads BPE files on first use unless a cache directory holding them is set (litellm points it at
the files it ships). Every module of this package that needs litellm imports it from here, when it
first needs it, so the switches are set exactly where litellm is first imported and nowhere else:
``import router`` changes no environment variable and loads no litellm.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# litellm logs a telemetry warning per call otherwise; the router never phones home.
os.environ.setdefault("LITELLM_TELEMETRY", "False")

import litellm

__all__ = ["accept_image_embeds", "litellm"]


def accept_image_embeds() -> None:
    """Let vLLM's ``image_embeds`` content parts through litellm (the local encoder sends them).

    litellm checks user content against one list of known part types before any provider sees the
    request, and passes known parts on unchanged to OpenAI-compatible servers (``hosted_vllm/``,
    ``openai/``). The list is shared by reference, so adding the type here is what teaches it."""
    from litellm.types.llms.openai import ValidUserMessageContentTypes

    if "image_embeds" not in ValidUserMessageContentTypes:
        ValidUserMessageContentTypes.append("image_embeds")
