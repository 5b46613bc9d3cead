"""Discord: the real discord.py client against the fake gateway and REST API."""
