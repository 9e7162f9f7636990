"""The local vision encoder: a Qwen-VL vision tower run here, pages sent as embeddings (``[local]`` extra)."""
