"""法人番号: the National Tax Agency's 13-digit number for every registered corporation.

It is the only identifier that settles whether two records are one company, so a number
with a wrong check digit (a typo) is treated as absent rather than trusted.
"""

from __future__ import annotations

import re
from typing import Literal

from core.text.normalize import nfkc

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc]")
_THIRTEEN_DIGITS = re.compile(r"[0-9]{13}")


def normalize_corporate_number(text: str) -> str | None:
    """The 13 ASCII digits, or None if it is not a corporate number with a valid check digit.

    Full-width digits, spaces and hyphens (as people copy them from letterheads) are allowed.
    """
    digits = _SEPARATORS.sub("", nfkc(text))
    if not _THIRTEEN_DIGITS.fullmatch(digits):
        return None
    return digits if int(digits[0]) == check_digit(digits[1:]) else None


CorporateNumberProblem = Literal["not_digits", "length", "check_digit"]


def corporate_number_problem(text: str) -> tuple[CorporateNumberProblem, int] | None:
    """What is wrong with a typed 法人番号, and how many digits it has; None when it is valid.

    People told "check digit" about a number missing a digit look for the wrong mistake:
    a wrong length is said as such, a wrong check digit only when all 13 digits are there.
    """
    digits = _SEPARATORS.sub("", nfkc(text))
    if not digits.isascii() or not digits.isdigit():
        return "not_digits", len(digits)
    if len(digits) != 13:
        return "length", len(digits)
    if int(digits[0]) != check_digit(digits[1:]):
        return "check_digit", 13
    return None


def is_valid_corporate_number(text: str) -> bool:
    return normalize_corporate_number(text) is not None


def check_digit(base: str) -> int:
    """The leading digit the NTA assigns to the 12 base digits.

    9 - (sum of digit * weight mod 9), weights 1, 2, 1, 2, ... from the rightmost base digit.
    """
    if not re.fullmatch(r"[0-9]{12}", base):
        raise ValueError(f"a corporate number has 12 base digits, got {base!r}")
    total = sum(int(digit) * (1 if i % 2 == 0 else 2) for i, digit in enumerate(reversed(base)))
    return 9 - total % 9
