"""Order actions (accept, cancel, fraud, ...): what starts one and how one is shown."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import Code, Id, Out, Strict


class AcceptItemIn(Strict):
    server_id: Id | None = None
    username: Annotated[str, Field(max_length=64, pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    password: Annotated[str, Field(min_length=8, max_length=128)] | None = Field(
        default=None, description="Write-only: stored encrypted, never returned or logged."
    )
    registrar: Code | None = None
    run_module_create: bool = True
    send_to_registrar: bool = True


class AcceptIn(Strict):
    items: dict[Id, AcceptItemIn] = Field(default_factory=dict)
    send_welcome_email: bool = True


class CancelIn(Strict):
    refund: bool = False


class ItemCommandIn(Strict):
    command: Annotated[Literal["create", "suspend", "unsuspend", "terminate", "register"], Field(
        description="create, register: support; suspend, unsuspend, terminate: billing")]
    item_ids: Annotated[list[Id], Field(min_length=1, max_length=50)]


class ActionStepOut(Out):
    name: str
    status: str
    error: str | None


class ActionOut(Out):
    id: str
    order_id: str
    type: str
    status: Literal["RUNNING", "SUCCEEDED", "FAILED"]
    steps: list[ActionStepOut]
    started_at: str
    finished_at: str | None
    error: str | None


class ActionEnvelope(Out):
    action: ActionOut
