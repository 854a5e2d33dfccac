"""A case lands in the right hub's queue, and nobody is lost when the prefecture is unknown."""

from __future__ import annotations

import pytest

from core.routing.hubs import HQ_CODE, RouteDecision, RouteReason, route_to_hub
from core.routing.prefectures import PREFECTURES, prefecture_code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("13", "13"),
        ("1", "01"),
        ("01", "01"),
        ("１３", "13"),
        ("47", "47"),
        ("東京都", "13"),
        ("東京", "13"),
        (" 東京 ", "13"),
        ("京都府", "26"),
        ("京都", "26"),
        ("北海道", "01"),
        ("大阪", "27"),
        ("Tokyo", "13"),
        ("TOKYO", "13"),
        ("tokyo-to", "13"),
        ("Osaka-fu", "27"),
        ("Aichi Prefecture", "23"),
        ("Kōchi", "39"),
        ("Hyougo", "28"),
        ("Ooita", "44"),
        ("東京都千代田区丸の内1-1", "13"),
        ("京都府京都市", "26"),
    ],
)
def test_prefecture_is_read_however_it_is_written(text: str, code: str) -> None:
    assert prefecture_code(text) == code


@pytest.mark.parametrize("text", ["", "  ", "0", "00", "48", "99", "Atlantis", "東", "関東"])
def test_text_naming_no_prefecture_is_unknown(text: str) -> None:
    assert prefecture_code(text) is None


def test_every_prefecture_is_reachable_by_each_of_its_names() -> None:
    assert [p.code for p in PREFECTURES] == [f"{n:02d}" for n in range(1, 48)]
    for p in PREFECTURES:
        names = (p.code, p.name_ja, p.short_ja, p.name_en, p.name_en.lower())
        assert {prefecture_code(name) for name in names} == {p.code}, p


@pytest.mark.parametrize(
    ("prefecture", "channel", "expected"),
    [
        ("13", "14", RouteDecision("13", RouteReason.BUSINESS_PREFECTURE)),
        ("東京", None, RouteDecision("13", RouteReason.BUSINESS_PREFECTURE)),
        ("Okinawa", HQ_CODE, RouteDecision("47", RouteReason.BUSINESS_PREFECTURE)),
        (None, "14", RouteDecision("14", RouteReason.CHANNEL_HUB)),
        ("どこか", "14", RouteDecision("14", RouteReason.CHANNEL_HUB)),
        (None, None, RouteDecision(HQ_CODE, RouteReason.HQ_INTAKE)),
        (None, HQ_CODE, RouteDecision(HQ_CODE, RouteReason.HQ_INTAKE)),
        ("", None, RouteDecision(HQ_CODE, RouteReason.HQ_INTAKE)),
    ],
)
def test_route_to_hub(prefecture: str | None, channel: str | None, expected: RouteDecision) -> None:
    assert route_to_hub(prefecture, channel) == expected


@pytest.mark.parametrize("channel", ["48", "13x", "", "tokyo"])
def test_a_misconfigured_channel_hub_is_refused_not_guessed(channel: str) -> None:
    with pytest.raises(ValueError, match="not a hub"):
        route_to_hub("13", channel)
