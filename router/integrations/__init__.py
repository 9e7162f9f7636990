"""Ways in: litellm completion, wrapped OpenAI/Anthropic clients, the litellm hook and routing()."""
