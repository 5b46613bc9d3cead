"""`python -m bot` runs the supportbot command."""

from bot.cli import entry

if __name__ == "__main__":
    entry()
