"""Clients, affiliates and servers: the reference data orders point at."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, EmailStr, Field, model_validator

from ..config import get_settings
from ..domain.outbound import host_refusal, url_for_viewers, url_refusal
from ..domain.servers import MIN_SIGNING_SECRET as MIN_SIGNING_SECRET
from ..domain.servers import server_problems
from .common import Country, MoneyOut, Out, ShortText, Strict


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


Company = Annotated[str, Field(max_length=200)]
Address = Annotated[str, Field(max_length=500)]
Phone = Annotated[str, Field(max_length=40, pattern=r"^[0-9 +().-]{3,40}$")]
Email = Annotated[EmailStr, Field(max_length=254)]


class ClientIn(Strict):
    first_name: ShortText
    last_name: ShortText
    email: Email
    company: Company | None = None
    country: Country
    address: Address | None = None
    phone: Phone | None = None


def _refuse_null(model: Strict, required: tuple[str, ...]) -> None:
    """An edit leaves out what it keeps; a null is only for a field that may be empty."""
    for name in required:
        if name in model.model_fields_set and getattr(model, name) is None:
            raise ValueError(f"{name}: may not be null (leave it out to keep it)")


class ClientUpdateIn(Strict):
    """PUT /clients/{client_id}: the fields to change; those left out keep their value, and
    `company`, `address` and `phone` are cleared with null."""

    first_name: ShortText | None = None
    last_name: ShortText | None = None
    email: Email | None = None
    company: Company | None = None
    country: Country | None = None
    address: Address | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _no_null_names(self) -> ClientUpdateIn:
        _refuse_null(self, ("first_name", "last_name", "email", "country"))
        if not self.model_fields_set:
            raise ValueError("body: give at least one field to change")
        return self


class AffiliateIn(Strict):
    name: ShortText
    email: EmailStr = Field(max_length=254)


Module = Literal["none", "webhook", "cpanel"]
Hostname = Annotated[str, Field(max_length=253, pattern=r"^[A-Za-z0-9.-]+(:\d{1,5})?$"),
                     AfterValidator(_outbound_host)]
Url = Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s]+$",
                           description="https, a public address, no credentials (they go in `credentials`)"),
                AfterValidator(_outbound_url)]
Username = Annotated[str, Field(max_length=100)]
Credentials = Annotated[str, Field(min_length=1, max_length=4000)]


class ServerIn(Strict):
    name: ShortText
    module: Module
    hostname: Hostname | None = None
    url: Url | None = None
    username: Username | None = None
    credentials: Credentials | None = Field(
        default=None, description="Write-only: an API token, password or signing secret. Never returned."
    )

    @model_validator(mode="after")
    def _target(self) -> ServerIn:
        problems = server_problems(self.module, url=self.url, hostname=self.hostname, credentials=self.credentials,
                                   username=self.username)
        if problems:
            name, why = next(iter(problems.items()))
            raise ValueError(f"{name}: {why}")
        return self


class ServerUpdateIn(Strict):
    """PUT /servers/{server_id}: the fields to change; those left out keep their value, and
    `hostname`, `url` and `username` are cleared with null. `credentials` is write-only: left out,
    the stored ones stay; given, they replace them (never null). What the module needs is checked
    on the server as the edit leaves it."""

    name: ShortText | None = None
    module: Module | None = None
    hostname: Hostname | None = None
    url: Url | None = None
    username: Username | None = None
    credentials: Credentials | None = Field(
        default=None, description="Write-only: left out, the stored credentials stay; given, they replace them.")

    @model_validator(mode="after")
    def _no_null_names(self) -> ServerUpdateIn:
        _refuse_null(self, ("name", "module", "credentials"))
        if not self.model_fields_set:
            raise ValueError("body: give at least one field to change")
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


class ServerCheckOut(Out):
    ok: bool = Field(description="the module reached its system with the server's credentials")
    detail: str = Field(description="what it answered, or why the test failed (never a credential)")
    module: str
    checked_at: str


class RegistrarOut(Out):
    name: str = Field(description="what a domain item's `registrar` takes")
    label: str
    description: str
    default: bool


class RegistrarListOut(Out):
    registrars: list[RegistrarOut]
