"""Discord: discord.py's client over the gateway and REST API (`platform.py` plugs it in)."""
