"""The bot's Prometheus metrics: one `Metrics` per app, on a registry of its own (never the global one).

The core records into it in a few places: `observe.py` (each message's way through SupportService),
the LLM client (calls, time to first token), the manager (duplicates, rate limits, abstentions)
and Escalations (escalations by trigger). Every name begins with `supportbot_`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.events import ReplyDone, ReplyStatus

# Seconds: a first token usually comes within a second or two, a whole answer within the deadline.
TTFT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0)
ANSWER_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0)


class Metrics:
    """Counters, histograms and gauges of one running app; `exposition()` is the /metrics body."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "supportbot_messages_received", "Messages received, by platform", ["platform"], registry=r
        )
        self.answered = Counter(
            "supportbot_messages_answered",
            "Messages answered (by the model or from the knowledge base), by platform",
            ["platform"],
            registry=r,
        )
        self.failed = Counter(
            "supportbot_messages_failed",
            "Messages that got an apology instead of an answer, by platform",
            ["platform"],
            registry=r,
        )
        self.refused = Counter(
            "supportbot_messages_refused",
            "Messages refused (empty, too long, rate-limited), by platform",
            ["platform"],
            registry=r,
        )
        self.duplicates = Counter(
            "supportbot_duplicates_dropped",
            "Deliveries of a message already stored",
            ["platform"],
            registry=r,
        )
        self.rate_limited = Counter(
            "supportbot_rate_limited_messages",
            "Messages refused by limits.user_messages_per_minute",
            ["platform"],
            registry=r,
        )
        self.escalations = Counter(
            "supportbot_escalations", "Conversations handed to staff, by trigger", ["trigger"], registry=r
        )
        self.llm_calls = Counter(
            "supportbot_llm_calls",
            "LLM calls by outcome (ok, an error kind, or cancelled: closed before the end)",
            ["outcome"],
            registry=r,
        )
        self.llm_ttft = Histogram(
            "supportbot_llm_time_to_first_token_seconds",
            "From sending a streamed LLM request to its first text",
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.answer_latency = Histogram(
            "supportbot_answer_latency_seconds",
            "From receiving a message to its complete reply, by platform",
            ["platform"],
            buckets=ANSWER_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "supportbot_llm_tokens", "Tokens of answers, by model and kind (prompt, completion)",
            ["model", "kind"], registry=r,
        )  # fmt: skip
        self.cost = Counter(
            "supportbot_llm_cost_usd", "Cost of answers in USD (models with a price)", ["model"], registry=r
        )
        self.kb_abstentions = Counter(
            "supportbot_kb_abstentions",
            "Questions the knowledge base found nothing relevant for",
            registry=r,
        )
        self.outbox = Gauge(
            "supportbot_outbox_pending_replies",
            "Replies stored but not yet accepted by their platform (read at each scrape)",
            registry=r,
        )

    def replied(self, platform: str, done: ReplyDone, seconds: float) -> None:
        """A message got its reply `seconds` after it was received."""
        counter = {
            ReplyStatus.ANSWERED: self.answered,
            ReplyStatus.FAILED: self.failed,
            ReplyStatus.REFUSED: self.refused,
        }.get(done.status)
        if counter is not None:
            counter.labels(platform).inc()
        self.answer_latency.labels(platform).observe(max(seconds, 0.0))
        usage = done.usage
        if usage is not None:
            self.tokens.labels(usage.model, "prompt").inc(usage.prompt_tokens)
            self.tokens.labels(usage.model, "completion").inc(usage.completion_tokens)
            if usage.cost_usd is not None:
                self.cost.labels(usage.model).inc(usage.cost_usd)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
