from __future__ import annotations

from datetime import date

import pytest

from core.text.normalize import (
    DatePrecision,
    PartialDate,
    fold_whitespace,
    format_phone,
    normalize_phone,
    normalize_postal_code,
    normalize_text,
    parse_date,
    parse_int,
    parse_yen,
    phone_e164,
)

DAY = DatePrecision.DAY
MONTH = DatePrecision.MONTH
YEAR = DatePrecision.YEAR


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ＡＢＣ商事", "ABC商事"),
        ("ｶﾌﾞｼｷｶﾞｲｼｬ", "カブシキガイシャ"),  # half-width kana with dakuten joins up
        ("令和５年　４月", "令和5年 4月"),  # ideographic space folds into one ASCII space
        ("  山田\t\n太郎  ", "山田 太郎"),
        ("㈱さくら", "(株)さくら"),
        ("㍻31年", "平成31年"),
        ("", ""),
    ],
)
def test_normalize_text_unifies_width_and_whitespace(typed: str, expected: str) -> None:
    assert normalize_text(typed) == expected


def test_fold_whitespace_leaves_width_alone() -> None:
    assert fold_whitespace("ＡＢＣ　　商事") == "ＡＢＣ 商事"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("03-1234-5678", "0312345678"),
        ("０３（１２３４）５６７８", "0312345678"),
        ("(03)1234-5678", "0312345678"),
        ("03ー1234ー5678", "0312345678"),  # IME long-vowel mark typed for the hyphen
        ("03−1234−5678", "0312345678"),  # minus sign
        ("+81 3 1234 5678", "0312345678"),
        ("+81-90-1234-5678", "09012345678"),
        ("+81 (0)3-1234-5678", "0312345678"),
        ("＋８１　９０　１２３４　５６７８", "09012345678"),
        ("090-1234-5678", "09012345678"),
        ("050.1234.5678", "05012345678"),
        ("0120-123-456", "0120123456"),
        ("0570-000-123", "0570000123"),
        ("0800-123-4567", "08001234567"),
        ("TEL：０６-６１２３-４５６７", "0661234567"),
        ("0995-12-3456", "0995123456"),  # four-digit area code, Kagoshima
        ("1234-5678", None),  # no area code
        ("090-1234-567", None),  # a mobile number is 11 digits
        ("03-1234-56789", None),  # a Tokyo number is 10 digits
        ("03-0123-4567", None),  # no Tokyo number has 0 after the area code
        ("010-1234-5678", None),  # international call prefix
        ("00-1234-5678", None),
        ("+1 212 555 1234", None),  # not Japan
        ("81 3 1234 5678", None),  # country code without the plus is ambiguous
        ("2023年4月1日", None),
        ("03-1234-5678 内線12", None),
        ("", None),
    ],
)
def test_normalize_phone(typed: str, expected: str | None) -> None:
    assert normalize_phone(typed) == expected


