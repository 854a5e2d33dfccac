"""Consultation bookings: free slots from the COs' hours (pure) and holding them (database).

`slots` decides what can be offered and is tested with tables; `repository` loads the inputs
and takes a slot atomically. The owner's LINE dialog around them is core/owners/booking.py.
"""

from core.booking.slots import (
    DEFAULT_LEAD_TIME,
    SLOT_LENGTH,
    BusyPeriod,
    DayException,
    Slot,
    WeeklyWindow,
    available_slots,
    choose_offers,
    co_preferences,
    is_japanese_holiday,
)

__all__ = [
    "DEFAULT_LEAD_TIME",
    "SLOT_LENGTH",
    "BusyPeriod",
    "DayException",
    "Slot",
    "WeeklyWindow",
    "available_slots",
    "choose_offers",
    "co_preferences",
    "is_japanese_holiday",
]
