"""Registrars: the event one sends when a domain it was given is done or has failed."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import DomainName, Strict


class RegistrarEventIn(Strict):
    event_id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[!-~]+$", description=(
        "The registrar's id of this event: an id received before is not acted on again (409 duplicate_event)"))]
    domain: DomainName
    status: Literal["active", "failed"]
    detail: Annotated[str, Field(max_length=1000)] | None = None
