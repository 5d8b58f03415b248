"""The pure parts of the order actions: plans, names, error texts, signatures, adapter choice."""

from __future__ import annotations

import json
from decimal import Decimal
from email.message import EmailMessage

import pytest

from orderdesk.adapters.email import OutboxEmail
from orderdesk.adapters.gateways import CreditGateway, ManualGateway, StripeGateway, gateway_for, minor_units
from orderdesk.adapters.provisioning import Account, CpanelModule, NoneModule, WebhookModule, module_for
from orderdesk.adapters.registrars import NoneRegistrar, registrar_for
from orderdesk.adapters.signing import NonceLedger, signature, verify_signature
from orderdesk.adapters.workflows import execution_arn
from orderdesk.domain.errors import PermanentError
from orderdesk.domain.model import (
    ClientRef,
    Invoice,
    InvoiceLine,
    Order,
    OrderItem,
    Server,
    ServiceAccount,
    Transaction,
)
from orderdesk.domain.statuses import ActionType, InvoiceStatus, ItemKind, ItemStatus, OrderStatus
from orderdesk.services.actions import _plan_cancel, action_id_for, execution_name
from orderdesk.services.workflow_contract import CancelPayload, RefundTask, TerminateTask
from orderdesk.services.workflow_runtime import error_text


def item(item_id: str, kind: ItemKind, status: ItemStatus, *, live: bool = False) -> OrderItem:
    return OrderItem(id=item_id, kind=kind, description=item_id, billing_cycle="monthly", amount=Decimal("1.00"),
                     status=status, account=ServiceAccount(server_id="s1", username=item_id, exists=live))


def order_with(items: list[OrderItem], transactions: list[Transaction]) -> Order:
    invoice = Invoice(id="inv-o1", client_id="c1", order_id="o1", status=InvoiceStatus.PAID,
                      lines=[InvoiceLine(item_id=i.id, description=i.id, amount=i.amount) for i in items],
                      subtotal=Decimal("3.00"), discount=Decimal("0.00"), tax=Decimal("0.00"), total=Decimal("3.00"),
                      balance=Decimal("0.00"), currency="USD", due_date="2026-01-01", date_paid=None,
                      payment_method="stripe", transactions=transactions)
    return Order(id="o1", number="1234567890", placed_at="2026-01-01T00:00:00Z", status=OrderStatus.ACTIVE,
                 client=ClientRef(id="c1", name="Ada", email="ada@example.com", company=None, country="GB"),
                 payment_method="stripe", total=Decimal("3.00"), currency="USD", invoice_id="inv-o1",
                 items=items, invoice=invoice)


def txn(tid: str, kind: str = "payment", refund_of: str | None = None) -> Transaction:
    return Transaction(id=tid, type=kind, gateway="stripe", transaction_id=f"pi_{tid}", amount=Decimal("1.00"),
                       at="2026-01-01T00:00:00Z", refund_of=refund_of)


def test_cancel_and_refund_plans_every_live_account_and_payments_not_yet_refunded() -> None:
    # GIVEN an order with an active and a suspended product with live accounts, a product set back
    # to Pending with its account still live, an active addon with no account (manual), a domain,
    # and two payments of which one is already refunded
    order = order_with(
        [item("p1", ItemKind.PRODUCT, ItemStatus.ACTIVE, live=True),
         item("p2", ItemKind.PRODUCT, ItemStatus.SUSPENDED, live=True),
         item("p3", ItemKind.PRODUCT, ItemStatus.PENDING, live=True),
         item("a1", ItemKind.ADDON, ItemStatus.ACTIVE), item("d1", ItemKind.DOMAIN, ItemStatus.ACTIVE)],
        [txn("t1"), txn("t2"), txn("r1", "refund", refund_of="t1")],
    )

    who = {"order_id": "o1", "action_id": "a1", "action": "cancel_refund", "actor": "billing"}
    plan = _plan_cancel(order, ActionType.CANCEL_REFUND, who)

    # THEN every item with a live account is terminated, whatever its status, and only t2 is refunded
    assert plan.payload == CancelPayload(**who, items=[TerminateTask("p1", "terminate:p1"),
                                                       TerminateTask("p2", "terminate:p2"),
                                                       TerminateTask("p3", "terminate:p3")],
                                         payments=[RefundTask("t2", "refund:t2")], refund=True)
    assert [s.name for s in plan.steps] == ["terminate:p1", "terminate:p2", "terminate:p3", "cancel_invoice",
                                            "refund:t2", "cancel_order"]
    assert {s.status for s in plan.steps} == {"PENDING"}
    fraud = _plan_cancel(order, ActionType.FRAUD, {**who, "action": "fraud"})
    assert isinstance(fraud.payload, CancelPayload) and fraud.payload.payments == []
    assert fraud.steps[-1].name == "mark_fraud"


def test_execution_names_are_deterministic_per_key_and_valid_for_step_functions() -> None:
    assert action_id_for("o1", ActionType.CANCEL, "key-1") == action_id_for("o1", ActionType.CANCEL, "key-1")
    assert action_id_for("o1", ActionType.CANCEL, "key-1") != action_id_for("o1", ActionType.CANCEL_REFUND, "key-1")
    assert action_id_for("o1", ActionType.CANCEL, None) != action_id_for("o1", ActionType.CANCEL, None)
    name = execution_name("o" * 70, ActionType.CANCEL_REFUND, "a" * 16)
    assert len(name) <= 80 and all(c.isalnum() or c in "-_" for c in name)
    arn = "arn:aws:states:eu-west-1:111122223333:stateMachine:orderdesk-cancel"
    assert execution_arn(arn, "o1-cancel-x") == "arn:aws:states:eu-west-1:111122223333:execution:orderdesk-cancel:o1-cancel-x"


