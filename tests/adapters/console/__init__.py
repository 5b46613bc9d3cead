"""The console adapter: a terminal or piped stdin, through the real service and store."""
