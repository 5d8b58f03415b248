"""Clients, affiliates and servers: the reference data orders point at."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, EmailStr, Field, model_validator

from ..config import get_settings
from ..domain.outbound import host_refusal, url_for_viewers, url_refusal
from .common import Country, MoneyOut, Out, ShortText, Strict

# a webhook's signing secret keys an HMAC: short ones can be guessed offline from one request
MIN_SIGNING_SECRET = 16


def _outbound_url(value: str) -> str:
    why = url_refusal(value, allow_loopback=get_settings().allow_loopback_outbound)
    if why:  # the message never quotes the URL: it may be the credential
        raise ValueError(why)
    return value


def _outbound_host(value: str) -> str:
    why = host_refusal(value, allow_loopback=get_settings().allow_loopback_outbound)
    if why:
        raise ValueError(why)
    return value


class ClientIn(Strict):
    first_name: ShortText
    last_name: ShortText
    email: EmailStr = Field(max_length=254)
    company: Annotated[str, Field(max_length=200)] | None = None
    country: Country
    address: Annotated[str, Field(max_length=500)] | None = None
    phone: Annotated[str, Field(max_length=40, pattern=r"^[0-9 +().-]{3,40}$")] | None = None


class AffiliateIn(Strict):
    name: ShortText
    email: EmailStr = Field(max_length=254)


class ServerIn(Strict):
    name: ShortText
    module: Literal["none", "webhook", "cpanel"]
    hostname: Annotated[str, Field(max_length=253, pattern=r"^[A-Za-z0-9.-]+(:\d{1,5})?$"),
                        AfterValidator(_outbound_host)] | None = None
    url: Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s]+$",
                              description="https, a public address, no credentials (they go in `credentials`)"),
                   AfterValidator(_outbound_url)] | None = None
    username: Annotated[str, Field(max_length=100)] | None = None
    credentials: Annotated[str, Field(min_length=1, max_length=4000)] | None = Field(
        default=None, description="Write-only: an API token, password or signing secret. Never returned."
    )

    @model_validator(mode="after")
    def _target(self) -> ServerIn:
        if self.module == "webhook" and not self.url:
            raise ValueError("url: a webhook server needs a url")
        if self.module == "webhook" and len(self.credentials or "") < MIN_SIGNING_SECRET:
            raise ValueError(f"credentials: a webhook server needs its signing secret, {MIN_SIGNING_SECRET} "
                             "characters or more")
        if self.module == "cpanel" and not self.hostname:
            raise ValueError("hostname: a cpanel server needs a hostname")
        return self


class ClientQuery(Strict):
    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class ClientOut(Out):
    id: str
    first_name: str
    last_name: str
    email: str
    company: str | None
    country: str
    address: str | None
    phone: str | None
    credit_balance: MoneyOut
    created_at: str


class ClientListOut(Out):
    clients: list[ClientOut]


class AffiliateOut(Out):
    id: str
    name: str
    email: str
    created_at: str


class AffiliateListOut(Out):
    affiliates: list[AffiliateOut]


class ServerOut(Out):
    id: str
    name: str
    module: str
    hostname: str | None
    # no userinfo, no credential in the query: URLs saved before they were refused may have them
    url: Annotated[str, AfterValidator(url_for_viewers)] | None
    username: str | None
    has_credentials: bool
    created_at: str


class ServerListOut(Out):
    servers: list[ServerOut]
