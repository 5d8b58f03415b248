"""Request and response models (pydantic v2). They validate input, shape output and are the
source of the OpenAPI document, so the three never disagree.

One module per area: `orders` (adding and listing orders), `order_detail` (one order in full),
`directory`, `credit`, `invoices`, `actions`, `fraud`, `gateways` (Stripe's webhook and its unmatched events),
`bulk`, `activity` (the activity log), `registrar` (a registrar's events), `exports`, `stats`; the
shared field types and base classes in `common`. Importing this package imports neither pydantic
nor any model: `from orderdesk.schemas import OrderOut` loads the module that defines it on first
use (PEP 562). The route registry names a route's models and resolves them on its first call,
so the API's cold start pays for no model, and a route's first call makes only the classes of
its own area and the areas they nest."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .actions import AcceptIn as AcceptIn
    from .actions import AcceptItemIn as AcceptItemIn
    from .actions import ActionEnvelope as ActionEnvelope
    from .actions import ActionOut as ActionOut
    from .actions import ActionStepOut as ActionStepOut
    from .actions import CancelIn as CancelIn
    from .actions import ItemCommandIn as ItemCommandIn
    from .activity import ActivityEntryOut as ActivityEntryOut
    from .activity import ActivityListOut as ActivityListOut
    from .activity import ActivityQuery as ActivityQuery
    from .activity import DeletedOrderOut as DeletedOrderOut
    from .bulk import BulkFailureOut as BulkFailureOut
    from .bulk import BulkIn as BulkIn
    from .bulk import BulkJobEnvelope as BulkJobEnvelope
    from .bulk import BulkJobOut as BulkJobOut
    from .bulk import BulkJobSummary as BulkJobSummary
    from .common import MONEY_PATTERN as MONEY_PATTERN
    from .common import BillingCycle as BillingCycle
    from .common import Code as Code
    from .common import Country as Country
    from .common import Currency as Currency
    from .common import DateOrTimestamp as DateOrTimestamp
    from .common import DomainName as DomainName
    from .common import ErrorBody as ErrorBody
    from .common import ErrorOut as ErrorOut
    from .common import HealthOut as HealthOut
    from .common import Id as Id
    from .common import IpAddress as IpAddress
    from .common import Money as Money
    from .common import MoneyOut as MoneyOut
    from .common import Out as Out
    from .common import ShortText as ShortText
    from .common import SignedMoney as SignedMoney
    from .common import Strict as Strict
    from .credit import CreditEntryOut as CreditEntryOut
    from .credit import CreditIn as CreditIn
    from .credit import CreditLedgerOut as CreditLedgerOut
    from .credit import CreditQuery as CreditQuery
    from .directory import AffiliateIn as AffiliateIn
    from .directory import AffiliateListOut as AffiliateListOut
    from .directory import AffiliateOut as AffiliateOut
    from .directory import ClientIn as ClientIn
    from .directory import ClientListOut as ClientListOut
    from .directory import ClientOut as ClientOut
    from .directory import ClientQuery as ClientQuery
    from .directory import ClientUpdateIn as ClientUpdateIn
    from .directory import RegistrarListOut as RegistrarListOut
    from .directory import RegistrarOut as RegistrarOut
    from .directory import ServerCheckOut as ServerCheckOut
    from .directory import ServerIn as ServerIn
    from .directory import ServerListOut as ServerListOut
    from .directory import ServerOut as ServerOut
    from .directory import ServerUpdateIn as ServerUpdateIn
    from .exports import ExportEnvelope as ExportEnvelope
    from .exports import ExportFilters as ExportFilters
    from .exports import ExportIn as ExportIn
    from .exports import ExportOut as ExportOut
    from .fraud import FraudCheckOut as FraudCheckOut
    from .fraud import FraudSignalOut as FraudSignalOut
    from .gateways import GatewayEventOut as GatewayEventOut
    from .gateways import StripeWebhookOut as StripeWebhookOut
    from .gateways import UnmatchedListOut as UnmatchedListOut
    from .gateways import UnmatchedQuery as UnmatchedQuery
    from .invoices import InvoiceLineOut as InvoiceLineOut
    from .invoices import InvoiceOut as InvoiceOut
    from .invoices import InvoiceSummaryOut as InvoiceSummaryOut
    from .invoices import OwedRefundListOut as OwedRefundListOut
    from .invoices import OwedRefundOut as OwedRefundOut
    from .invoices import PaymentIn as PaymentIn
    from .invoices import RefundConfirmIn as RefundConfirmIn
    from .invoices import RefundQuery as RefundQuery
    from .invoices import TransactionOut as TransactionOut
    from .order_detail import AffiliateAssignIn as AffiliateAssignIn
    from .order_detail import DomainRegistrationOut as DomainRegistrationOut
    from .order_detail import HistoryOut as HistoryOut
    from .order_detail import NoteIn as NoteIn
    from .order_detail import NoteOut as NoteOut
    from .order_detail import OrderItemOut as OrderItemOut
    from .order_detail import OrderOut as OrderOut
    from .order_detail import ServiceAccountOut as ServiceAccountOut
    from .order_detail import WelcomeEmailOut as WelcomeEmailOut
    from .order_detail import WelcomeItemOut as WelcomeItemOut
    from .orders import AffiliateRefOut as AffiliateRefOut
    from .orders import AttentionOut as AttentionOut
    from .orders import ClientRefOut as ClientRefOut
    from .orders import CreateOrderIn as CreateOrderIn
    from .orders import OrderItemIn as OrderItemIn
    from .orders import OrderListOut as OrderListOut
    from .orders import OrderQuery as OrderQuery
    from .orders import OrderSummaryOut as OrderSummaryOut
    from .orders import PendingActionOut as PendingActionOut
    from .orders import StatusCountOut as StatusCountOut
    from .registrar import RegistrarEventIn as RegistrarEventIn
    from .stats import DailyStatsOut as DailyStatsOut
    from .stats import DailyStatsQuery as DailyStatsQuery
    from .stats import FraudChecksOut as FraudChecksOut
    from .stats import MoneyCountOut as MoneyCountOut

# which module defines each name (kept in step with the modules by tests/unit/test_schemas.py)
AREAS: dict[str, tuple[str, ...]] = {
    "common": ("MONEY_PATTERN", "BillingCycle", "Code", "Country", "Currency", "DateOrTimestamp", "DomainName", "Id",
               "IpAddress", "Money", "SignedMoney", "MoneyOut", "ShortText", "Strict", "Out", "HealthOut",
               "ErrorBody", "ErrorOut"),
    "directory": ("ClientIn", "AffiliateIn", "ServerIn", "ClientQuery", "ClientOut", "ClientListOut", "AffiliateOut",
                  "AffiliateListOut", "ServerOut", "ServerListOut", "ClientUpdateIn", "ServerUpdateIn",
                  "ServerCheckOut", "RegistrarOut", "RegistrarListOut"),
    "orders": ("OrderItemIn", "CreateOrderIn", "OrderQuery", "ClientRefOut", "AffiliateRefOut", "PendingActionOut",
               "AttentionOut", "OrderSummaryOut", "OrderListOut", "StatusCountOut"),
    "order_detail": ("AffiliateAssignIn", "NoteIn", "ServiceAccountOut", "DomainRegistrationOut", "OrderItemOut",
                     "HistoryOut", "NoteOut", "OrderOut", "WelcomeItemOut", "WelcomeEmailOut"),
    "actions": ("AcceptItemIn", "AcceptIn", "CancelIn", "ItemCommandIn", "ActionStepOut", "ActionOut", "ActionEnvelope"),
    "invoices": ("PaymentIn", "TransactionOut", "InvoiceLineOut", "InvoiceOut", "InvoiceSummaryOut",
                 "RefundConfirmIn", "RefundQuery", "OwedRefundOut", "OwedRefundListOut"),
    "credit": ("CreditIn", "CreditQuery", "CreditEntryOut", "CreditLedgerOut"),
    "fraud": ("FraudSignalOut", "FraudCheckOut"),
    "gateways": ("StripeWebhookOut", "UnmatchedQuery", "GatewayEventOut", "UnmatchedListOut"),
    "bulk": ("BulkIn", "BulkJobSummary", "BulkJobEnvelope", "BulkFailureOut", "BulkJobOut"),
    "activity": ("ActivityQuery", "DeletedOrderOut", "ActivityEntryOut", "ActivityListOut"),
    "registrar": ("RegistrarEventIn",),
    "exports": ("ExportFilters", "ExportIn", "ExportOut", "ExportEnvelope"),
    "stats": ("DailyStatsQuery", "MoneyCountOut", "FraudChecksOut", "DailyStatsOut"),
}
AREA_OF: dict[str, str] = {name: area for area, names in AREAS.items() for name in names}
__all__ = sorted(AREA_OF)


def __getattr__(name: str) -> Any:
    area = AREA_OF.get(name)
    if area is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{area}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *AREA_OF})
