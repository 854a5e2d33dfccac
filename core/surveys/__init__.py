"""Satisfaction surveys after consultations, CO reviews, and their aggregates.

planning.py plans a survey per consultation (the next business day at 10:00 by default),
store.py records answers once, aggregate.py counts satisfaction per CO and per hub. The
owner's side of the dialog is core/owners/survey.py.
"""

from core.surveys.aggregate import (
    ReviewSummary,
    Satisfaction,
    co_reviews,
    satisfaction_by_co,
    satisfaction_by_hub,
)
from core.surveys.planning import (
    DEFAULT_SURVEYS,
    SCALE,
    SurveySettings,
    expire_surveys,
    plan_survey,
    plan_surveys_batch,
    survey_due,
)

__all__ = [
    "DEFAULT_SURVEYS",
    "SCALE",
    "ReviewSummary",
    "Satisfaction",
    "SurveySettings",
    "co_reviews",
    "expire_surveys",
    "plan_survey",
    "plan_surveys_batch",
    "satisfaction_by_co",
    "satisfaction_by_hub",
    "survey_due",
]
