"""Zones A/B/C: how large a business is, and so what the hub does for it.

A is the legal small business (小規模事業者), whom the hub consults directly; C is the larger
SME that the hub hands to 中小機構 hands-on support; B lies between and is the share the
national review wants raised. Beyond A the lines are guidance, so each hub may set them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.domain.industries import COMMERCE_AND_SERVICES, Industry


class Zone(StrEnum):
    A = "A"
    B = "B"
    C = "C"


@dataclass(frozen=True, slots=True)
class ZoneThresholds:
    small_commerce_services_max_employees: int = 5
    small_other_max_employees: int = 20
    large_over_employees: int = 50
    large_over_annual_sales_yen: int = 1_000_000_000
    commerce_and_services: frozenset[Industry] = COMMERCE_AND_SERVICES

    def __post_init__(self) -> None:
        small = max(self.small_commerce_services_max_employees, self.small_other_max_employees)
        if min(self.small_commerce_services_max_employees, self.small_other_max_employees) < 0:
            raise ValueError("employee thresholds cannot be negative")
        if self.large_over_employees < small:
            raise ValueError("zone C must start above every small-business line")
        if self.large_over_annual_sales_yen < 0:
            raise ValueError("the sales threshold cannot be negative")


DEFAULT_THRESHOLDS = ZoneThresholds()


def derive_zone(
    industry: Industry | None,
    employees: int | None,
    annual_sales_yen: int | None = None,
    thresholds: ZoneThresholds = DEFAULT_THRESHOLDS,
) -> Zone | None:
    """The zone, or None when the facts given cannot decide it.

    Unknown employees mean unknown zone, and so does an unknown industry when the count
    falls between the two small-business lines: a guess would send the owner to the wrong
    kind of support. The legal small-business line is checked first, so a three-person
    trading house with large sales stays in A, which is what the law calls it.
    """
    if employees is None:
        return None
    if employees < 0:
        raise ValueError(f"employees cannot be negative, got {employees}")
    lines = (thresholds.small_commerce_services_max_employees, thresholds.small_other_max_employees)
    if industry is None:
        if employees <= min(lines):
            return Zone.A  # small whatever the industry turns out to be
        if employees <= max(lines):
            return None
    elif employees <= _small_business_max(industry, thresholds):
        return Zone.A
    if employees > thresholds.large_over_employees:
        return Zone.C
    if annual_sales_yen is not None and annual_sales_yen > thresholds.large_over_annual_sales_yen:
        return Zone.C
    return Zone.B


def _small_business_max(industry: Industry, thresholds: ZoneThresholds) -> int:
    if industry in thresholds.commerce_and_services:
        return thresholds.small_commerce_services_max_employees
    return thresholds.small_other_max_employees
