"""The break-even calculator: the figures an owner would check with a calculator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.selfcheck import BreakEven, Verdict, calculate, round_to_man

MAN = 10_000


@pytest.mark.parametrize(
    ("sales", "variable", "fixed", "marginal", "ratio", "break_even", "safety", "verdict"),
    [
        # 売上1,200万・変動費700万・固定費400万: 限界利益500万 (41.7%), 分岐点960万, 余裕率20%.
        (1200 * MAN, 700 * MAN, 400 * MAN, 500 * MAN, "41.7", 960 * MAN, "20.0", Verdict.HEALTHY),
        # Just profitable: 5% headroom is thin.
        (1000 * MAN, 600 * MAN, 380 * MAN, 400 * MAN, "40.0", 950 * MAN, "5.0", Verdict.THIN),
        # Exactly at break-even: no profit, no loss; thin, not a loss.
        (1000 * MAN, 600 * MAN, 400 * MAN, 400 * MAN, "40.0", 1000 * MAN, "0.0", Verdict.THIN),
        # Fixed costs above the marginal profit: a loss, sales below break-even.
        (1000 * MAN, 600 * MAN, 500 * MAN, 400 * MAN, "40.0", 1250 * MAN, "-25.0", Verdict.LOSS),
        # No fixed costs: break-even at zero, the whole of sales is margin of safety.
        (300 * MAN, 100 * MAN, 0, 200 * MAN, "66.7", 0, "100.0", Verdict.HEALTHY),
        # Variable costs equal to sales: no marginal profit, no break-even.
        (500 * MAN, 500 * MAN, 100 * MAN, 0, "0.0", None, None, Verdict.NO_MARGIN),
        # Variable costs above sales: every sale loses money.
        (500 * MAN, 600 * MAN, 100 * MAN, -100 * MAN, "-20.0", None, None, Verdict.NO_MARGIN),
        # No sales at all: nothing to divide by.
        (0, 0, 100 * MAN, 0, None, None, None, Verdict.NO_MARGIN),
        (0, 0, 0, 0, None, None, None, Verdict.NO_MARGIN),
    ],
)
def test_figures_and_verdict(
    sales: int,
    variable: int,
    fixed: int,
    marginal: int,
    ratio: str | None,
    break_even: int | None,
    safety: str | None,
    verdict: Verdict,
) -> None:
    result = calculate(sales, variable, fixed)
    assert result.marginal_profit == marginal
    assert result.marginal_profit_ratio == (Decimal(ratio) if ratio else None)
    assert result.break_even_sales == break_even
    assert result.safety_margin_ratio == (Decimal(safety) if safety else None)
    assert result.operating_profit == marginal - fixed
    assert result.verdict is verdict


def test_break_even_is_rounded_up_to_the_yen() -> None:
    # Ratio 3/7, break-even 233.33…: at ¥233 the business still loses money, at ¥234 not.
    result = calculate(700, 400, 100)
    assert result.break_even_sales == 234
    assert result.sales_gap == 700 - 234


def test_percentages_round_half_up_to_one_decimal() -> None:
    # Marginal ratio 1/8 = 12.5% exactly; 1/16 = 6.25% → 6.3%.
    assert calculate(800, 700, 0).marginal_profit_ratio == Decimal("12.5")
    assert calculate(1600, 1500, 0).marginal_profit_ratio == Decimal("6.3")


def test_safety_margin_uses_the_exact_break_even_not_the_rounded_ratio() -> None:
    # Ratio 41.666…%; a rounded 41.7% would give a break-even of 9,592,326 and 20.1%.
    result = calculate(12_000_000, 7_000_000, 4_000_000)
    assert result.break_even_sales == 9_600_000
    assert result.safety_margin_ratio == Decimal("20.0")


def test_the_thin_threshold_is_ten_percent() -> None:
    assert calculate(1000, 0, 900).verdict is Verdict.HEALTHY  # exactly 10.0%
    assert calculate(1000, 0, 901).verdict is Verdict.THIN  # 9.9%


def test_large_amounts_stay_exact() -> None:
    # 3億 sales, 2億1千万 variable, 8千万 fixed: to the yen, no float drift.
    result = calculate(300_000_000, 210_000_000, 80_000_000)
    assert result.break_even_sales == 266_666_667
    assert result.safety_margin_ratio == Decimal("11.1")


def test_stored_form_keeps_what_the_owner_saw() -> None:
    result = calculate(1200 * MAN, 700 * MAN, 400 * MAN)
    assert result.to_json() == {
        "sales": 12_000_000,
        "variable_costs": 7_000_000,
        "fixed_costs": 4_000_000,
        "marginal_profit": 5_000_000,
        "marginal_profit_ratio": "41.7",
        "break_even_sales": 9_600_000,
        "safety_margin_ratio": "20.0",
        "operating_profit": 1_000_000,
        "sales_gap": 2_400_000,
        "verdict": "healthy",
    }
    assert calculate(1, 2, 3).to_json()["break_even_sales"] is None


@pytest.mark.parametrize(
    ("sales", "variable", "fixed", "error"),
    [
        (-1, 0, 0, ValueError),
        (0, -1, 0, ValueError),
        (0, 0, -1, ValueError),
        (1.5, 0, 0, TypeError),
        (True, 0, 0, TypeError),
    ],
)
def test_impossible_inputs_are_refused(
    sales: object, variable: object, fixed: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        calculate(sales, variable, fixed)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [
        (0, 0),
        (2_400_000, 2_400_000),
        (2_345_000, 2_350_000),
        (2_344_999, 2_340_000),
        (3_000, 10_000),
        (-2_345_000, -2_350_000),
    ],
)
def test_amounts_in_sentences_round_to_man(amount: int, rounded: int) -> None:
    assert round_to_man(amount) == rounded


def test_result_is_a_value() -> None:
    assert calculate(10, 5, 1) == calculate(10, 5, 1)
    assert isinstance(calculate(10, 5, 1), BreakEven)
