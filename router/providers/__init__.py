"""Provider facts: the one table of encoder geometry, and model names resolved to it."""
