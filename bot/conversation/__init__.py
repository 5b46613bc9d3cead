"""A conversation's path through the core: manager, prompt, grounding, locks, start-up sweep."""
