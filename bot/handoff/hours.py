"""Business hours: whether staff are in now, and what the user is told on escalation either way."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.settings import BusinessHours

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def in_business_hours(hours: BusinessHours, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(hours.timezone))
    if WEEKDAYS[local.weekday()] not in hours.days:
        return False
    start = time.fromisoformat(hours.start)
    end = time.max if hours.end == "24:00" else time.fromisoformat(hours.end)
    return start <= local.time() < end


def hours_text(hours: BusinessHours) -> str:
    days = ", ".join(d.capitalize() for d in hours.days)
    return f"{days} {hours.start}–{hours.end} {hours.timezone}"


def escalation_notice(hours: BusinessHours, in_hours: bool) -> str:
    """What the user is told when their conversation is handed to staff."""
    if in_hours:
        return (
            "I've asked a person from our team to take over; someone usually replies"
            f" {hours.response_time}. They'll answer here, and I'll stay quiet until then."
        )
    return (
        f"Our team is away right now (hours: {hours_text(hours)}). I've passed this"
        f" conversation on and someone will reply here {hours.out_of_hours_response}."
        " I'll stay quiet until then."
    )
