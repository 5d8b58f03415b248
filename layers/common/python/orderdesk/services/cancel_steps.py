"""The steps of the Cancel, Cancel & Refund and Set as Fraud workflow
(infra/statemachines/cancel_order.asl.json), one per Lambda (`functions/step_terminate_item`,
`step_cancel_invoice`, `step_refund_payment`); it ends with `workflow_runtime.finish`.

A refund is made once per payment: Powertools idempotency keyed on the payment, the gateway's own
idempotency key, and the invoice's refund transactions (`refund_of`) checked under the invoice's
version guard. A gateway with no refund API makes none: the refund is recorded `owed` and its step
says OWED, never SUCCEEDED, until a person pays it back and confirms it (`invoices.confirm_refund`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..adapters.aws import aws_errors_are_transient
from ..adapters.gateways import gateway_for
from ..adapters.idempotency import once_per_key
from ..domain.changes import OrderChange
from ..domain.errors import ConcurrentUpdate, PermanentError
from ..domain.items import has_live_service
from ..domain.model import REFUND_DONE, REFUND_OWED, Transaction, iso, new_id, utcnow
from ..domain.money import fmt
from ..domain.payments import credit_given_back
from ..domain.statuses import ActionType, InvoiceStatus, ItemStatus
from ..retry import retry_on_conflict
from . import module_commands
from .ports import stores
from .workflow_contract import (
    CANCEL_INVOICE_STEP,
    ItemResult,
    RefundInput,
    RefundResult,
    StepDone,
    StepInput,
    TerminateInput,
    as_dict,
)
from .workflow_runtime import change_item, item_of, item_text, owned_order, step


@aws_errors_are_transient
def terminate_item(event: dict[str, Any]) -> dict[str, Any]:
    """Per item with a live account, whatever its status: module terminate (the account removed from
    its server), then the item goes to Cancelled (or Fraud) at once with its account no longer
    live, so a rerun never terminates it again."""
    inp = TerminateInput.parse(event)
    task = inp.item
    final = ItemStatus.FRAUD if inp.action is ActionType.FRAUD else ItemStatus.CANCELLED
    with step(inp, task.step) as outcome:
        order = owned_order(inp)
        item = item_of(order, task.item_id)
        if not has_live_service(item):
            outcome.skip()
            return as_dict(ItemResult(item_id=item.id, step=task.step, status=item.status.value, skipped=True))
        done = module_commands.terminate(inp, order, item, final)
        change_item(inp, item, done.status, inp.history("item terminated", from_=item.status.value, to=final.value,
                                                        detail=f"{item_text(item)}: {done.detail}"), **done.fields)
    return as_dict(ItemResult(item_id=item.id, step=task.step, status=final.value))


@aws_errors_are_transient
def cancel_invoice(event: dict[str, Any]) -> dict[str, Any]:
    """The invoice goes to Cancelled (a Refunded one stays so)."""
    inp = StepInput.parse(event)
    with step(inp, CANCEL_INVOICE_STEP) as outcome:

        def cancel() -> None:
            order = owned_order(inp)
            invoice = order.invoice
            if invoice is None or invoice.status in (InvoiceStatus.CANCELLED, InvoiceStatus.REFUNDED):
                outcome.skip()
                return
            history = inp.history("invoice cancelled", from_=invoice.status.value, to=InvoiceStatus.CANCELLED.value,
                                  detail=invoice.id)
            stores().writes.apply(order, OrderChange(invoice_status=InvoiceStatus.CANCELLED, history=[history]),
                                  holder=inp.action_id)

        retry_on_conflict(cancel)
    return as_dict(StepDone(outcome=InvoiceStatus.CANCELLED.value))


REFUND_SCOPE = "refund"


def refund_key(invoice_id: str, payment_id: str) -> str:
    """The gateway's idempotency key for the one refund of one payment."""
    return f"orderdesk-refund-{invoice_id}-{payment_id}"


@aws_errors_are_transient
def refund_payment(event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
    """Per payment: refund it through the gateway that took it, once."""
    inp = RefundInput.parse(event)
    task = inp.payment
    with step(inp, task.step) as outcome:
        order = owned_order(inp)
        key = {"invoice_id": order.invoice_id, "payment_id": task.payment_id}
        result = once_per_key(REFUND_SCOPE, key, lambda data: _refund_once(inp, data), lambda_context=lambda_context)
        if result.get("repeat"):
            outcome.skip()
        elif result.get("state") == REFUND_OWED:
            outcome.owe()  # recorded, not made: the step never says it refunded
    return as_dict(RefundResult(payment_id=task.payment_id, step=task.step, refund_id=result["refund_id"],
                                state=result.get("state", REFUND_DONE), skipped=bool(result.get("repeat"))))


def _refund_once(inp: StepInput, data: dict[str, Any]) -> dict[str, Any]:
    invoice = stores().invoices.get_invoice(data["invoice_id"])
    payment = next((t for t in invoice.transactions if t.type == "payment" and t.id == data["payment_id"]), None)
    if payment is None:
        raise PermanentError(f"payment {data['payment_id']} is not on invoice {invoice.id}")

    def recorded(transactions: list[Transaction]) -> Transaction | None:
        return next((t for t in transactions if t.type == "refund" and t.refund_of == payment.id), None)

    done = recorded(invoice.transactions)
    if done is not None:
        return {"refund_id": done.id, "transaction_id": done.transaction_id, "state": done.state, "repeat": True}
    refund = gateway_for(payment.gateway, client_id=invoice.client_id, currency=invoice.currency).refund(
        payment, payment.amount, refund_key(invoice.id, payment.id))

    def record() -> dict[str, Any]:
        order = owned_order(inp)
        current = order.invoice
        if current is None:
            raise PermanentError(f"order {order.id} has no invoice")
        done = recorded(current.transactions)
        if done is not None:
            return {"refund_id": done.id, "transaction_id": done.transaction_id, "state": done.state, "repeat": True}
        txn = Transaction(id=new_id(), type="refund", gateway=refund.gateway, transaction_id=refund.transaction_id,
                          amount=payment.amount, at=iso(utcnow()), refund_of=payment.id, state=refund.state)
        current.transactions.append(txn)
        note = f"; {refund.note}" if refund.note else ""
        what = f"{fmt(payment.amount)} {current.currency} of {payment.gateway} payment {payment.transaction_id}"
        if refund.state == REFUND_OWED:
            history = inp.history("refund owed", detail=f"{what}: not paid back, refund {txn.id} is owed{note}")
        else:
            history = inp.history("payment refunded", detail=f"{what}: refund {refund.transaction_id}{note}")
        # the activity log shows the money a refund moves, owed or made
        history = replace(history, amount=payment.amount, currency=current.currency)
        credit = [credit_given_back(refund.to_credit_of, current, payment, txn, inp.actor)] if refund.to_credit_of else []
        stores().writes.apply(order, OrderChange(invoice=current, credit=credit, history=[history]),
                              holder=inp.action_id)
        return {"refund_id": txn.id, "transaction_id": txn.transaction_id, "state": txn.state}

    try:
        # another write to the invoice (a parallel refund) makes it read again
        return retry_on_conflict(record, attempts=8)
    except ConcurrentUpdate as exc:
        raise ConcurrentUpdate(f"invoice {invoice.id} kept changing while recording a refund") from exc
