"""supportbot core: common events, conversation manager, store, LLM client, settings and CLI."""
