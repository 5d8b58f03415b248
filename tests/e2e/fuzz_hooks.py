"""schemathesis hooks for tests/e2e/test_fuzz.py (loaded by the CLI through SCHEMATHESIS_HOOKS).

A generated order names a random client, server or affiliate, which the API rightly refuses (400
"unknown client"), so the fuzzer would rarely get past POST /orders to the order's own operations.
Three generated orders in four get ids of real records instead (ORDERDESK_FUZZ_IDS, a JSON object
of lists written by the test), but only where the generated value was a well-formed id: a case
generated to be invalid stays exactly as invalid.

Item commands (POST /orders/{order_id}/item-commands) name an order and its items: outside the
stateful phase (whose links bring a created order and its first item) three cases in four get a
real order and items of that order in place of well-formed generated ids, so commands reach the
module workflow instead of a 404 or "not an item of this order".

Routes that take no token are signed by their sender instead (ORDERDESK_FUZZ_SIGNING: path →
its scheme and the stack's secret); a generated signature could only be refused, so the hook signs
the exact body requests will send, and the fuzzer reaches the body's validation, the unknown
domain or invoice, the duplicate event:
* POST /registrar/events (OrderDesk's HMAC of timestamp and body, declared as a security scheme):
  signed where the case carries the scheme's header; a case without it, and schemathesis's own
  auth probes (sent around this hook), stay unsigned and must be refused;
* POST /gateways/stripe/webhook (Stripe-Signature, no scheme declared): three cases in four."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import MutableMapping
from typing import Any

import requests
import schemathesis
from schemathesis.core import NOT_SET

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IDS: dict[str, list[Any]] = json.loads(os.environ.get("ORDERDESK_FUZZ_IDS") or "{}")
_SIGNING: dict[str, dict[str, str]] = json.loads(os.environ.get("ORDERDESK_FUZZ_SIGNING") or "{}")


def _pick(kind: str, seed: str) -> str | None:
    ids = _IDS.get(kind) or []
    if not ids:
        return None
    digest = hashlib.sha256(f"{kind}|{seed}".encode()).digest()
    if digest[0] % 4 == 0:
        return None  # one in four keeps the generated (unknown) id
    return ids[digest[1] % len(ids)]


def _swap(obj: dict[str, Any], key: str, kind: str, seed: str) -> None:
    value = obj.get(key)
    if isinstance(value, str) and _ID.match(value):
        real = _pick(kind, seed + key)
        if real is not None:
            obj[key] = real


def _item_command(case: Any) -> None:
    orders = _IDS.get("orders") or []
    params = case.path_parameters or {}
    phase = getattr(getattr(getattr(case, "meta", None), "phase", None), "name", "")
    if phase == "stateful" or not orders or not _ID.match(str(params.get("order_id", ""))):
        return
    digest = hashlib.sha256(json.dumps([params, case.body], sort_keys=True, default=str).encode()).digest()
    if digest[0] % 4 == 0:
        return  # one in four keeps the generated (unknown) order
    order = orders[digest[1] % len(orders)]
    params["order_id"] = order["id"]
    wanted = case.body.get("item_ids") if isinstance(case.body, dict) else None
    if isinstance(wanted, list) and order["items"] and all(isinstance(i, str) and _ID.match(i) for i in wanted):
        case.body["item_ids"] = [order["items"][(digest[2] + n) % len(order["items"])] for n in range(len(wanted))]


def _sent_body(case: Any) -> bytes | None:
    """The bytes requests will send for the case (schemathesis hands it the body as `json=`);
    None when there is nothing to sign (another media type, or a body requests refuses)."""
    if case.media_type not in (None, "application/json") or isinstance(case.body, bytes):
        return None
    if case.body is NOT_SET:
        return b""
    try:
        body = requests.Request("POST", "http://127.0.0.1/", json=case.body).prepare().body
    except (TypeError, ValueError):  # NaN and the like: requests refuses to send it
        return None
    return body if isinstance(body, bytes) else str(body or "").encode()


def _sign_event(case: Any, secret: str) -> None:
    """OrderDesk's own scheme (a registrar's events): signed where the case carries the header."""
    from orderdesk.adapters.signing import SIGNATURE_HEADER, event_headers

    headers = case.headers if isinstance(case.headers, MutableMapping) else None
    body = _sent_body(case)
    if headers is None or not isinstance(headers.get(SIGNATURE_HEADER), str) or body is None:
        return
    headers.update(event_headers(secret, body))


def _sign_stripe(case: Any, secret: str) -> None:
    """Stripe's webhook declares no security scheme (Stripe-Signature is checked by the stripe
    library): three cases in four are signed as Stripe signs, the fourth is left unsigned."""
    import stripe

    body = _sent_body(case)
    if body is None or not isinstance(case.headers, MutableMapping | None):
        return
    if hashlib.sha256(body).digest()[0] % 4 == 0:
        return
    payload = body.decode("utf-8", "replace")
    if payload.encode() != body:
        return
    case.headers = case.headers if case.headers is not None else {}
    case.headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(payload, secret)


_SIGNERS = {"orderdesk": _sign_event, "stripe": _sign_stripe}


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    if case.operation.method.upper() == "POST" and case.operation.path == "/servers/{server_id}/test":
        _known_server_only(case)
        return
    signing = _SIGNING.get(case.operation.path)
    if signing and case.operation.method.upper() == "POST":
        _SIGNERS[signing["scheme"]](case, signing["secret"])
        return
    if case.operation.method.upper() == "POST" and case.operation.path == "/orders/{order_id}/item-commands":
        _item_command(case)
        return
    if case.operation.method.upper() != "POST" or case.operation.path != "/orders" or not isinstance(case.body, dict):
        return
    seed = json.dumps(case.body, sort_keys=True, default=str)
    _swap(case.body, "client_id", "clients", seed)
    _swap(case.body, "affiliate_id", "affiliates", seed)
    items = case.body.get("items")
    if isinstance(items, list):
        for n, item in enumerate(items):
            if isinstance(item, dict):
                _swap(item, "server_id", "servers", f"{seed}{n}")


def _known_server_only(case: Any) -> None:
    """A connection test calls the server: a server the fuzzer made (reached by the link from POST
    /servers) may name any public host, and no test traffic leaves 127.0.0.1. So the test runs on
    one of the servers known before the run (the stack's own: module none, or a webhook on
    loopback); a malformed id stays as generated (refused before any lookup)."""
    params = case.path_parameters or {}
    value = params.get("server_id")
    known = _IDS.get("servers") or []
    if isinstance(value, str) and _ID.match(value) and value not in known and known:
        digest = hashlib.sha256(value.encode()).digest()
        params["server_id"] = known[digest[0] % len(known)]
