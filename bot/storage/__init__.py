"""Storage: the ConversationStore protocol and its records, and the SQLite backend."""
