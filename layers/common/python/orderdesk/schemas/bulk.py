"""Bulk status changes and deletes, and the jobs that work them off."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..domain.statuses import OrderStatus
from .common import Id, Out, Strict


class BulkIn(Strict):
    order_ids: Annotated[list[Id], Field(min_length=1, max_length=1000)]
    status: OrderStatus | None = None
    delete: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> BulkIn:
        if (self.status is None) == (not self.delete):
            raise ValueError("status: give either a status or delete: true")
        return self


class BulkJobSummary(Out):
    id: str
    status: Literal["QUEUED", "RUNNING", "DONE"]
    total: int


class BulkJobEnvelope(Out):
    job: BulkJobSummary


class BulkFailureOut(Out):
    order_id: str
    error: str


class BulkJobOut(Out):
    id: str
    status: Literal["QUEUED", "RUNNING", "DONE"]
    total: int
    succeeded: int
    failed: int
    failures: list[BulkFailureOut]
