"""Reminders an owner gets before a booked consultation: planned as outbox rows with a due time.

See core/reminders/bookings.py. The rows survive restarts, their number is bounded by disk,
and a deterministic idempotency key per (booking, offset) means planning twice plans once.
"""

from core.reminders.bookings import (
    DEFAULT_REMINDERS,
    ReminderOffset,
    ReminderSettings,
    cancel_booking_reminders,
    plan_booking_reminders,
    plan_missing_booking_reminders,
    reminder_key,
    reminder_times,
)

__all__ = [
    "DEFAULT_REMINDERS",
    "ReminderOffset",
    "ReminderSettings",
    "cancel_booking_reminders",
    "plan_booking_reminders",
    "plan_missing_booking_reminders",
    "reminder_key",
    "reminder_times",
]
