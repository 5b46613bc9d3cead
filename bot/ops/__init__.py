"""Operating the bot: the ops HTTP server (/healthz, /readyz, /metrics), its metrics and readiness checks."""
