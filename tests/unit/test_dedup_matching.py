from __future__ import annotations

import pytest

from core.dedup.matching import (
    BusinessFacts,
    Match,
    MatchReason,
    compare,
    find_match,
    name_key,
)

TOKYO = "13"
OSAKA = "27"
NTA = "7000012050002"  # 国税庁
TOYOTA = "1180301018771"  # トヨタ自動車株式会社


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("株式会社ABC商事", "ABC商事株式会社"),
        ("㈱ABC商事", "株式会社ABC商事"),
        ("(株)ABC商事", "ABC商事(株)"),
        ("（株）ＡＢＣ商事", "ABC商事㈱"),
        ("㍿ABC商事", "ABC商事"),
        ("ＡＢＣ商事", "ABC商事"),
        ("abc商事", "ABC商事"),
        ("株式会社　ＡＢＣ　商事", "ABC商事"),
        ("トヨタ", "ﾄﾖﾀ"),
        ("ﾄﾖﾀ自動車㈱", "トヨタ自動車株式会社"),
        ("有限会社 山田製作所", "山田製作所"),
        ("㈲山田製作所", "(有)山田製作所"),
        ("合同会社さくら", "さくら(同)"),
        ("合資会社田中屋", "田中屋"),
        ("合名会社田中屋", "田中屋"),
        ("一般社団法人 日本ABC協会", "(一社)日本ABC協会"),
        ("特定非営利活動法人ふるさと", "NPO法人ふるさと"),
        ("パン工房・さくら", "パン工房さくら"),
        ("パン工房･さくら", "パン工房 さくら"),  # half-width 中黒
        ("ABC Trading Co., Ltd.", "abc trading"),
        ("ABC Trading Co.,Ltd", "ABC TRADING"),
        ("ABC Trading, Inc.", "ABC Trading"),
        ("Yamada K.K.", "yamada"),
        ("Sony Corporation", "SONY"),
    ],
)
def test_name_key_treats_spellings_of_one_name_alike(first: str, second: str) -> None:
    assert name_key(first) == name_key(second)
    assert name_key(first)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ABC商事", "ABC商会"),
        ("カブシキガイシャトヨタ", "トヨタ"),  # a kana reading is not a legal form
        ("ｶﾌﾞｼｷｶﾞｲｼｬﾄﾖﾀ", "トヨタ"),
        ("CoCo壱番屋", "壱番屋"),  # "co" inside a name is not Co.
        ("KKベーカリー", "ベーカリー"),  # KK without dots is part of the name
        ("さくらベーカリー", "サクラベーカリー"),  # hiragana and katakana stay apart
        ("山田製作所", "山田精作所"),
    ],
)
def test_name_key_keeps_different_names_apart(first: str, second: str) -> None:
    assert name_key(first) != name_key(second)


@pytest.mark.parametrize("name", ["株式会社", "㈱", "有限会社 ", "Co., Ltd.", "・", ""])
def test_a_name_that_is_only_a_legal_form_has_no_key(name: str) -> None:
    assert name_key(name) == ""


