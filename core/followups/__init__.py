"""Post-founding follow-ups (創業後フォローアップ): planning here, the owner's dialog in
core/owners/followup.py."""

from core.followups.planning import (
    DEFAULT_FOLLOWUPS,
    FollowupSettings,
    add_months,
    followup_due,
    followups_to_plan,
    plan_business_followups,
    plan_followups_batch,
)

__all__ = [
    "DEFAULT_FOLLOWUPS",
    "FollowupSettings",
    "add_months",
    "followup_due",
    "followups_to_plan",
    "plan_business_followups",
    "plan_followups_batch",
]
