"""Slack: the real slack-bolt app against the fake Slack Web API, with signed requests."""
