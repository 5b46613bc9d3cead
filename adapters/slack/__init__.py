"""Slack: slack-bolt's AsyncApp over Socket Mode or the HTTP Events API (`platform.py` plugs it in)."""
