"""Money is Decimal with two places; in JSON it is a string such as "12.50", never a float."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_MONEY_RE = re.compile(r"^-?\d{1,12}(\.\d{1,2})?$")


class InvalidMoney(ValueError):
    pass


def parse_money(value: object, *, allow_negative: bool = False) -> Decimal:
    """Parse a decimal string strictly: no floats, no exponents, at most two places."""
    if isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvalidMoney("must be a decimal string such as \"12.50\"")
    if not _MONEY_RE.match(text):
        raise InvalidMoney("must be a decimal string with at most two places, such as \"12.50\"")
    try:
        amount = Decimal(text).quantize(CENT)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise InvalidMoney("is not a number") from exc
    if amount < 0 and not allow_negative:
        raise InvalidMoney("must not be negative")
    return amount


def quantize(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_sum(amounts: Iterable[Decimal]) -> Decimal:
    return quantize(sum(amounts, ZERO))


def fmt(amount: Decimal) -> str:
    return format(quantize(amount), "f")
