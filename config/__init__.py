"""supportbot's packaged defaults (installed as `bot.defaults`): settings, prompt, sample help center."""
