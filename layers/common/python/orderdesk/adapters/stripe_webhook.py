"""Stripe's webhook events, verified: the stripe library's own check (`stripe.Webhook.
construct_event`) of the `Stripe-Signature` header against the endpoint's signing secret
(`STRIPE_WEBHOOK_SECRET`, or its Secrets Manager ARN), with Stripe's 5-minute tolerance.

A forged, stale, unsigned or unparsable delivery is a ValidationFailed naming the header (or the
body): a 400 before anything is read or stored. No secret configured is a TransientError (503 with
Retry-After): Stripe retries for three days, so events sent before the secret is put in are not
lost. (The class itself, not a subclass: the workflows retry every subclass by name, and no
workflow calls this.)"""

from __future__ import annotations

import json
from typing import Any

from ..domain.errors import TransientError, ValidationFailed
from .secret_store import secret

SIGNATURE_HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300  # Stripe's default: a signature older than this is refused (replays)


def verified_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event Stripe signed, as plain JSON values; ValidationFailed when it is not Stripe's."""
    signing_secret = secret("stripe_webhook_secret")
    if not signing_secret:
        raise TransientError("the Stripe webhook is not configured (STRIPE_WEBHOOK_SECRET)")
    import stripe  # the library only with a webhook call: nothing of it in the API's cold start

    try:
        stripe.Webhook.construct_event(payload, signature, signing_secret, tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        # the library's reason (no header, no v1 signature, no match, outside the tolerance); never the payload
        raise ValidationFailed("the Stripe signature does not verify",
                               {SIGNATURE_HEADER: _reason(exc)}) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("the body is not a Stripe event", {"body": "is not JSON"}) from exc
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"] \
            or not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
        raise ValidationFailed("the body is not a Stripe event", {"body": "needs id, type and data"})
    return event


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "user_message", None) or exc)
    if "tolerance" in text:
        return "is too old (outside Stripe's 5-minute tolerance)"
    if "No Stripe-Signature" in text:
        return "is missing"
    if "timestamp and signatures" in text or "expected scheme" in text:
        return "is not a Stripe signature (t=<timestamp>,v1=<signature>)"
    return "does not match the body and the endpoint's signing secret"
