"""OrderDesk HTTP API (Chalice). Routes only: parse → one service call → shape.

Validation, roles, idempotency and error mapping live in `orderdesk.api.http`, the OpenAPI
document in `orderdesk.api.openapi`; use cases in `orderdesk.services`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chalice import AuthResponse, Chalice, Response

from orderdesk.api import auth, portal
from orderdesk.api.http import Api, Ctx, HttpError
from orderdesk.domain.statuses import ActionType, Role
from orderdesk.services import (
    actions,
    activity,
    bulk,
    credit,
    directory,
    exports,
    fraud,
    invoices,
    item_commands,
    orders,
    registrar_events,
    stats,
    stripe_events,
    welcome_email,
)

if TYPE_CHECKING:  # routes name their models; orderdesk.api.http resolves them on a route's first call
    from orderdesk.schemas import (
        AcceptIn,
        ActivityQuery,
        AffiliateAssignIn,
        AffiliateIn,
        BulkIn,
        CancelIn,
        ClientIn,
        ClientQuery,
        ClientUpdateIn,
        CreateOrderIn,
        CreditIn,
        CreditQuery,
        DailyStatsQuery,
        ExportIn,
        ItemCommandIn,
        NoteIn,
        OrderQuery,
        PaymentIn,
        RefundConfirmIn,
        RefundQuery,
        RegistrarEventIn,
        ServerIn,
        ServerUpdateIn,
        UnmatchedQuery,
    )

app = Chalice(app_name="orderdesk")
app.api.binary_types = []


@app.authorizer()
def jwt_auth(auth_request):  # type: ignore[no-untyped-def]
    """Verify the bearer token; API Gateway answers 401 when this raises 'Unauthorized'."""
    try:
        principal = auth.verify(auth_request.token)
    except auth.AuthError as exc:
        raise Exception("Unauthorized") from exc  # the exact message API Gateway maps to 401
    return AuthResponse(
        routes=["*"],
        principal_id=principal.subject,
        context={"sub": principal.subject, "name": principal.name,
                 "role": principal.role.value if principal.role else ""},
    )


api = Api(app, jwt_auth)


@api.route("/health", "GET", role=None, summary="Liveness", response="HealthOut")
def health():  # type: ignore[no-untyped-def]
    return {"status": "ok"}


@app.route("/openapi.json", methods=["GET"])
def openapi() -> Response:
    return Response(body=api.openapi("OrderDesk API", "1.0.0"), headers={"Content-Type": "application/json"})


# -- admin portal: static files beside this module, no auth (the API calls they make carry it) ---

portal_files = portal.PortalFiles(Path(__file__).resolve().parent / "portal")


@app.route("/", methods=["GET"])
def portal_index() -> Response:
    request = app.current_request
    return portal_files.index((request.context or {}).get("path"), (request.headers or {}).get("if-none-match"))


@app.route("/portal/{name}", methods=["GET"])
def portal_asset(name: str) -> Response:
    if name == portal.CONFIG_NAME:
        return portal.config_response()
    return portal_files.response(name, (app.current_request.headers or {}).get("if-none-match"))


# -- clients, affiliates, servers ----------------------------------------------------------------


@api.route("/clients", "POST", role=Role.SUPPORT, summary="Add a client", body="ClientIn", response="ClientOut",
           status=201, tags=("clients",))
def create_client(body: ClientIn):  # type: ignore[no-untyped-def]
    return directory.create_client(body)


@api.route("/clients", "GET", role=Role.VIEWER, summary="Find clients", query="ClientQuery",
           response="ClientListOut", tags=("clients",))
def list_clients(query: ClientQuery):  # type: ignore[no-untyped-def]
    return {"clients": directory.list_clients(query.q)}


@api.route("/clients/{client_id}", "GET", role=Role.VIEWER, summary="One client", response="ClientOut",
           tags=("clients",))
def get_client(client_id: str):  # type: ignore[no-untyped-def]
    return directory.get_client(client_id)


@api.route("/clients/{client_id}", "PUT", role=Role.SUPPORT,
           summary="Edit a client: the fields given change, the others stay", body="ClientUpdateIn",
           response="ClientOut", errors=(409,), tags=("clients",))
def update_client(client_id: str, body: ClientUpdateIn):  # type: ignore[no-untyped-def]
    return directory.update_client(client_id, body)


@api.route("/clients/{client_id}/credit", "GET", role=Role.VIEWER,
           summary="A client's credit: the balance and its ledger, newest first", query="CreditQuery",
           response="CreditLedgerOut", tags=("clients",))
def get_credit(client_id: str, query: CreditQuery):  # type: ignore[no-untyped-def]
    return credit.credit_of(client_id, query)


@api.route("/clients/{client_id}/credit", "POST", role=Role.BILLING,
           summary="Adjust a client's credit (negative takes it off, never below 0.00)", body="CreditIn",
           response="CreditEntryOut", status=201, errors=(409,), tags=("clients",))
def adjust_credit(client_id: str, body: CreditIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    return credit.adjust_credit(client_id, body, ctx.actor)


@api.route("/affiliates", "POST", role=Role.SUPPORT, summary="Add an affiliate", body="AffiliateIn",
           response="AffiliateOut", status=201, tags=("affiliates",))
def create_affiliate(body: AffiliateIn):  # type: ignore[no-untyped-def]
    return directory.create_affiliate(body)


@api.route("/affiliates", "GET", role=Role.VIEWER, summary="Affiliates", response="AffiliateListOut",
           tags=("affiliates",))
def list_affiliates():  # type: ignore[no-untyped-def]
    return {"affiliates": directory.list_affiliates()}


@api.route("/servers", "POST", role=Role.ADMIN, summary="Add a server (credentials are write-only)",
           body="ServerIn", response="ServerOut", status=201, tags=("servers",))
def create_server(body: ServerIn):  # type: ignore[no-untyped-def]
    return directory.create_server(body)


@api.route("/servers", "GET", role=Role.VIEWER, summary="Servers", response="ServerListOut", tags=("servers",))
def list_servers():  # type: ignore[no-untyped-def]
    return {"servers": directory.list_servers()}


@api.route("/servers/{server_id}", "PUT", role=Role.ADMIN,
           summary="Edit a server (credentials: left out, kept; given, replaced; never returned)",
           body="ServerUpdateIn", response="ServerOut", errors=(409,), tags=("servers",))
def update_server(server_id: str, body: ServerUpdateIn):  # type: ignore[no-untyped-def]
    return directory.update_server(server_id, body)


@api.route("/servers/{server_id}/test", "POST", role=Role.ADMIN,
           summary="Connection test: the server's module's own check (webhook: a signed ping; cPanel: WHM version)",
           response="ServerCheckOut", tags=("servers",))
def test_server(server_id: str):  # type: ignore[no-untyped-def]
    return directory.check_server(server_id)


@api.route("/registrars", "GET", role=Role.VIEWER, summary="The registrars a domain item may name here",
           response="RegistrarListOut", tags=("servers",))
def list_registrars():  # type: ignore[no-untyped-def]
    return {"registrars": directory.list_registrars()}


# -- orders --------------------------------------------------------------------------------------


@api.route("/orders", "GET", role=Role.VIEWER, summary="List and filter orders, newest first",
           query="OrderQuery", response="OrderListOut", tags=("orders",))
def list_orders(query: OrderQuery):  # type: ignore[no-untyped-def]
    return orders.list_orders(query)


@api.route("/order-statuses", "GET", role=Role.VIEWER, summary="Order counts by status",
           response="StatusCountOut", response_is_list=True, tags=("orders",))
def order_statuses():  # type: ignore[no-untyped-def]
    return [{"status": s, "count": n} for s, n in orders.order_status_counts()]


@api.route("/orders", "POST", role=Role.SUPPORT, summary="Add New Order", body="CreateOrderIn",
           response="OrderOut", status=201, tags=("orders",))
def create_order(body: CreateOrderIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    return orders.create_order(body, ctx.actor)


@api.route("/orders/{order_id}", "GET", role=Role.VIEWER, summary="Order details", response="OrderOut",
           tags=("orders",))
def get_order(order_id: str):  # type: ignore[no-untyped-def]
    return orders.get_order(order_id)


@api.route("/orders/{order_id}/affiliate", "PUT", role=Role.SUPPORT, summary="Assign or remove the affiliate",
           body="AffiliateAssignIn", response="OrderOut", errors=(409,), tags=("orders",))
def set_affiliate(order_id: str, body: AffiliateAssignIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    return orders.set_affiliate(order_id, body.affiliate_id, ctx.actor)


@api.route("/orders/{order_id}/welcome-email", "POST", role=Role.SUPPORT,
           summary="Send the welcome email again (the order's Active items, to the client's current address)",
           response="WelcomeEmailOut", errors=(409, 502), tags=("orders",))
def send_welcome_email(order_id: str, ctx: Ctx):  # type: ignore[no-untyped-def]
    return welcome_email.send_again(order_id, ctx.actor)


@api.route("/orders/{order_id}/notes", "POST", role=Role.SUPPORT, summary="Add a note", body="NoteIn",
           response="NoteOut", status=201, tags=("orders",))
def add_note(order_id: str, body: NoteIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    return orders.add_note(order_id, body.text, ctx.actor)


# -- order actions (SPEC §2): workflows answer 202 with the action; its steps at GET .../actions/{id} --


def _idempotency_key(ctx: Ctx) -> str | None:
    return next((v for k, v in ctx.headers.items() if k.lower() == "idempotency-key"), None)


@api.route("/orders/{order_id}/accept", "POST", role=Role.SUPPORT, summary="Accept: provision, register, welcome email",
           body="AcceptIn", response="ActionEnvelope", status=202, errors=(409, 502), tags=("actions",))
def accept_order(order_id: str, body: AcceptIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    params = {"items": {k: v.model_dump() for k, v in body.items.items()},
              "send_welcome_email": body.send_welcome_email, "idempotency_key": _idempotency_key(ctx)}
    return {"action": actions.start_action(order_id, ActionType.ACCEPT, params, ctx.actor)}


@api.route("/orders/{order_id}/item-commands", "POST", role=Role.SUPPORT,
           summary="Module commands on chosen items: create, register (support); suspend, unsuspend, terminate "
                   "(billing)", body="ItemCommandIn", response="ActionEnvelope", status=202, errors=(409, 502),
           tags=("actions",))
def run_item_commands(order_id: str, body: ItemCommandIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    if body.command in item_commands.BILLING_COMMANDS and not (ctx.principal and ctx.principal.role
                                                               and ctx.principal.role.allows(Role.BILLING)):
        raise HttpError(403, "forbidden", f"{body.command} needs the billing role or higher")
    params = {"command": body.command, "item_ids": body.item_ids, "idempotency_key": _idempotency_key(ctx)}
    return {"action": actions.start_action(order_id, ActionType.ITEM_COMMAND, params, ctx.actor)}


@api.route("/orders/{order_id}/cancel", "POST", role=Role.BILLING,
           summary="Cancel (terminate, invoice Cancelled); refund: true is Cancel & Refund", body="CancelIn",
           response="ActionEnvelope", status=202, errors=(409, 502), tags=("actions",))
def cancel_order(order_id: str, body: CancelIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    action_type = ActionType.CANCEL_REFUND if body.refund else ActionType.CANCEL
    return {"action": actions.start_action(order_id, action_type, {"idempotency_key": _idempotency_key(ctx)},
                                           ctx.actor)}


@api.route("/orders/{order_id}/fraud", "POST", role=Role.BILLING, summary="Set as Fraud", response="ActionEnvelope",
           status=202, errors=(409, 502), tags=("actions",))
def set_fraud(order_id: str, ctx: Ctx):  # type: ignore[no-untyped-def]
    return {"action": actions.start_action(order_id, ActionType.FRAUD, {"idempotency_key": _idempotency_key(ctx)},
                                           ctx.actor)}


@api.route("/orders/{order_id}/pending", "POST", role=Role.SUPPORT, summary="Set Back to Pending (no module command)",
           response="OrderOut", errors=(409,), tags=("actions",))
def back_to_pending(order_id: str, ctx: Ctx):  # type: ignore[no-untyped-def]
    return actions.back_to_pending(order_id, ctx.actor)


@api.route("/orders/{order_id}", "DELETE", role=Role.ADMIN, summary="Delete the order and everything of it",
           status=204, errors=(409,), tags=("actions",))
def delete_order(order_id: str, ctx: Ctx):  # type: ignore[no-untyped-def]
    actions.delete_order(order_id, ctx.actor)


@api.route("/orders/{order_id}/actions/{action_id}", "GET", role=Role.VIEWER, summary="An action and its steps",
           response="ActionOut", tags=("actions",))
def get_action(order_id: str, action_id: str):  # type: ignore[no-untyped-def]
    return actions.get_action(order_id, action_id)


# -- invoices ------------------------------------------------------------------------------------


@api.route("/invoices/{invoice_id}", "GET", role=Role.VIEWER, summary="The whole invoice", response="InvoiceOut",
           tags=("invoices",))
def get_invoice(invoice_id: str):  # type: ignore[no-untyped-def]
    return invoices.get_invoice(invoice_id)


@api.route("/invoices/{invoice_id}/payments", "POST", role=Role.BILLING, summary="Record a payment",
           body="PaymentIn", response="InvoiceOut", status=201, errors=(409,), tags=("invoices",))
def record_payment(invoice_id: str, body: PaymentIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    return invoices.record_payment(invoice_id, body, ctx.actor)


@api.route("/invoices/{invoice_id}/refunds/{refund_id}/confirm", "POST", role=Role.BILLING,
           summary="Confirm an owed refund paid back (with its reference)", body="RefundConfirmIn",
           response="InvoiceOut", errors=(409,), tags=("invoices",))
def confirm_refund(invoice_id: str, refund_id: str, body: RefundConfirmIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    return invoices.confirm_refund(invoice_id, refund_id, body.reference, ctx.actor)


@api.route("/refunds", "GET", role=Role.BILLING, summary="Refunds owed: recorded, not yet paid back",
           query="RefundQuery", response="OwedRefundListOut", tags=("invoices",))
def list_refunds(query: RefundQuery):  # type: ignore[no-untyped-def]
    return invoices.list_owed_refunds(query)


# -- payment gateways: Stripe's webhook (no JWT: Stripe signs each event) and what it could not match --


@api.route("/gateways/stripe/webhook", "POST", role=None,
           summary="Stripe's webhook: payment_intent.succeeded records the payment, charge.refunded a refund made "
                   "in Stripe, once each; verified by the Stripe-Signature header", response="StripeWebhookOut",
           errors=(400, 409, 503), tags=("gateways",))
def stripe_webhook(ctx: Ctx):  # type: ignore[no-untyped-def]
    return stripe_events.receive(ctx.raw_body, ctx.header("stripe-signature"))


@api.route("/gateways/stripe/unmatched", "GET", role=Role.BILLING,
           summary="Stripe events OrderDesk could not put on an invoice, newest first", query="UnmatchedQuery",
           response="UnmatchedListOut", tags=("gateways",))
def stripe_unmatched(query: UnmatchedQuery):  # type: ignore[no-untyped-def]
    found, next_cursor = stripe_events.list_unmatched(query.limit, query.cursor)
    return {"events": found, "next_cursor": next_cursor}


# -- bulk status changes, fraud screening ----------------------------------------------------------


@api.route("/orders/bulk", "POST", role=Role.ADMIN, summary="Bulk status change or delete (queued)",
           body="BulkIn", response="BulkJobEnvelope", status=202, errors=(502,), tags=("bulk",))
def bulk_update(body: BulkIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    return {"job": bulk.submit(body, ctx.actor)}


@api.route("/bulk-jobs/{job_id}", "GET", role=Role.VIEWER, summary="Progress and failures of a bulk job",
           response="BulkJobOut", tags=("bulk",))
def get_bulk_job(job_id: str):  # type: ignore[no-untyped-def]
    return bulk.get_job(job_id)


@api.route("/orders/{order_id}/fraud-check", "POST", role=Role.SUPPORT, summary="Run the fraud screening again",
           response="FraudCheckOut", errors=(409,), tags=("orders",))
def fraud_check(order_id: str, ctx: Ctx):  # type: ignore[no-untyped-def]
    return fraud.recheck_order(order_id, ctx.actor)


# -- the activity log (SPEC §7 "Audit") -------------------------------------------------------------


@api.route("/activity", "GET", role=Role.VIEWER, summary="The activity log: every change and deletion, newest first",
           query="ActivityQuery", response="ActivityListOut", tags=("activity",))
def list_activity(query: ActivityQuery):  # type: ignore[no-untyped-def]
    return activity.list_activity(query)


# -- registrars: no token; the request is signed with the registrar webhook secret instead ----------


@api.route("/registrar/events", "POST", role=None, signature=registrar_events.signature_refusal,
           summary="A registrar's event: a domain is active or failed (signed, no token)", body="RegistrarEventIn",
           status=204, errors=(404, 409), tags=("registrar",))
def registrar_event(body: RegistrarEventIn):  # type: ignore[no-untyped-def]
    registrar_events.receive_event(body.event_id, body.domain, body.status, body.detail)


# -- exports and statistics (the portal's orders list export, its dashboard) ----------------------


@api.route("/exports", "POST", role=Role.VIEWER,
           summary="Export the orders the filters list (as GET /orders) to a CSV file, in the background",
           body="ExportIn", response="ExportEnvelope", status=202, errors=(502,), tags=("exports",))
def start_export(body: ExportIn, ctx: Ctx):  # type: ignore[no-untyped-def]
    export = exports.start_export(body.filters.model_dump(mode="json", exclude_none=True), ctx.actor)
    return {"export": exports.shown(export)}


@api.route("/exports/{export_id}", "GET", role=Role.VIEWER,
           summary="An export's progress and, once DONE, its file's download URL (valid 15 minutes)",
           response="ExportOut", tags=("exports",))
def get_export(export_id: str):  # type: ignore[no-untyped-def]
    return exports.get_export(export_id)


@api.route("/stats/daily", "GET", role=Role.VIEWER, summary="What happened to orders on each day of a range",
           query="DailyStatsQuery", response="DailyStatsOut", response_is_list=True, tags=("stats",))
def daily_stats(query: DailyStatsQuery):  # type: ignore[no-untyped-def]
    return [stats.shown(day) for day in stats.daily(query.from_, query.to)]
