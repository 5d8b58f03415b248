"""`make stripe-event TYPE=payment_intent.succeeded INVOICE=<id>`: a realistic Stripe webhook event,
signed as Stripe signs it (the stripe library's `WebhookSignature.generate_signature_header`:
`t=<timestamp>,v1=<HMAC-SHA256 of "<timestamp>.<body>">` with the endpoint's secret), sent to the
running local stack's `POST /gateways/stripe/webhook`.

The stack's URL comes from ``.local/stack.json``, the signing secret from the file the stack wrote
at its first start (``.local/stripe-webhook.secret``), the invoice's balance and currency from the
API (with ``.local/admin.token``), so the event pays exactly what is due unless AMOUNT says
otherwise:

    python -m infra.local.stripe_event --type payment_intent.succeeded --invoice inv-... [--amount 12.50]
    python -m infra.local.stripe_event --type charge.refunded --invoice inv-... [--amount 5.00]

The builders (`payment_intent_succeeded`, `charge_refunded`, `signature`) are what the tests
send too."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

from infra.local.files import LocalFiles

API_VERSION = "2024-06-20"  # the API version the events are shaped after (charges' refunds expanded)
TYPES = ("payment_intent.succeeded", "charge.refunded")


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _event(kind: str, obj: dict[str, Any], event_id: str | None, created: int | None) -> dict[str, Any]:
    return {"id": event_id or _id("evt"), "object": "event", "api_version": API_VERSION,
            "created": created or int(time.time()), "data": {"object": obj}, "livemode": False,
            "pending_webhooks": 1, "request": {"id": _id("req"), "idempotency_key": None}, "type": kind}


def payment_intent_succeeded(invoice_id: str | None, amount: int, currency: str, *, intent_id: str | None = None,
                             charge_id: str | None = None, event_id: str | None = None,
                             created: int | None = None) -> dict[str, Any]:
    """A `payment_intent.succeeded` event: `amount` in Stripe's minor units of `currency`."""
    intent_id, charge_id = intent_id or _id("pi"), charge_id or _id("ch")
    now = created or int(time.time())
    intent = {"id": intent_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
              "amount_received": amount, "capture_method": "automatic", "created": now,
              "currency": currency.lower(), "customer": None, "description": f"OrderDesk invoice {invoice_id}",
              "latest_charge": charge_id, "livemode": False,
              "metadata": {"invoice_id": invoice_id} if invoice_id else {},
              "payment_method": _id("pm"), "payment_method_types": ["card"], "status": "succeeded"}
    return _event("payment_intent.succeeded", intent, event_id, created)


def charge_refunded(intent_id: str, charge_id: str, amount: int, refunds: list[tuple[str, int]], currency: str, *,
                    invoice_id: str | None = None, event_id: str | None = None,
                    created: int | None = None) -> dict[str, Any]:
    """A `charge.refunded` event of a charge of `amount`, refunded by `refunds` ((id, amount), in
    minor units). Its metadata names the invoice only when `invoice_id` is given: Stripe does not
    copy a payment intent's metadata to its charge."""
    now = created or int(time.time())
    refunded = sum(units for _, units in refunds)
    charge = {"id": charge_id, "object": "charge", "amount": amount, "amount_captured": amount,
              "amount_refunded": refunded, "captured": True, "created": now, "currency": currency.lower(),
              "livemode": False, "metadata": {"invoice_id": invoice_id} if invoice_id else {}, "paid": True,
              "payment_intent": intent_id, "refunded": refunded >= amount, "status": "succeeded",
              "refunds": {"object": "list", "has_more": False, "url": f"/v1/charges/{charge_id}/refunds",
                          "data": [{"id": rid, "object": "refund", "amount": units, "charge": charge_id,
                                    "currency": currency.lower(), "payment_intent": intent_id,
                                    "status": "succeeded", "metadata": {}, "created": now}
                                   for rid, units in refunds]}}
    return _event("charge.refunded", charge, event_id, created)


def signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send with `payload`."""
    import stripe

    return str(stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp))


def send(url: str, event: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[int, Any]:
    """POST the event, signed, as Stripe does; (status, JSON answer)."""
    payload = json.dumps(event, indent=2)
    request = urllib.request.Request(f"{url.rstrip('/')}/gateways/stripe/webhook", data=payload.encode(),
                                     method="POST", headers={
                                         "Content-Type": "application/json; charset=utf-8",
                                         "Stripe-Signature": signature(payload, secret, timestamp),
                                         "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the local stack's own URL
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _api(url: str, token: str, path: str) -> Any:
    request = urllib.request.Request(f"{url.rstrip('/')}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the local stack's own URL
        return json.loads(answer.read())


def build(kind: str, invoice: dict[str, Any], amount: Decimal | None) -> dict[str, Any]:
    """The event of `kind` for an invoice as the API shows it."""
    from orderdesk.adapters.gateways import minor_units

    currency = invoice["currency"]
    if kind == "payment_intent.succeeded":
        due = Decimal(amount if amount is not None else invoice["balance"])
        return payment_intent_succeeded(invoice["id"], minor_units(due, currency), currency)
    payment = next((t for t in reversed(invoice["transactions"]) if t["type"] == "payment"
                    and t["gateway"] == "stripe"), None)
    if payment is None:
        raise SystemExit(f"invoice {invoice['id']} has no Stripe payment to refund: send a "
                         "payment_intent.succeeded first")
    paid = minor_units(Decimal(payment["amount"]), currency)
    refund = minor_units(Decimal(amount), currency) if amount is not None else paid
    intent_id = payment["transaction_id"]
    return charge_refunded(intent_id, _id("ch"), paid, [(_id("re"), refund)], currency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sign and send a Stripe webhook event to the running local stack")
    parser.add_argument("--type", required=True, choices=TYPES)
    parser.add_argument("--invoice", required=True, help="the invoice id (inv-...)")
    parser.add_argument("--amount", help="in the invoice's currency (default: the balance due, or the payment)")
    parser.add_argument("--data-dir", default=".local", help="the local stack's data directory")
    args = parser.parse_args(argv)
    files = LocalFiles(Path(args.data_dir).resolve())
    state = files.running_stack()
    if state is None or not state.get("url"):
        print(f"no local stack is running from {args.data_dir}/: start it with `make run`", file=sys.stderr)
        return 1
    token = files.admin_token.read_text().strip()
    try:
        invoice = _api(state["url"], token, f"/invoices/{args.invoice}")
    except urllib.error.HTTPError as exc:
        print(f"GET /invoices/{args.invoice}: {exc.code} {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    event = build(args.type, invoice, Decimal(args.amount) if args.amount else None)
    status, answer = send(state["url"], event, files.stripe_webhook_secret.read_text().strip())
    print(f"{args.type} {event['id']} -> {status} {json.dumps(answer)}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
