"""What every area's models share: the field types (money, ids, codes, countries, addresses),
the two base classes, and the answers of no particular area (health, errors)."""

from __future__ import annotations

import re
from decimal import Decimal
from ipaddress import ip_address
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from ..domain.countries import COUNTRY_CODES
from ..domain.currencies import CURRENCY_CODES
from ..domain.money import InvalidMoney, fmt, parse_money

MONEY_PATTERN = r"^\d{1,12}(\.\d{1,2})?$"


def _money_in(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('must be a decimal string such as "12.50", not a JSON number')
    try:
        return parse_money(value)
    except InvalidMoney as exc:
        raise ValueError(str(exc)) from exc


Money = Annotated[
    Decimal,
    BeforeValidator(_money_in),
    PlainSerializer(fmt, return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "example": "12.50"}),
]


def _signed_money_in(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('must be a decimal string such as "10.00" or "-5.00", not a JSON number')
    try:
        return parse_money(value, allow_negative=True)
    except InvalidMoney as exc:
        raise ValueError(str(exc)) from exc


SIGNED_MONEY_PATTERN = r"^-?\d{1,12}(\.\d{1,2})?$"
# an amount that may take away as well as add (a credit adjustment)
SignedMoney = Annotated[
    Decimal,
    BeforeValidator(_signed_money_in),
    PlainSerializer(fmt, return_type=str),
    WithJsonSchema({"type": "string", "pattern": SIGNED_MONEY_PATTERN, "example": "-5.00"}),
]
MoneyOut = Annotated[
    Decimal,
    PlainSerializer(fmt, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "12.50"}),
]


def _country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValueError("must be an ISO 3166-1 alpha-2 code in capitals, such as \"GB\"")
    return value


def _ip(value: str) -> str:
    try:
        return str(ip_address(value))
    except ValueError as exc:
        raise ValueError("must be an IPv4 or IPv6 address") from exc


_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _domain(value: str) -> str:
    value = value.strip().lower()
    if not _DOMAIN_RE.match(value):
        raise ValueError("must be a domain name such as \"example.com\"")
    return value


Country = Annotated[str, AfterValidator(_country), WithJsonSchema({"type": "string", "pattern": "^[A-Z]{2}$"})]
IpAddress = Annotated[str, Field(max_length=45), AfterValidator(_ip)]
DomainName = Annotated[str, Field(max_length=253), AfterValidator(_domain)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
def _currency(value: str) -> str:
    if value not in CURRENCY_CODES:
        raise ValueError("must be an ISO 4217 currency code in capitals, such as \"USD\"")
    return value


Currency = Annotated[str, AfterValidator(_currency), WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$",
                                                                     "example": "USD"})]
BillingCycle = Literal[
    "one-time", "monthly", "quarterly", "semi-annually", "annually", "biennially", "triennially"
]
DateOrTimestamp = Annotated[
    str,
    Field(max_length=40, pattern=r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"),
]


class Strict(BaseModel):
    # defer_build: a model's validator is built when first used, not when its class is made
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True, defer_build=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)


class HealthOut(Out):
    status: Literal["ok"]


class ErrorBody(Out):
    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class ErrorOut(Out):
    error: ErrorBody
