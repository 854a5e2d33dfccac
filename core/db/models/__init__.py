"""Every table, imported in one place so `Base.metadata` is complete.

Alembic's autogenerate, `create_all` in tests and the truncation between tests all read
`Base.metadata`; a model module nobody imported would silently be missing from all three.
"""

from __future__ import annotations

from core.db.models.audit import AuditLog
from core.db.models.bookings import ACTIVE_BOOKING_CONDITION, Booking
from core.db.models.businesses import Business, BusinessMerge
from core.db.models.case_messages import CaseMessage
from core.db.models.cases import Case, CaseStatusHistory
from core.db.models.consultations import ConsultationRecord
from core.db.models.conversations import ConversationStateRow
from core.db.models.coordinators import CoAvailabilityException, Coordinator, CoWeeklyAvailability
from core.db.models.figure_months import FigureMonth, FigureMonthBusiness
from core.db.models.hub_budgets import HubBudget
from core.db.models.hub_profiles import AccessRequest, AccessRequestStatus, HubProfile
from core.db.models.hubs import Hub, HubClosedDay, LineChannel
from core.db.models.inbox import InboxEvent, PushUsage
from core.db.models.outbox import OutboxMessage
from core.db.models.partners import PartnerOrganisation, PartnerStaff
from core.db.models.people import ChannelIdentity, ConsentRecord, Person, PersonBusiness
from core.db.models.queue import HubQueueEntry
from core.db.models.referrals import Referral
from core.db.models.richmenus import RichMenuDeployment
from core.db.models.selfchecks import SelfCheckResult
from core.db.models.surveys import CoReview, Survey, SurveyAnswer

__all__ = [
    "ACTIVE_BOOKING_CONDITION",
    "AccessRequest",
    "AccessRequestStatus",
    "AuditLog",
    "Booking",
    "Business",
    "BusinessMerge",
    "Case",
    "CaseMessage",
    "CaseStatusHistory",
    "ChannelIdentity",
    "CoAvailabilityException",
    "CoReview",
    "CoWeeklyAvailability",
    "ConsentRecord",
    "ConsultationRecord",
    "ConversationStateRow",
    "Coordinator",
    "FigureMonth",
    "FigureMonthBusiness",
    "Hub",
    "HubBudget",
    "HubClosedDay",
    "HubProfile",
    "HubQueueEntry",
    "InboxEvent",
    "LineChannel",
    "OutboxMessage",
    "PartnerOrganisation",
    "PartnerStaff",
    "Person",
    "PersonBusiness",
    "PushUsage",
    "Referral",
    "RichMenuDeployment",
    "SelfCheckResult",
    "Survey",
    "SurveyAnswer",
]