def _facts(
    name: str = "パン工房さくら",
    *,
    number: str | None = None,
    phone: str | None = None,
    prefecture: str | None = TOKYO,
    municipality: str | None = "世田谷区",
    representative: str | None = None,
) -> BusinessFacts:
    return BusinessFacts(name, number, phone, prefecture, municipality, representative)


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        # 法人番号 settles it either way.
        (
            _facts("国税庁", number=NTA),
            _facts("こくぜいちょう", number=NTA),
            "same_corporate_number",
        ),
        (
            _facts("国税庁", number=NTA, prefecture=TOKYO),
            _facts("国税庁", number="７０００－０１２０５－０００２", prefecture=OSAKA),
            "same_corporate_number",
        ),
        (
            _facts("株式会社さくら", number=NTA, phone="03-1234-5678"),
            _facts("株式会社さくら", number=TOYOTA, phone="03-1234-5678"),
            "different_corporate_number",
        ),
        # A mistyped number is no evidence; the rest decides.
        (
            _facts(number="7000012050003", phone="03-1234-5678"),
            _facts(number=NTA, phone="０３１２３４５６７８"),
            "same_phone",
        ),
        (_facts(number=NTA), _facts(number=None), "same_name_and_place"),
        # Phone numbers, however typed.
        (
            _facts("ABC商事", phone="03-1234-5678"),
            _facts("エービーシー商事", phone="０３１２３４５６７８"),
            "same_phone",
        ),
        (
            _facts(phone="+81 3 1234 5678", prefecture=TOKYO),
            _facts(phone="03(1234)5678", prefecture=OSAKA),
            "same_phone",
        ),
        (_facts("A", phone="03-1234-5678"), _facts("B", phone="03-1234-5679"), "no_evidence"),
        (_facts("A", phone="1234-5678"), _facts("B", phone="1234-5678"), "no_evidence"),
        # Names count only with the place.
        (
            _facts("㈱ＡＢＣ商事", municipality="渋谷区"),
            _facts("ABC商事 株式会社", municipality="渋谷区"),
            "same_name_and_place",
        ),
        (_facts(municipality="世田谷区"), _facts(municipality=None), "same_name_and_place"),
        (_facts(municipality=""), _facts(municipality="世田谷区"), "same_name_and_place"),
        (_facts(prefecture="1"), _facts(prefecture="01"), "same_name_and_place"),
        (_facts(prefecture=TOKYO), _facts(prefecture=OSAKA), "different_place"),
        (
            _facts(municipality="世田谷区"),
            _facts(municipality="練馬区"),
            "different_place",
        ),
        (_facts(prefecture=None), _facts(prefecture=None), "different_place"),
        (_facts(prefecture=TOKYO), _facts(prefecture=None), "different_place"),
        (
            _facts(representative="山田　太郎"),
            _facts(representative="山田 太郎"),
            "same_name_and_place",
        ),
        (
            _facts(representative="山田太郎"),
            _facts(representative="佐藤花子"),
            "different_representative",
        ),
        (_facts(representative="山田太郎"), _facts(representative=None), "same_name_and_place"),
        (_facts("株式会社"), _facts("株式会社"), "no_evidence"),
        (_facts("パン工房さくら"), _facts("パン工房もみじ"), "no_evidence"),
    ],
)
def test_compare(a: BusinessFacts, b: BusinessFacts, reason: str) -> None:
    verdict = compare(a, b)
    assert verdict.reason == reason
    assert verdict.same is reason.startswith("same_")
    assert compare(b, a) == verdict  # the order of the records never matters


SAKURA_SETAGAYA = _facts(municipality="世田谷区", phone="03-1111-2222")
SAKURA_OSAKA = _facts(prefecture=OSAKA, municipality="北区", phone="06-1111-2222")
SAKURA_WITH_NUMBER = _facts("株式会社パン工房さくら", number=NTA, municipality="世田谷区")
MOMIJI = _facts("パン工房もみじ", phone="03-3333-4444")


@pytest.mark.parametrize(
    ("candidate", "existing", "expected"),
    [
        (
            _facts(municipality=None),
            [SAKURA_OSAKA, SAKURA_SETAGAYA],
            Match(SAKURA_SETAGAYA, MatchReason.SAME_NAME_AND_PLACE),
        ),
        (
            _facts(prefecture=OSAKA, municipality="北区"),
            [SAKURA_SETAGAYA, SAKURA_OSAKA],
            Match(SAKURA_OSAKA, MatchReason.SAME_NAME_AND_PLACE),
        ),
        # A phone beats a name: the Setagaya bakery moved its number to the Momiji record.
        (
            _facts(phone="03-3333-4444"),
            [SAKURA_SETAGAYA, MOMIJI],
            Match(MOMIJI, MatchReason.SAME_PHONE),
        ),
        # The corporate number beats everything, wherever it stands.
        (
            _facts(number=NTA, phone="03-1111-2222"),
            [SAKURA_SETAGAYA, SAKURA_WITH_NUMBER],
            Match(SAKURA_WITH_NUMBER, MatchReason.SAME_CORPORATE_NUMBER),
        ),
        # Another corporate number vetoes a shared phone; the next record still counts.
        (
            _facts(number=TOYOTA, phone="03-1111-2222"),
            [SAKURA_WITH_NUMBER, SAKURA_SETAGAYA],
            Match(SAKURA_SETAGAYA, MatchReason.SAME_PHONE),
        ),
        (_facts(prefecture="14", municipality="横浜市"), [SAKURA_SETAGAYA, SAKURA_OSAKA], None),
        (_facts("パン工房さくら"), [], None),
    ],
)
def test_find_match_picks_the_strongest_evidence(
    candidate: BusinessFacts, existing: list[BusinessFacts], expected: Match | None
) -> None:
    assert find_match(candidate, iter(existing)) == expected


def test_find_match_takes_the_first_of_equally_strong_matches() -> None:
    first = _facts(municipality="世田谷区", representative="山田太郎")
    second = _facts(municipality=None)
    assert find_match(_facts(municipality=None), [first, second]) == Match(
        first, MatchReason.SAME_NAME_AND_PLACE
    )
