"""拠点のご案内: what a CCO may type, how it reads back, and how LINE shows it."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from linebot.v3.messaging import PushMessageRequest

from bots.line.render import render_line
from core import hub_profile as hp
from core.i18n import Text
from core.messages import Card, Link, Location, OutgoingMessage, decode_message, encode_message
from core.text import format_phone
from integrations.standins.openapi import line_spec

NINE_FIVE = ((time(9), time(17)),)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("03-1234-5678", "+81312345678"),
        ("０３（１２３４）５６７８", "+81312345678"),
        ("0120-123-456", "+81120123456"),
        ("090-1234-5678", "+819012345678"),
        ("+81 6 6123 4567", "+81661234567"),
        ("", None),
    ],
)
def test_phone_numbers_are_read_in_japan_and_stored_as_e164(typed: str, stored: str | None) -> None:
    assert hp.parse_phone(typed) == stored


@pytest.mark.parametrize("typed", ["03-1234", "12345", "電話なし", "03-1234-56789-0"])
def test_a_wrong_phone_number_is_refused(typed: str) -> None:
    with pytest.raises(hp.Problem) as caught:
        hp.parse_phone(typed)
    assert caught.value.kind is hp.ProblemKind.PHONE


def test_phones_are_shown_and_dialled_as_written_in_japan() -> None:
    assert format_phone("+81312345678") == "03-1234-5678"
    assert hp.phone_uri("+81312345678") == "tel:+81312345678"


@pytest.mark.parametrize(
    ("typed", "ok"),
    [
        ("https://example.org/yorozu", True),
        ("HTTPS://example.org", True),
        ("http://example.org", False),
        ("example.org", False),
        ("https://", False),
        ("https://exa mple.org", False),
        ("javascript:alert(1)", False),
        ("https://example.org/" + "a" * 1000, False),
    ],
)
def test_only_https_pages_are_taken(typed: str, ok: bool) -> None:
    if ok:
        assert hp.parse_url(typed) == "https" + typed[5:]
    else:
        with pytest.raises(hp.Problem):
            hp.parse_url(typed)


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("35.681236", "139.767125", (35.681236, 139.767125)),
        ("", "", (None, None)),
        ("-90", "180", (-90.0, 180.0)),
    ],
)
def test_coordinates_within_range(lat: str, lon: str, expected: Any) -> None:
    assert hp.parse_coordinates(lat, lon) == expected


@pytest.mark.parametrize(
    ("lat", "lon", "kind"),
    [
        ("91", "139", hp.ProblemKind.LATITUDE),
        ("35", "181", hp.ProblemKind.LONGITUDE),
        ("35", "", hp.ProblemKind.BOTH_COORDINATES),
        ("北緯35度", "139", hp.ProblemKind.LATITUDE),
        ("nan", "139", hp.ProblemKind.LATITUDE),
    ],
)
def test_coordinates_out_of_range_are_refused(lat: str, lon: str, kind: hp.ProblemKind) -> None:
    with pytest.raises(hp.Problem) as caught:
        hp.parse_coordinates(lat, lon)
    assert caught.value.kind is kind


@pytest.mark.parametrize(
    ("typed", "ranges"),
    [
        ("9:00-17:00", NINE_FIVE),
        ("９：００〜１７：００", NINE_FIVE),
        ("9:00-12:00, 13:00-17:00", ((time(9), time(12)), (time(13), time(17)))),
        ("休", ()),
        ("closed", ()),
        ("", None),
    ],
)
def test_hours_per_weekday(typed: str, ranges: hp.Ranges | None) -> None:
    assert hp.parse_hours(typed) == ranges


@pytest.mark.parametrize(
    "typed", ["9時から17時", "17:00-9:00", "9:00-13:00, 12:00-17:00", "25:00-26:00"]
)
def test_hours_that_make_no_sense_are_refused(typed: str) -> None:
    with pytest.raises(hp.Problem):
        hp.parse_hours(typed)


def test_hours_round_trip_and_malformed_stored_hours_count_as_unknown() -> None:
    hours = {0: NINE_FIVE, 5: ()}
    assert hp.hours_from_json(hp.hours_to_json(hours)) == hours
    assert hp.hours_from_json({"0": "9-5", "9": [], "x": []}) == {}


@pytest.mark.parametrize(
    ("day", "closed", "kind"),
    [
        (date(2026, 6, 1), (), hp.TodayKind.OPEN),  # Monday with hours
        (date(2026, 6, 1), (date(2026, 6, 1),), hp.TodayKind.CLOSED),  # a closed day of the hub
        (date(2026, 6, 6), (), hp.TodayKind.CLOSED),  # Saturday marked 休
        (date(2026, 6, 7), (), hp.TodayKind.UNKNOWN),  # Sunday not said
        (date(2026, 5, 4), (), hp.TodayKind.CLOSED),  # みどりの日, a Monday
    ],
)
def test_today_open_closed_or_unknown(
    day: date, closed: tuple[date, ...], kind: hp.TodayKind
) -> None:
    hours = {0: NINE_FIVE, 5: ()}
    assert hp.today_status(hours, day, closed).kind is kind


def test_weekdays_with_the_same_hours_are_grouped() -> None:
    hours = {d: NINE_FIVE for d in range(5)} | {2: ((time(9), time(12)),), 5: (), 6: ()}
    groups = hp.weekly_groups(hours)
    assert [days for days, _ in groups] == [(0, 1), (2,), (3, 4), (5, 6)]


def verbatim(value: str) -> Text:
    return Text("common.verbatim", value=value)


def test_call_and_web_buttons_and_a_map_pin_are_valid_line() -> None:
    message = OutgoingMessage(
        texts=(verbatim("ご案内"),),
        card=Card(
            title=verbatim("東京都よろず支援拠点"),
            rows=((verbatim("住所"), verbatim("東京都千代田区")),),
            links=(
                Link(verbatim("電話する"), "tel:+81312345678"),
                Link(verbatim("ホームページ"), "https://example.org/"),
            ),
        ),
        location=Location(verbatim("東京都よろず支援拠点"), verbatim("東京都" * 50), 35.68, 139.76),
    )
    assert decode_message(encode_message(message)) == message
    rendered = render_line(message)
    assert [m["type"] for m in rendered] == ["text", "flex", "location"]
    footer = rendered[1]["contents"]["footer"]["contents"]
    assert [b["action"]["type"] for b in footer] == ["uri", "uri"]
    assert len(rendered[2]["address"]) <= 100
    spec = line_spec()
    body = {"to": "U" + "0" * 32, "messages": rendered}
    assert list(spec.validate_body("POST", "/v2/bot/message/push", body)) == []
    PushMessageRequest.from_dict(body)


def test_a_link_to_anything_but_https_or_tel_is_a_bug() -> None:
    card = Card(title=verbatim("x"), links=(Link(verbatim("x"), "http://example.org"),))
    with pytest.raises(ValueError, match="https"):
        render_line(OutgoingMessage(card=card))
