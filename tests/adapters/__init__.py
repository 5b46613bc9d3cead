"""Tests of the platform adapters, through the real client libraries against the fake platforms."""