def test_an_action_id_names_the_caller_key_and_body_but_not_a_password_text() -> None:
    # GIVEN an accept's parameters with a password, sent under a key by one operator
    accept = {"items": {"i1": {"username": "ada", "password": "hunter2-secret"}}, "send_welcome_email": True,
              "idempotency_key": "k"}

    def id_of(caller: str = "ops@example.com", **changes: object) -> str:
        return action_id_for("o1", ActionType.ACCEPT, "k", caller, {**accept, **changes})

    mine = id_of()
    # THEN a repeat is the same id; another caller's is another id, the key's half included
    assert id_of() == mine and id_of("other@example.com")[:8] != mine[:8]
    # AND another body shares the key's half only (what a 409 is told by)
    other = id_of(send_welcome_email=False)
    assert other[:8] == mine[:8] and other != mine
    # AND a password counts by being given, never by its text (an id is shown to viewers)
    assert id_of(items={"i1": {"username": "ada", "password": "another-one"}}) == mine
    assert id_of(items={"i1": {"username": "ada"}}) != mine
    assert len(mine) == 16 and all(c in "0123456789abcdef" for c in mine)


def test_error_text_reads_the_lambda_error_inside_a_caught_step_functions_error() -> None:
    cause = json.dumps({"errorMessage": "http://h/p answered 422: nope", "errorType": "RemoteRejected"})
    assert error_text({"Error": "RemoteRejected", "Cause": cause}) == "RemoteRejected: http://h/p answered 422: nope"
    assert error_text({"Error": "States.Timeout", "Cause": "not json"}) == "States.Timeout: not json"
    assert error_text({"Error": "X"}) == "X"
    assert error_text(None) == "unknown error"


def test_webhook_signature_is_hmac_sha256_of_timestamp_nonce_key_and_body_and_goes_stale() -> None:
    parts = {"timestamp": "1700000000", "nonce": "0123456789abcdef0123456789abcdef", "idempotency_key": "k1",
             "body": b'{"a":1}'}
    sig = signature("s3cret", **parts)  # type: ignore[arg-type]
    assert sig.startswith("sha256=") and len(sig) == 7 + 64

    def ok(secret: str = "s3cret", now: int = 1700000100, **changed: object) -> bool:
        return verify_signature(secret, **{**parts, **changed}, header=sig, seen=NonceLedger(), now=now)  # type: ignore[arg-type]

    assert ok()
    assert not ok(secret="other")
    assert not ok(body=b'{"a":2}')
    assert not ok(idempotency_key="k2")
    assert not ok(nonce="fedcba9876543210fedcba9876543210")
    assert not ok(now=1700001000)


def test_money_goes_to_stripe_in_minor_units() -> None:
    assert minor_units(Decimal("12.50"), "usd") == 1250
    assert minor_units(Decimal("0.01"), "EUR") == 1
    assert minor_units(Decimal("1500"), "JPY") == 1500


def test_each_gateway_module_and_registrar_is_chosen_by_name() -> None:
    assert isinstance(gateway_for("stripe", client_id="c", currency="USD"), StripeGateway)
    assert isinstance(gateway_for("credit", client_id="c", currency="USD"), CreditGateway)
    manual = gateway_for("banktransfer", client_id="c", currency="USD")
    assert isinstance(manual, ManualGateway)
    refund = manual.refund(txn("t9"), Decimal("1.00"), "k")
    # no refund API: nothing was paid back, so the refund is owed and carries no made-up refund id
    assert (refund.state, refund.transaction_id) == ("owed", "") and "by hand" in (refund.note or "")

    def server(module: str, **kw: str) -> Server:
        return Server(id="s1", name="s1", module=module, **kw)

    assert isinstance(module_for(None, None), NoneModule)
    assert isinstance(module_for(server("none"), None), NoneModule)
    assert isinstance(module_for(server("webhook", url="https://hooks.example/p"), "k"), WebhookModule)
    whm = module_for(server("cpanel", hostname="whm.example.net"), "TOKEN")
    assert isinstance(whm, CpanelModule) and whm.base == "https://whm.example.net:2087"
    with pytest.raises(PermanentError):
        module_for(server("cpanel", hostname="whm.example.net"), None)  # no token
    with pytest.raises(PermanentError):
        module_for(server("plesk"), None)
    assert isinstance(registrar_for("none"), NoneRegistrar) and isinstance(registrar_for(None), NoneRegistrar)
    with pytest.raises(PermanentError):
        registrar_for("enom")


def test_an_account_never_shows_its_password() -> None:
    account = Account(order_id="o1", item_id="i1", product="Hosting", billing_cycle="monthly", username="ada",
                      password="hunter2-secret", domain=None, client_id="c1", client_name="Ada",
                      client_email="ada@example.com")
    assert "hunter2-secret" not in repr(account) and "hunter2-secret" not in str(account)


def test_the_outbox_writes_one_file_per_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    outbox = OutboxEmail(str(tmp_path))
    msg = EmailMessage()
    msg["To"], msg["Subject"] = "ada@example.com", "Welcome"
    msg.set_content("hello")
    first = outbox.send(msg, "welcome-o1")
    msg.replace_header("Subject", "Welcome again")
    assert outbox.send(msg, "welcome-o1") == first
    (only,) = tmp_path.glob("*.eml")
    assert "Subject: Welcome\n" in only.read_text()
