"""Industry codes coarse enough for an owner to pick one on a phone.

The only rule that hangs on the industry is the small-business line of 中小企業基本法
(commerce and services up to 5 employees, manufacturing and others up to 20), so the
codes are cut along it rather than along the full 日本標準産業分類.
"""

from __future__ import annotations

from enum import StrEnum


class Industry(StrEnum):
    MANUFACTURING = "manufacturing"
    CONSTRUCTION = "construction"
    WHOLESALE = "wholesale"
    RETAIL = "retail"
    FOOD_SERVICE = "food_service"
    ACCOMMODATION = "accommodation"
    SERVICES = "services"
    IT = "it"
    TRANSPORT = "transport"
    AGRICULTURE = "agriculture"
    MEDICAL_WELFARE = "medical_welfare"
    OTHER = "other"


COMMERCE_AND_SERVICES: frozenset[Industry] = frozenset(
    {
        Industry.WHOLESALE,
        Industry.RETAIL,
        Industry.FOOD_SERVICE,
        Industry.ACCOMMODATION,
        Industry.SERVICES,
        Industry.MEDICAL_WELFARE,
    }
)
"""商業・サービス業 for the small-business rule: these count as small up to 5 employees.

Medical and welfare are services in the standard classification. The law's cabinet order
lets 宿泊業 count as small up to 20; hubs that follow it pass their own set to
ZoneThresholds.
"""
