"""The steps of the Cancel, Cancel & Refund and Set as Fraud workflow
(infra/statemachines/cancel_order.asl.json), one per Lambda (`functions/step_terminate_item`,
`step_cancel_invoice`, `step_refund_payment`); it ends with `workflow_runtime.finish`.

A refund is made once per payment: Powertools idempotency keyed on the payment, the gateway's own
idempotency key, and the invoice's refund transactions (`refund_of`) checked under the invoice's
version guard."""

from __future__ import annotations

from typing import Any

from ..adapters.aws import aws_errors_are_transient
from ..adapters.gateways import gateway_for
from ..adapters.idempotency import once_per_key
from ..adapters.provisioning import Account, module_for
from ..domain.errors import ConcurrentUpdate, PermanentError
from ..domain.model import CreditChange, Transaction, iso, new_id, utcnow
from ..domain.money import fmt
from ..domain.statuses import ActionType, InvoiceStatus, ItemKind, ItemStatus
from ..retry import retry_on_conflict
from .accept_steps import first_domain
from .ports import stores
from .workflow_contract import (
    CANCEL_INVOICE_STEP,
    TERMINABLE,
    ItemResult,
    RefundInput,
    RefundResult,
    StepDone,
    StepInput,
    TerminateInput,
    as_dict,
)
from .workflow_runtime import change_item, item_of, item_text, owned_order, server_of, step


@aws_errors_are_transient
def terminate_item(event: dict[str, Any]) -> dict[str, Any]:
    """Per active product: module terminate (the account removed from its server), then the item
    goes to Cancelled (or Fraud) at once, so a rerun never terminates it again."""
    inp = TerminateInput.parse(event)
    task = inp.item
    final = ItemStatus.FRAUD if inp.action is ActionType.FRAUD else ItemStatus.CANCELLED
    with step(inp, task.step) as outcome:
        order = owned_order(inp)
        item = item_of(order, task.item_id)
        if item.status not in TERMINABLE or item.kind is ItemKind.DOMAIN:
            outcome.skip()
            return as_dict(ItemResult(item_id=item.id, step=task.step, status=item.status.value, skipped=True))
        found = server_of(item.server_id)
        if found is None or found[0].module == "none":
            detail = "no module command (manual)"
        else:
            server, credentials = found
            account = Account(
                order_id=order.id, item_id=item.id, product=item.description, billing_cycle=item.billing_cycle,
                username=item.username, password=None, domain=item.domain or first_domain(order),
                client_id=order.client.id, client_name=order.client.name, client_email=order.client.email)
            module_for(server, credentials).terminate(account)
            detail = f"account {item.username or ''} removed from {server.name} ({server.module})"
        change_item(inp, item, final, inp.history("item terminated", from_=item.status.value, to=final.value,
                                                  detail=f"{item_text(item)}: {detail}"))
    return as_dict(ItemResult(item_id=item.id, step=task.step, status=final.value))


@aws_errors_are_transient
def cancel_invoice(event: dict[str, Any]) -> dict[str, Any]:
    """The invoice goes to Cancelled (a Refunded one stays so)."""
    inp = StepInput.parse(event)
    invoices = stores().invoices
    with step(inp, CANCEL_INVOICE_STEP) as outcome:
        order = owned_order(inp)

        def cancel() -> None:
            invoice, version = invoices.get_invoice_versioned(order.invoice_id)
            if invoice.status in (InvoiceStatus.CANCELLED, InvoiceStatus.REFUNDED):
                outcome.skip()
                return
            before, invoice.status = invoice.status, InvoiceStatus.CANCELLED
            invoices.save_invoice(invoice, version, inp.history("invoice cancelled", from_=before.value,
                                                                to=invoice.status.value, detail=invoice.id))

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
    return as_dict(RefundResult(payment_id=task.payment_id, step=task.step, refund_id=result["refund_id"],
                                skipped=bool(result.get("repeat"))))


def _refund_once(inp: StepInput, data: dict[str, Any]) -> dict[str, Any]:
    invoices = stores().invoices
    invoice, _ = invoices.get_invoice_versioned(data["invoice_id"])
    payment = next((t for t in invoice.transactions if t.type == "payment" and t.id == data["payment_id"]), None)
    if payment is None:
        raise PermanentError(f"payment {data['payment_id']} is not on invoice {invoice.id}")

    def recorded(transactions: list[Transaction]) -> Transaction | None:
        return next((t for t in transactions if t.type == "refund" and t.refund_of == payment.id), None)

    done = recorded(invoice.transactions)
    if done is not None:
        return {"refund_id": done.id, "transaction_id": done.transaction_id, "repeat": True}
    refund = gateway_for(payment.gateway, client_id=invoice.client_id, currency=invoice.currency).refund(
        payment, payment.amount, refund_key(invoice.id, payment.id))

    def record() -> dict[str, Any]:
        current, version = invoices.get_invoice_versioned(data["invoice_id"])
        done = recorded(current.transactions)
        if done is not None:
            return {"refund_id": done.id, "transaction_id": done.transaction_id, "repeat": True}
        txn = Transaction(id=new_id(), type="refund", gateway=refund.gateway, transaction_id=refund.transaction_id,
                          amount=payment.amount, at=iso(utcnow()), refund_of=payment.id)
        current.transactions.append(txn)
        note = f"; {refund.note}" if refund.note else ""
        history = inp.history("payment refunded", detail=(
            f"{fmt(payment.amount)} {current.currency} of {payment.gateway} payment {payment.transaction_id}: "
            f"refund {refund.transaction_id}{note}"))
        credit = [CreditChange(client_id=refund.to_credit_of, amount=payment.amount, reason="refund",
                               ref=txn.id)] if refund.to_credit_of else []
        invoices.save_invoice(current, version, history, sync_order_status=False, credit=credit)
        return {"refund_id": txn.id, "transaction_id": txn.transaction_id}

    try:
        # another write to the invoice (a parallel refund) makes it read again
        return retry_on_conflict(record, attempts=8)
    except ConcurrentUpdate as exc:
        raise ConcurrentUpdate(f"invoice {invoice.id} kept changing while recording a refund") from exc
