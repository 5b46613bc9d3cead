"""The console: a terminal or piped stdin as one more platform (`platform.py` plugs it in)."""
