from __future__ import annotations

import pytest

from core.domain.corporate_number import (
    check_digit,
    is_valid_corporate_number,
    normalize_corporate_number,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("7000012050002", "7000012050002"),  # 国税庁
        ("4000012090001", "4000012090001"),  # 経済産業省
        ("1180301018771", "1180301018771"),  # トヨタ自動車株式会社
        ("5010401067252", "5010401067252"),  # ソニーグループ株式会社
        ("5010001008846", "5010001008846"),  # 株式会社三菱ＵＦＪ銀行
        ("８１２０００１０５９６５２", "8120001059652"),  # 積水ハウス, full-width
        ("7000-01-205-0002", "7000012050002"),
        ("7000 0120 5000 2", "7000012050002"),
        ("７０００－０１２０５－０００２", "7000012050002"),
        ("7010401067252", None),  # Sony with the check digit mistyped
        ("7000012050003", None),  # last digit mistyped: the check digit catches it
        ("7000021050002", None),  # two digits swapped
        ("6000012050002", None),
        ("T7000012050002", None),  # an invoice registration number, not the bare number
        ("700001205000", None),  # 12 digits
        ("70000120500021", None),  # 14 digits
        ("7000O12050002", None),  # letter O for zero
        ("", None),
    ],
)
def test_normalize_corporate_number(typed: str, expected: str | None) -> None:
    assert normalize_corporate_number(typed) == expected
    assert is_valid_corporate_number(typed) is (expected is not None)


@pytest.mark.parametrize(
    ("base", "expected"),
    [("000012050002", 7), ("180301018771", 1), ("010401067252", 5), ("000000000000", 9)],
)
def test_check_digit(base: str, expected: int) -> None:
    assert check_digit(base) == expected


@pytest.mark.parametrize("base", ["00001205000", "0000120500021", "00001205000X"])
def test_check_digit_refuses_anything_but_twelve_digits(base: str) -> None:
    with pytest.raises(ValueError, match="12 base digits"):
        check_digit(base)
