"""The conversation manager, grounding and the start-up sweep, on real SQLite and the fake OpenAI."""
