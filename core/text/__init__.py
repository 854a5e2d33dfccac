"""Japanese text as people type it, made comparable.

Owners type on phones with IMEs that mix full-width and half-width forms, eras and Western
years, and numbers with 万 and 億; everything downstream (de-duplication, zones, bookings)
needs one canonical form, so the clean-up happens once, here.
"""

from core.text.normalize import (
    DatePrecision,
    PartialDate,
    fold_whitespace,
    format_phone,
    nfkc,
    normalize_phone,
    normalize_postal_code,
    normalize_text,
    parse_date,
    parse_int,
    parse_yen,
    phone_e164,
)

__all__ = [
    "DatePrecision",
    "PartialDate",
    "fold_whitespace",
    "format_phone",
    "nfkc",
    "normalize_phone",
    "normalize_postal_code",
    "normalize_text",
    "parse_date",
    "parse_int",
    "parse_yen",
    "phone_e164",
]