@pytest.mark.parametrize(
    ("digits", "written"),
    [
        ("0312345678", "03-1234-5678"),
        ("0995123456", "0995-12-3456"),
        ("0120123456", "0120-123-456"),
        ("09012345678", "090-1234-5678"),
        ("+81312345678", "03-1234-5678"),  # a hub's phone, stored as E.164
        ("not a number", "not a number"),
    ],
)
def test_format_phone_writes_it_as_japanese_numbers_are_written(digits: str, written: str) -> None:
    assert format_phone(digits) == written


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("０３（１２３４）５６７８", "+81312345678"),
        ("+81 (0)6 6123 4567", "+81661234567"),
        ("0120-123-456", "+81120123456"),
        ("81 3 1234 5678", None),  # refused as normalize_phone refuses it
        ("03-1234", None),
    ],
)
def test_phone_e164_dials_what_normalize_phone_reads(typed: str, e164: str | None) -> None:
    assert phone_e164(typed) == e164


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("〒123-4567", "123-4567"),
        ("１２３４５６７", "123-4567"),
        ("〒 １００ー８９７８", "100-8978"),
        ("100 8978", "100-8978"),
        ("1000-897", None),
        ("12345678", None),
        ("123-456", None),
        ("東京都千代田区", None),
    ],
)
def test_normalize_postal_code(typed: str, expected: str | None) -> None:
    assert normalize_postal_code(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2023年4月1日", PartialDate(date(2023, 4, 1), DAY)),
        ("２０２３年４月１日", PartialDate(date(2023, 4, 1), DAY)),
        ("2023年 4月 1日(土)", PartialDate(date(2023, 4, 1), DAY)),
        ("2023/4/1", PartialDate(date(2023, 4, 1), DAY)),
        ("2023-04-01", PartialDate(date(2023, 4, 1), DAY)),
        ("2023.4.1", PartialDate(date(2023, 4, 1), DAY)),
        ("西暦2023年4月", PartialDate(date(2023, 4, 1), MONTH)),
        ("2023年4月", PartialDate(date(2023, 4, 1), MONTH)),
        ("2023/4", PartialDate(date(2023, 4, 1), MONTH)),
        ("2023年", PartialDate(date(2023, 1, 1), YEAR)),
        ("R5.4.1", PartialDate(date(2023, 4, 1), DAY)),
        ("r5/4/1", PartialDate(date(2023, 4, 1), DAY)),
        ("Ｒ５．４．１", PartialDate(date(2023, 4, 1), DAY)),
        ("令和5年4月", PartialDate(date(2023, 4, 1), MONTH)),
        ("令和5年", PartialDate(date(2023, 1, 1), YEAR)),
        ("R5", PartialDate(date(2023, 1, 1), YEAR)),
        ("㋿5年4月1日", PartialDate(date(2023, 4, 1), DAY)),
        ("令和元年5月1日", PartialDate(date(2019, 5, 1), DAY)),
        ("令和元年", PartialDate(date(2019, 1, 1), YEAR)),
        ("平成31年4月30日", PartialDate(date(2019, 4, 30), DAY)),
        ("H31.4.30", PartialDate(date(2019, 4, 30), DAY)),
        ("平成31年", PartialDate(date(2019, 1, 1), YEAR)),
        ("平成元年1月8日", PartialDate(date(1989, 1, 8), DAY)),
        ("平成元年1月", PartialDate(date(1989, 1, 1), MONTH)),  # Heisei began within it
        ("昭和64年1月7日", PartialDate(date(1989, 1, 7), DAY)),
        ("S64.1", PartialDate(date(1989, 1, 1), MONTH)),
        ("昭和元年12月25日", PartialDate(date(1926, 12, 25), DAY)),
        ("大正15年12月24日", PartialDate(date(1926, 12, 24), DAY)),
        ("大正元年7月30日", PartialDate(date(1912, 7, 30), DAY)),
        ("明治45年7月29日", PartialDate(date(1912, 7, 29), DAY)),
        ("㍾10年", PartialDate(date(1877, 1, 1), YEAR)),
        ("2024年2月29日", PartialDate(date(2024, 2, 29), DAY)),
    ],
)
def test_parse_date_reads_what_people_type(typed: str, expected: PartialDate) -> None:
    assert parse_date(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "創業予定",
        "未定",
        "来年の春",
        "2023",  # a bare number is not taken as a year
        "平成32年",  # Heisei ended in its 31st year
        "平成31年5月",  # Reiwa by then
        "平成31年5月1日",
        "昭和64年1月8日",  # Heisei from 8 January 1989
        "昭和64年2月",
        "令和元年4月30日",  # still Heisei
        "令和元年4月",
        "平成元年1月7日",  # still Showa
        "大正15年12月25日",
        "明治45年7月30日",
        "令和0年",
        "2023年2月29日",  # not a leap year
        "2023年13月",
        "2023/4-1",  # mixed separators
        "23/4/1",  # two-digit years are ambiguous
        "2023年4月1",
        "",
    ],
)
def test_parse_date_refuses_non_dates_and_impossible_eras(typed: str) -> None:
    assert parse_date(typed) is None


@pytest.mark.parametrize(
    ("typed", "day_missing"),
    [("2023年4月1日", False), ("2023年4月", True), ("令和5年", True)],
)
def test_partial_date_says_when_the_day_was_missing(typed: str, day_missing: bool) -> None:
    parsed = parse_date(typed)
    assert parsed is not None
    assert parsed.day_missing is day_missing


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("１２人", 12),
        ("約30名", 30),
        ("30人くらい", 30),
        ("３０名程度", 30),
        ("およそ 8 人", 8),
        ("1,200", 1200),
        ("1,200人", 1200),
        ("0人", 0),
        ("1.2万人", 12000),
        ("5~10人", None),  # a range
        ("５〜１０人", None),
        ("3人以上", None),  # a bound, not a count
        ("2.5人", None),
        ("十二人", None),  # kanji numerals are not read
        ("12,00", None),  # misplaced thousands separator
        ("-3", None),
        ("未定", None),
        ("", None),
    ],
)
def test_parse_int(typed: str, expected: int | None) -> None:
    assert parse_int(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1,200万円", 12_000_000),
        ("１，２００万円", 12_000_000),
        ("3億", 300_000_000),
        ("3億円", 300_000_000),
        ("500千円", 500_000),
        ("100百万円", 100_000_000),  # 百万円 as financial statements write it
        ("3千万円", 30_000_000),
        ("1200", 1200),
        ("1億2000万円", 120_000_000),
        ("1億2千万円", 120_000_000),
        ("1万2345円", 12_345),
        ("1.5億円", 150_000_000),
        ("¥1,200,000", 1_200_000),
        ("￥１２０万", 1_200_000),
        ("約5000万円程度", 50_000_000),
        ("0円", 0),
        ("2000万1億", None),  # units must fall
        ("1万1万", None),
        ("1.23456円", None),
        ("1,20万円", None),
        ("円", None),
        ("万円", None),
        ("非公開", None),
        ("", None),
    ],
)
def test_parse_yen(typed: str, expected: int | None) -> None:
    assert parse_yen(typed) == expected
