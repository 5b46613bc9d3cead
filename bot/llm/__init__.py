"""The language model: the OpenAI-compatible streaming client and the token counter."""
