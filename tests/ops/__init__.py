"""Tests of operating the bot: the ops server, metrics, readiness, logs, live checks, deploy files."""
