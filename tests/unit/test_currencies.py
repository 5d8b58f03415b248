"""ISO 4217 currencies and Stripe's minor units: each currency's real exponent, in both directions,
never rounded (SPEC §9, issue 17's money in other currencies)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderdesk.adapters.gateways import from_minor_units, minor_units
from orderdesk.domain import currencies
from orderdesk.domain.errors import GatewayError


@pytest.mark.parametrize(("code", "exponent"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("ISK", 0),
                                                ("KWD", 3), ("BHD", 3), ("TND", 3)])
def test_each_currency_has_its_iso_4217_exponent(code: str, exponent: int) -> None:
    assert currencies.is_currency(code) and currencies.exponent(code) == exponent


@pytest.mark.parametrize("code", ["XYZ", "ABC", "usd", "US", "XAU", "XTS", "HRK"])
def test_three_letters_are_not_a_currency_unless_iso_4217_lists_them_in_use(code: str) -> None:
    # GIVEN made-up codes, lower case, precious metals, the test code and a withdrawn currency
    # THEN none of them is money an invoice can be in
    assert not currencies.is_currency(code)


@pytest.mark.parametrize(("amount", "code", "units"), [
    ("12.50", "USD", 1250), ("0.01", "USD", 1), ("1500.00", "JPY", 1500), ("1500", "JPY", 1500),
    ("12.50", "KWD", 12500), ("0.10", "BHD", 100), ("40.00", "ISK", 4000), ("1000.00", "UGX", 1000),
])
def test_stripe_amounts_use_the_currencys_minor_unit(amount: str, code: str, units: int) -> None:
    # GIVEN an amount in a currency WHEN converted to Stripe's units and back THEN both are exact
    assert minor_units(Decimal(amount), code) == units
    assert minor_units(Decimal(amount), code.lower()) == units
    assert from_minor_units(units, code) == Decimal(amount)


@pytest.mark.parametrize(("amount", "code"), [("1500.50", "JPY"), ("0.01", "KRW"), ("40.10", "ISK"),
                                              ("100.50", "MGA")])
def test_an_amount_finer_than_the_currency_is_refused_not_rounded(amount: str, code: str) -> None:
    # GIVEN a yen fraction (and Stripe's whole-unit currencies)
    # WHEN converted for Stripe THEN it is refused: a refund of another amount is worse than none
    with pytest.raises(GatewayError):
        minor_units(Decimal(amount), code)


def test_places_counts_what_an_amount_really_uses() -> None:
    assert [currencies.places(Decimal(a)) for a in ("12", "12.00", "12.50", "12.345")] == [0, 0, 1, 3]
    assert currencies.fits(Decimal("1500.00"), "JPY") and not currencies.fits(Decimal("12.345"), "USD")
