"""The rich menus as data: within LINE's limits, labelled in both languages, state → menu."""

from __future__ import annotations

import pytest

from bots.line.richmenu import cell_box, menu_size, rich_menu_request
from core.i18n import LOCALES, Catalog
from core.owners import postbacks
from core.owners.richmenus import (
    BEFORE_CONSENT,
    BOOKED,
    DEFAULT_MENU,
    MAX_ACTION_LABEL_LENGTH,
    MAX_AREAS,
    MAX_CHAT_BAR_LENGTH,
    MENU_IDS,
    MENUS,
    REGISTERED,
    Link,
    Postback,
    RichMenuDefinition,
    menu_for,
    problems,
)

LINKS = {"privacy": "https://hub.example.jp/privacy/"}
ALL_MENUS = [pytest.param(menu, id=menu.menu_id) for menu in MENUS.values()]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_the_three_states_each_have_a_menu_and_registered_is_the_default() -> None:
    assert set(MENUS) == set(MENU_IDS) == {BEFORE_CONSENT, REGISTERED, BOOKED}
    assert DEFAULT_MENU == REGISTERED


@pytest.mark.parametrize(
    ("consented", "has_upcoming_booking", "expected"),
    [
        (False, False, BEFORE_CONSENT),
        (False, True, BEFORE_CONSENT),  # consent withdrawn: nothing personal is offered
        (True, False, REGISTERED),
        (True, True, BOOKED),
    ],
)
def test_menu_for_follows_the_owners_state(
    consented: bool, has_upcoming_booking: bool, expected: str
) -> None:
    assert menu_for(consented, has_upcoming_booking) == expected


@pytest.mark.parametrize("menu", ALL_MENUS)
def test_definitions_fill_their_grid_without_overlaps(menu: RichMenuDefinition) -> None:
    assert problems(menu) == []
    assert len(menu.areas) <= MAX_AREAS


@pytest.mark.parametrize("menu", ALL_MENUS)
def test_areas_lie_within_the_menu_and_cover_it(menu: RichMenuDefinition) -> None:
    width, height = menu_size(menu)
    assert width == 2500
    assert height in (1686, 843)
    assert width / height >= 1.45
    covered = 0
    for area in menu.areas:
        x, y, w, h = cell_box(menu, area.cell)
        assert min(x, y) >= 0
        assert min(w, h) > 0
        assert x + w <= width
        assert y + h <= height
        covered += w * h
    assert covered == width * height  # every pixel answers a tap


@pytest.mark.parametrize("menu", ALL_MENUS)
@pytest.mark.parametrize("locale", LOCALES)
def test_texts_exist_in_every_language_and_fit_lines_limits(
    menu: RichMenuDefinition, locale: str, catalog: Catalog
) -> None:
    chat_bar = catalog.render(menu.chat_bar, locale)
    assert 0 < len(chat_bar) <= MAX_CHAT_BAR_LENGTH
    for area in menu.areas:
        assert catalog.has(area.label.key), area.label.key
        assert len(catalog.render(area.label, locale)) <= MAX_ACTION_LABEL_LENGTH
        if area.caption is not None:
            assert catalog.render(area.caption, locale).strip()
        if isinstance(area.action, Postback):
            assert len(area.action.data) <= postbacks.MAX_POSTBACK_LENGTH
            assert catalog.render(area.action.display, locale).strip()


def test_the_registered_menu_offers_the_six_actions_in_japanese(catalog: Catalog) -> None:
    menu = MENUS[REGISTERED]
    labels = [catalog.render(area.label, "ja") for area in menu.areas]
    assert labels == [
        "相談を予約する",
        "相談員と話す",
        "予約の確認・変更",
        "経営セルフチェック",
        "よくある質問",
        "拠点のご案内",
    ]
    data = [area.action.data for area in menu.areas if isinstance(area.action, Postback)]
    assert data == [
        "a=menu.book",
        "a=menu.talk",
        "a=menu.bookings",
        "a=menu.selfcheck",
        "a=menu.faq",
        "a=menu.hub",
    ]
    assert [postbacks.decode(d)[0] for d in data] == [
        "menu.book",
        "menu.talk",
        "menu.bookings",
        "menu.selfcheck",
        "menu.faq",
        "menu.hub",
    ]


def test_with_a_booking_the_booking_comes_first_and_stands_out(catalog: Catalog) -> None:
    menu = MENUS[BOOKED]
    first = menu.areas[0]
    assert catalog.render(first.label, "ja") == "予約の確認・変更"
    assert first.emphasis
    assert [a.emphasis for a in menu.areas].count(True) == 1
    assert {a.key for a in menu.areas} == {a.key for a in MENUS[REGISTERED].areas}


def test_before_consent_offers_consent_privacy_and_faq_only(catalog: Catalog) -> None:
    menu = MENUS[BEFORE_CONSENT]
    labels = [catalog.render(area.label, "ja") for area in menu.areas]
    assert labels == ["同意して始める", "プライバシーポリシー", "よくある質問"]
    consent, privacy, faq = menu.areas
    assert isinstance(consent.action, Postback)
    assert postbacks.decode(consent.action.data)[0] == postbacks.CONSENT_AGREE
    assert isinstance(privacy.action, Link)
    assert isinstance(faq.action, Postback)


@pytest.mark.parametrize("menu", ALL_MENUS)
def test_line_request_json(menu: RichMenuDefinition, catalog: Catalog) -> None:
    request = rich_menu_request(menu, links=LINKS, catalog=catalog)
    assert request["size"] == dict(zip(("width", "height"), menu_size(menu), strict=True))
    assert request["selected"] is True
    assert request["name"].startswith("yorozu-")
    assert len(request["areas"]) == len(menu.areas)
    for area in request["areas"]:
        action = area["action"]
        assert len(action["label"]) <= 20
        if action["type"] == "postback":
            assert action["displayText"] == action["label"]
        else:
            assert action == {
                "type": "uri",
                "label": "プライバシーポリシー",
                "uri": LINKS["privacy"],
            }


def test_a_link_without_a_url_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="privacy"):
        rich_menu_request(MENUS[BEFORE_CONSENT], links={}, catalog=catalog)
