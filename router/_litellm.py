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

__all__ = ["litellm"]
