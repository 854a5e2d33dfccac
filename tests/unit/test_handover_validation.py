"""The hand-over form's rules: what a partner must fill in, and where the error shows.

Each row is a form as a staff member might submit it and the fields that must carry an
error; the message must be one the catalog knows in both languages.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain.industries import Industry
from core.domain.topics import Topic
from core.i18n import Catalog, Text
from core.partners import HandoverForm, RawHandover, Urgency, validate_handover

GOOD = RawHandover(
    business_name="  株式会社さくら商店 ",
    prefecture="13",
    municipality="八王子市",
    contact_name="山田　太郎",
    phone="０４２（１２３）４５６７",
    email=None,
    industry="retail",
    employees="５",
    topics=("finance", "sales_channels"),
    description="資金繰りの相談。マル経の前に計画を整えたい。",
    urgency="urgent",
    owner_consented=True,
    sit_in=True,
)


def test_a_complete_form_becomes_canonical() -> None:
    result = validate_handover(GOOD)
    assert result.ok
    assert result.errors == {}
    assert result.form == HandoverForm(
        business_name="株式会社さくら商店",
        prefecture="13",
        contact_name="山田 太郎",
        topics=(Topic.FINANCE, Topic.SALES_CHANNELS),
        municipality="八王子市",
        phone="0421234567",
        industry=Industry.RETAIL,
        employees=5,
        description="資金繰りの相談。マル経の前に計画を整えたい。",
        urgency=Urgency.URGENT,
        sit_in=True,
    )
    assert result.form.priority < HandoverForm("x", "13", "y", (Topic.TAX,)).priority


@pytest.mark.parametrize(
    ("changes", "fields", "key"),
    [
        ({"owner_consented": False}, {"consent"}, "partners.error.consent_required"),
        ({"phone": "12345"}, {"phone"}, "partners.error.phone_invalid"),
        ({"phone": "+1 415 555 0100"}, {"phone"}, "partners.error.phone_invalid"),
        ({"phone": None, "email": None}, {"phone"}, "partners.error.contact_required"),
        ({"phone": "", "email": "  "}, {"phone"}, "partners.error.contact_required"),
        ({"phone": None, "email": "info@sakura"}, {"email"}, "partners.error.email_invalid"),
        ({"email": "山田 at sakura.example"}, {"email"}, "partners.error.email_invalid"),
        ({"business_name": "   "}, {"business_name"}, "partners.error.business_name_required"),
        ({"business_name": "株式会社"}, {"business_name"}, "partners.error.business_name_invalid"),
        ({"prefecture": None}, {"prefecture"}, "partners.error.prefecture_required"),
        ({"prefecture": "48"}, {"prefecture"}, "partners.error.prefecture_invalid"),
        ({"contact_name": ""}, {"contact_name"}, "partners.error.contact_name_required"),
        ({"employees": "-3"}, {"employees"}, "partners.error.employees_invalid"),
        ({"employees": "2.5"}, {"employees"}, "partners.error.employees_invalid"),
        ({"topics": ()}, {"topics"}, "partners.error.topics_required"),
        ({"topics": ("finance", "astrology")}, {"topics"}, "partners.error.choice_invalid"),
        ({"industry": "mining"}, {"industry"}, "partners.error.choice_invalid"),
        ({"urgency": "whenever"}, {"urgency"}, "partners.error.choice_invalid"),
        (
            {"corporate_number": "1234567890123"},
            {"corporate_number"},
            "partners.error.corporate_number_invalid",
        ),
        (
            {"corporate_number": "800000000000"},
            {"corporate_number"},
            "partners.error.corporate_number_length",
        ),
        (
            {"corporate_number": "８０００-abc"},
            {"corporate_number"},
            "partners.error.corporate_number_not_digits",
        ),
        ({"description": "あ" * 3001}, {"description"}, "partners.error.too_long"),
    ],
)
def test_each_problem_is_shown_on_its_own_field(
    changes: dict[str, object], fields: set[str], key: str | None
) -> None:
    result = validate_handover(replace(GOOD, **changes))  # type: ignore[arg-type]
    assert result.form is None
    assert set(result.errors) == fields
    if key is not None:
        assert {text.key for text in result.errors.values()} == {key}
    catalog = Catalog.load()
    for text in result.errors.values():
        assert catalog.render(text, "ja")
        assert catalog.render(text, "en")


def test_every_problem_is_reported_at_once() -> None:
    result = validate_handover(RawHandover())
    assert set(result.errors) == {
        "business_name",
        "prefecture",
        "contact_name",
        "phone",
        "topics",
        "consent",
    }
    assert result.errors["consent"] == Text("partners.error.consent_required")


def test_email_alone_is_enough_and_optional_fields_may_stay_empty() -> None:
    result = validate_handover(
        RawHandover(
            business_name="パン工房さくら",
            prefecture="01",
            contact_name="佐藤",
            email="ｐａｎ＠ｓａｋｕｒａ．ｅｘａｍｐｌｅ",
            topics=("other",),
            owner_consented=True,
        )
    )
    assert result.form is not None
    assert result.form.email == "pan@sakura.example"
    assert (result.form.phone, result.form.employees, result.form.industry) == (None, None, None)
    assert result.form.urgency is Urgency.NORMAL


def test_a_valid_corporate_number_is_kept_and_the_payload_round_trips() -> None:
    result = validate_handover(replace(GOOD, corporate_number="８０００-００００-００００-1"))
    form = result.form
    if form is None:  # the check digit of 8000000000001 is 8
        pytest.fail(f"unexpected errors {result.errors}")
    assert form.corporate_number == "8000000000001"
    assert HandoverForm.from_payload(form.to_payload()) == form


def test_a_corporate_number_of_the_wrong_length_is_told_its_length() -> None:
    result = validate_handover(replace(GOOD, corporate_number="8000-0000-0000"))
    shown = Catalog.load().render(result.errors["corporate_number"], "ja")
    assert shown == "法人番号は13桁です（ご記入は12桁）。桁数をご確認ください。"
    assert "チェックデジット" not in shown
