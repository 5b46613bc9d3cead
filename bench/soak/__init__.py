"""The soak: `supportbot run` as a real process under faults, kills and restarts; did any message get lost?

`python -m bench.soak --help`; what it does and what it prints: bench/README.md, "Soak".
"""
