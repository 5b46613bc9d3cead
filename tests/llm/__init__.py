"""The LLM client: what reaches the (fake) OpenAI-compatible server."""
