"""The break-even calculator (損益分岐点): how much must the business sell to carry on?

The national review of the hubs says most small businesses do not know this figure, and
that seeing it is what makes an owner take profitability seriously (採算の可視化). The
sums are the textbook ones, done in Decimal so that a figure an owner checks with a
calculator comes out the same to the yen:

* 限界利益 (marginal profit) = sales − variable costs
* 限界利益率 (marginal profit ratio) = marginal profit ÷ sales
* 損益分岐点売上高 (break-even sales) = fixed costs ÷ marginal profit ratio
* 安全余裕率 (safety margin ratio) = (sales − break-even sales) ÷ sales

When the marginal profit is zero or less, every extra sale loses money and no amount of
selling breaks even: the result says so (`break_even_sales is None`) instead of showing a
negative or infinite figure that an owner could misread.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final

THIN_MARGIN_BELOW: Final = Decimal("10")
"""A safety margin under 10% is thin: a bad month or one lost customer tips into loss.

The usual rule of thumb in Japanese management guidance reads under 10% as 要注意."""

_PERCENT_STEP: Final = Decimal("0.1")
_HUNDRED: Final = Decimal(100)


class Verdict(StrEnum):
    """What the figures mean, in the words the owner will read (catalog keys follow these)."""

    HEALTHY = "healthy"
    """Profitable with room to spare."""
    THIN = "thin"
    """Profitable (or exactly even), but sales could fall only a little before a loss."""
    LOSS = "loss"
    """The marginal profit does not cover the fixed costs: sales are below break-even."""
    NO_MARGIN = "no_margin"
    """Variable costs eat all of the sales (or there are none): no break-even exists."""


@dataclass(frozen=True)
class BreakEven:
    sales: int
    variable_costs: int
    fixed_costs: int
    marginal_profit: int
    """Yen; negative when variable costs exceed sales."""
    marginal_profit_ratio: Decimal | None
    """Percent with one decimal; None without sales (nothing to divide by)."""
    break_even_sales: int | None
    """Yen, rounded up (selling one yen less would lose money); None when none exists."""
    safety_margin_ratio: Decimal | None
    """Percent with one decimal, negative below break-even; None when no break-even exists."""
    operating_profit: int
    """Marginal profit − fixed costs (営業利益 in this simple model), negative for a loss."""
    verdict: Verdict

    @property
    def sales_gap(self) -> int | None:
        """Sales − break-even sales: how far sales may fall (>0) or must rise (<0), in yen."""
        return None if self.break_even_sales is None else self.sales - self.break_even_sales

    def to_json(self) -> dict[str, str | int | None]:
        """Ratios as strings so the stored figures are exactly the ones the owner saw."""
        return {
            "sales": self.sales,
            "variable_costs": self.variable_costs,
            "fixed_costs": self.fixed_costs,
            "marginal_profit": self.marginal_profit,
            "marginal_profit_ratio": _str(self.marginal_profit_ratio),
            "break_even_sales": self.break_even_sales,
            "safety_margin_ratio": _str(self.safety_margin_ratio),
            "operating_profit": self.operating_profit,
            "sales_gap": self.sales_gap,
            "verdict": self.verdict.value,
        }


def calculate(sales: int, variable_costs: int, fixed_costs: int) -> BreakEven:
    """Annual figures in yen (any consistent period works) → the break-even analysis."""
    for name, value in (
        ("sales", sales),
        ("variable_costs", variable_costs),
        ("fixed_costs", fixed_costs),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int amount of yen")
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    marginal = sales - variable_costs
    ratio = _percent(Decimal(marginal) / Decimal(sales)) if sales else None
    operating = marginal - fixed_costs
    if marginal <= 0:
        return BreakEven(
            sales=sales,
            variable_costs=variable_costs,
            fixed_costs=fixed_costs,
            marginal_profit=marginal,
            marginal_profit_ratio=ratio,
            break_even_sales=None,
            safety_margin_ratio=None,
            operating_profit=operating,
            verdict=Verdict.NO_MARGIN,
        )
    # fixed ÷ (marginal ÷ sales), kept as one exact division so no rounded ratio leaks in.
    exact_break_even = Decimal(fixed_costs) * Decimal(sales) / Decimal(marginal)
    break_even = int(exact_break_even.to_integral_value(rounding=ROUND_CEILING))
    # (sales − fixed·sales/marginal) ÷ sales simplifies to (marginal − fixed) ÷ marginal.
    safety = _percent(Decimal(operating) / Decimal(marginal))
    return BreakEven(
        sales=sales,
        variable_costs=variable_costs,
        fixed_costs=fixed_costs,
        marginal_profit=marginal,
        marginal_profit_ratio=ratio,
        break_even_sales=break_even,
        safety_margin_ratio=safety,
        operating_profit=operating,
        verdict=_verdict(operating, safety),
    )


def _verdict(operating_profit: int, safety: Decimal) -> Verdict:
    if operating_profit < 0:
        return Verdict.LOSS
    if safety < THIN_MARGIN_BELOW:
        return Verdict.THIN
    return Verdict.HEALTHY


def _percent(fraction: Decimal) -> Decimal:
    return (fraction * _HUNDRED).quantize(_PERCENT_STEP, rounding=ROUND_HALF_UP)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def round_to_man(amount: int) -> int:
    """Yen rounded to the nearest 10,000 (万円), as people say figures aloud; at least 1万.

    A gap of a few thousand yen still reads "about ¥10,000" rather than "about ¥0".
    """
    if amount == 0:
        return 0
    sign = -1 if amount < 0 else 1
    man = (Decimal(abs(amount)) / 10_000).to_integral_value(rounding=ROUND_HALF_UP)
    return sign * max(int(man), 1) * 10_000
