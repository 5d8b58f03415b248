"""The money rules of an invoice's transactions and a client's credit, as pure functions:

* which payments a change of an invoice adds (those it did not have as read): the write path
  guards each one unique per gateway (`new_payments`), whoever made the change;
* what a payment by the `credit` gateway takes off the client's credit balance, and what the
  refund of one gives back (`credit_taken`, `credit_given_back`): ledger entries written with the
  invoice in one transaction, so credit is never created from nothing nor spent twice;
* which gateways refund through an API (`refunds_by_api`): any other refund is recorded owed,
  for a person to pay back and confirm (`confirm_refund`)."""

from __future__ import annotations

import copy

from .errors import NotFound, RefundNotOwed
from .model import REFUND_DONE, REFUND_OWED, CreditChange, Invoice, Transaction

CREDIT_GATEWAY = "credit"
# gateways whose refunds OrderDesk makes itself (adapters.gateways): a refund through any other is
# owed until a person pays it back and confirms it
REFUND_API_GATEWAYS = frozenset({"stripe", CREDIT_GATEWAY})


def refunds_by_api(gateway: str) -> bool:
    return gateway in REFUND_API_GATEWAYS


def new_payments(invoice: Invoice) -> list[Transaction]:
    """The payments on `invoice` that it did not have as stored when it was read."""
    return [t for t in invoice.transactions if t.type == "payment" and t.id not in invoice.stored_payment_ids]


def recorded_payment(invoice: Invoice, gateway: str, transaction_id: str) -> Transaction | None:
    """The payment of this gateway's transaction id on the invoice (the gateway in any case), if it
    has one: a repeat of it is a duplicate before anything else is said about the invoice."""
    return next((t for t in invoice.transactions if t.type == "payment" and t.transaction_id == transaction_id
                 and t.gateway.lower() == gateway.lower()), None)


def credit_taken(invoice: Invoice, payment: Transaction, actor: str) -> list[CreditChange]:
    """A payment by the `credit` gateway takes its amount off the client's credit balance (the
    write refuses it when the balance is short); any other payment touches no credit."""
    if payment.gateway != CREDIT_GATEWAY:
        return []
    return [CreditChange(client_id=invoice.client_id, amount=-payment.amount, ref=invoice.id, actor=actor,
                         at=payment.at, reason=f"payment {payment.transaction_id} of invoice {invoice.id}")]


def credit_given_back(client_id: str, invoice: Invoice, payment: Transaction, refund: Transaction,
                      actor: str) -> CreditChange:
    """The refund of a credit payment puts its amount back on the client's balance."""
    return CreditChange(client_id=client_id, amount=refund.amount, ref=invoice.id, actor=actor, at=refund.at,
                        reason=f"refund of payment {payment.transaction_id} of invoice {invoice.id}")


def confirm_refund(invoice: Invoice, refund_id: str, reference: str, actor: str, at: str) -> tuple[Invoice, Transaction]:
    """The invoice with its owed refund `refund_id` confirmed paid back (`done`, with the
    operator's reference, who and when). NotFound for an id that is no refund of the invoice;
    RefundNotOwed (409) for a refund a gateway made or one confirmed already, saying which."""
    out = copy.deepcopy(invoice)
    refund = next((t for t in out.transactions if t.id == refund_id and t.type == "refund"), None)
    if refund is None:
        raise NotFound(f"no refund {refund_id} on invoice {invoice.id}")
    if refund.state != REFUND_OWED:
        if refund.confirmed_by:
            raise RefundNotOwed(f"refund {refund_id} was confirmed already by {refund.confirmed_by} at "
                                f"{refund.confirmed_at} (reference {refund.reference})")
        raise RefundNotOwed(f"refund {refund_id} was made by {refund.gateway} ({refund.transaction_id}): "
                            "there is nothing to confirm")
    refund.state, refund.reference = REFUND_DONE, reference
    refund.transaction_id = reference  # how it was paid back, as a gateway's refund id says it
    refund.confirmed_by, refund.confirmed_at = actor, at
    return out, refund
