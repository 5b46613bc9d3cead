"""The knowledge base: indexing, search, the kb commands, embeddings, eval."""
