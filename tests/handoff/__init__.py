"""The escalation state machine and business hours."""
