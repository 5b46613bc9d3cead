"""Human handoff: the escalation state machine, staff cards, the DM relay, reminders and ratings."""
