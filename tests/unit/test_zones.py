from __future__ import annotations

from collections.abc import Callable

import pytest

from core.domain.industries import COMMERCE_AND_SERVICES, Industry
from core.domain.zones import Zone, ZoneThresholds, derive_zone

OKU = 100_000_000


@pytest.mark.parametrize(
    ("industry", "employees", "sales", "expected"),
    [
        # The small-business line of 中小企業基本法.
        (Industry.RETAIL, 5, None, Zone.A),
        (Industry.RETAIL, 6, None, Zone.B),
        (Industry.WHOLESALE, 5, None, Zone.A),
        (Industry.FOOD_SERVICE, 5, None, Zone.A),  # a ramen shop with five staff
        (Industry.FOOD_SERVICE, 8, None, Zone.B),
        (Industry.ACCOMMODATION, 6, None, Zone.B),
        (Industry.SERVICES, 0, None, Zone.A),  # a sole proprietor
        (Industry.MEDICAL_WELFARE, 6, None, Zone.B),
        (Industry.MANUFACTURING, 20, None, Zone.A),  # a 町工場 with twenty
        (Industry.MANUFACTURING, 21, None, Zone.B),
        (Industry.CONSTRUCTION, 15, None, Zone.A),
        (Industry.IT, 12, None, Zone.A),
        (Industry.TRANSPORT, 20, None, Zone.A),
        (Industry.AGRICULTURE, 18, None, Zone.A),
        (Industry.OTHER, 20, None, Zone.A),
        # Beyond the small line: B up to the configurable large line.
        (Industry.MANUFACTURING, 30, None, Zone.B),
        (Industry.MANUFACTURING, 50, None, Zone.B),
        (Industry.MANUFACTURING, 51, None, Zone.C),
        (Industry.RETAIL, 300, None, Zone.C),
        (Industry.RETAIL, 30, 10 * OKU, Zone.B),  # exactly ¥1bn is not above it
        (Industry.RETAIL, 30, 10 * OKU + 1, Zone.C),
        (Industry.MANUFACTURING, 40, 25 * OKU, Zone.C),
        # The legal small-business line wins over sales.
        (Industry.WHOLESALE, 3, 20 * OKU, Zone.A),
        # Unknowns: no guessing.
        (Industry.RETAIL, None, 20 * OKU, None),
        (None, None, None, None),
        (None, 5, None, Zone.A),  # small under either line
        (None, 6, None, None),  # A for a factory, B for a shop
        (None, 20, None, None),
        (None, 21, None, Zone.B),
        (None, 51, None, Zone.C),
    ],
)
def test_derive_zone_with_default_thresholds(
    industry: Industry | None, employees: int | None, sales: int | None, expected: Zone | None
) -> None:
    assert derive_zone(industry, employees, sales) == expected


HUB_WITH_HIGHER_LINES = ZoneThresholds(
    large_over_employees=100, large_over_annual_sales_yen=30 * OKU
)
ACCOMMODATION_AS_IN_THE_CABINET_ORDER = ZoneThresholds(
    commerce_and_services=COMMERCE_AND_SERVICES - {Industry.ACCOMMODATION}
)


@pytest.mark.parametrize(
    ("thresholds", "industry", "employees", "sales", "expected"),
    [
        (HUB_WITH_HIGHER_LINES, Industry.MANUFACTURING, 80, None, Zone.B),
        (HUB_WITH_HIGHER_LINES, Industry.MANUFACTURING, 101, None, Zone.C),
        (HUB_WITH_HIGHER_LINES, Industry.RETAIL, 30, 20 * OKU, Zone.B),
        (HUB_WITH_HIGHER_LINES, Industry.RETAIL, 30, 31 * OKU, Zone.C),
        (ACCOMMODATION_AS_IN_THE_CABINET_ORDER, Industry.ACCOMMODATION, 15, None, Zone.A),
        (ACCOMMODATION_AS_IN_THE_CABINET_ORDER, Industry.RETAIL, 15, None, Zone.B),
    ],
)
def test_hubs_can_move_the_lines(
    thresholds: ZoneThresholds,
    industry: Industry,
    employees: int,
    sales: int | None,
    expected: Zone,
) -> None:
    assert derive_zone(industry, employees, sales, thresholds) == expected


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ZoneThresholds(small_commerce_services_max_employees=-1), "cannot be negative"),
        (lambda: ZoneThresholds(large_over_employees=10), "zone C must start above"),
        (lambda: ZoneThresholds(large_over_annual_sales_yen=-1), "cannot be negative"),
    ],
)
def test_thresholds_refuse_lines_that_contradict_each_other(
    build: Callable[[], ZoneThresholds], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_negative_employee_count_is_a_bug_not_a_zone() -> None:
    with pytest.raises(ValueError, match="negative"):
        derive_zone(Industry.RETAIL, -1)


def test_every_industry_has_a_label_in_both_catalogs() -> None:
    from core.i18n import Catalog

    catalog = Catalog.load()
    for industry in Industry:
        assert catalog.text(f"industry.{industry.value}", "ja")
        assert catalog.text(f"industry.{industry.value}", "en")
