"""Analytics: what each answer stood on and took (recorded as it happens), each conversation's
outcome (outcomes.py), the report (report.py, charts.py), and the learning loop (learning.py)."""
