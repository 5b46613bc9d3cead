"""The supportbot command as a user runs it."""
