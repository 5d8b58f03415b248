"""Exports of the orders list (POST /exports, GET /exports/{export_id}): the filters are those of
GET /orders, taken from its query model so the two never differ."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, create_model

from .common import Out, Strict
from .orders import OrderQuery

_PAGING = ("limit", "cursor")  # the list's paging, not a filter: an export has every page

if TYPE_CHECKING:  # for the type checker, the list's query model (the same fields, less the paging)
    ExportFilters = OrderQuery
else:
    ExportFilters = create_model(
        "ExportFilters", __base__=Strict, __module__=__name__,
        __doc__="The filters of GET /orders (JSON values: `\"attention\": true`, `\"min_total\": \"20.00\"`).",
        **{name: (info.annotation, info) for name, info in OrderQuery.model_fields.items() if name not in _PAGING},
    )


class ExportIn(Strict):
    # required, even when empty: a request with no body (or `{}`) is a mistake to refuse, not an
    # export of every order started in the background
    filters: ExportFilters = Field(description="as GET /orders takes them; {}: every order")


class ExportOut(Out):
    id: str
    status: Literal["RUNNING", "DONE", "FAILED"]
    rows: int = Field(description="orders written so far; every one of them once DONE")
    url: str | None = Field(description="once DONE: the file (CSV, UTF-8), valid until `url_expires_at`; "
                                        "read GET /exports/{export_id} again for a fresh one")
    url_expires_at: str | None
    file_name: str | None
    filters: dict[str, Any]
    requested_by: str
    created_at: str
    finished_at: str | None
    error: str | None = Field(description="why it FAILED")


class ExportEnvelope(Out):
    export: ExportOut
