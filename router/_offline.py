"""Keep third-party libraries offline before they are imported.

litellm downloads its model cost map on import unless told to use the bundled copy, and tiktoken
downloads BPE files on first use unless a cache directory holding them is set. litellm ships those
files; ``router.tokens`` counts through litellm, which points tiktoken at them. Setting the variables
here, before anything imports litellm, keeps the router working with no network but the backend.
"""

from __future__ import annotations

import os


def keep_offline() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # litellm logs a telemetry warning per call otherwise; the router never phones home.
    os.environ.setdefault("LITELLM_TELEMETRY", "False")


keep_offline()
