"""ISO 4217 currencies: which three-letter codes are currencies, and each one's exponent (the
digits of its minor unit: JPY 0, USD 2, KWD 3).

OrderDesk keeps money with two places (`domain.money`); an amount is valid in a currency when it
has no more places than the currency has (¥1500.00 is, ¥1500.50 is not: there is no half yen).
Codes in active use only: funds codes that are units of account (BOV, CHE, CHW, CLF, COU, MXV,
USN, UYI, UYW), precious metals, SDRs and test codes are not money an invoice is paid in. The
gateways that count in their own minor units (Stripe) map from these in `adapters.gateways`."""

from __future__ import annotations

from decimal import Decimal

_ZERO = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF",
         "XPF")
_THREE = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")
_TWO = (
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
    "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP", "CVE", "CZK",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK",
    "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON",
    "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VED", "VES", "WST",
    "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
)

EXPONENTS: dict[str, int] = {**{c: 0 for c in _ZERO}, **{c: 2 for c in _TWO}, **{c: 3 for c in _THREE}}
CURRENCY_CODES = frozenset(EXPONENTS)


def is_currency(code: str) -> bool:
    return code in CURRENCY_CODES


def exponent(code: str) -> int:
    """The digits of the currency's minor unit; KeyError for a code that is no currency."""
    return EXPONENTS[code.upper()]


def places(amount: Decimal) -> int:
    """The decimal places `amount` really uses (12.50 → 1, 12.00 → 0, 12.345 → 3)."""
    normal = amount.normalize()
    exp = normal.as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def fits(amount: Decimal, code: str) -> bool:
    """`amount` has no finer part than the currency's minor unit (¥1500.00 yes, ¥1500.50 no)."""
    return places(amount) <= exponent(code)
