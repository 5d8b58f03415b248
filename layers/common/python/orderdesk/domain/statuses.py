"""Every status OrderDesk knows, spelled exactly as stored and shown (title case)."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "Pending"
    ACTIVE = "Active"
    CANCELLED = "Cancelled"
    FRAUD = "Fraud"


class ItemStatus(StrEnum):
    """Statuses of products, services, addons and domains (domains use a subset plus their own)."""

    PENDING = "Pending"
    PENDING_REGISTRATION = "Pending Registration"
    PENDING_TRANSFER = "Pending Transfer"
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    TERMINATED = "Terminated"
    EXPIRED = "Expired"
    CANCELLED = "Cancelled"
    FRAUD = "Fraud"
    COMPLETED = "Completed"


class ItemKind(StrEnum):
    PRODUCT = "product"
    ADDON = "addon"
    DOMAIN = "domain"


class InvoiceStatus(StrEnum):
    DRAFT = "Draft"
    UNPAID = "Unpaid"
    PAID = "Paid"
    PAYMENT_PENDING = "Payment Pending"
    CANCELLED = "Cancelled"
    REFUNDED = "Refunded"
    COLLECTIONS = "Collections"


class PaymentStatus(StrEnum):
    PAID = "Paid"
    UNPAID = "Unpaid"
    REFUNDED = "Refunded"
    CANCELLED = "Cancelled"


def payment_status_of(invoice_status: InvoiceStatus | str | None) -> PaymentStatus:
    """An item's payment status is derived from its invoice."""
    status = InvoiceStatus(invoice_status) if invoice_status else InvoiceStatus.UNPAID
    if status is InvoiceStatus.PAID:
        return PaymentStatus.PAID
    if status is InvoiceStatus.REFUNDED:
        return PaymentStatus.REFUNDED
    if status is InvoiceStatus.CANCELLED:
        return PaymentStatus.CANCELLED
    return PaymentStatus.UNPAID


class ActionType(StrEnum):
    ACCEPT = "accept"
    CANCEL = "cancel"
    CANCEL_REFUND = "cancel_refund"
    FRAUD = "fraud"
    PENDING = "pending"
    DELETE = "delete"
    ITEM_COMMAND = "item_command"  # module commands on chosen items (the order details page)


class ActionStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Role(StrEnum):
    VIEWER = "viewer"
    SUPPORT = "support"
    BILLING = "billing"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ROLE_RANK = {Role.VIEWER: 0, Role.SUPPORT: 1, Role.BILLING: 2, Role.ADMIN: 3}
