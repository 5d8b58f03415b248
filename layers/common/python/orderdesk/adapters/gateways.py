"""Payment gateways behind one interface, `refund(payment, amount, idempotency_key)`.

* `stripe`: a refund of the PaymentIntent (`pi_...`) or Charge (`ch_...`) through the stripe
  library, with Stripe's own `Idempotency-Key`: a retry with the same key returns the refund
  Stripe already made instead of making another. `STRIPE_API_BASE` points it elsewhere (tests);
  like every outbound call it goes through `outbound` (https, no credentials in the URL, public
  addresses only, pinned), and a refusal is a `GatewayError`, not worth retrying.
* `credit`: the amount goes back to the client's credit balance (`Refund.to_credit_of`), which
  the caller changes in the same transaction that records the refund, so it is credited once.
* `manual` (and any gateway without a refund API: banktransfer, paypal...): nothing is paid back
  here. The refund is `owed` (`Refund.state`), with no refund id, for a person to pay back and
  confirm with their reference; it is never reported as made.

The refund transaction id is deterministic for `credit`, and Stripe's refund id for `stripe`."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from ..config import get_settings
from ..domain import currencies
from ..domain.errors import GatewayError, TransientError
from ..domain.model import REFUND_DONE, REFUND_OWED, Transaction
from ..domain.outbound import scrub_urls, url_refusal
from . import outbound
from .secret_store import secret


class GatewayUnavailable(TransientError):
    """The gateway did not answer, rate-limited us, or failed on its side: retry (same key)."""


@dataclass(frozen=True)
class Refund:
    gateway: str
    transaction_id: str  # the gateway's refund id; empty for a refund owed (none was made)
    note: str | None = None
    to_credit_of: str | None = None  # the client whose credit balance the refund goes to
    state: str = REFUND_DONE  # done: the gateway paid it back; owed: a person must


class PaymentGateway(Protocol):
    name: str

    def refund(self, payment: Transaction, amount: Decimal, idempotency_key: str) -> Refund: ...


class ManualGateway:
    name = "manual"

    def __init__(self, gateway: str = "manual") -> None:
        self.gateway = gateway

    def refund(self, payment: Transaction, amount: Decimal, idempotency_key: str) -> Refund:
        return Refund(gateway=self.gateway, transaction_id="", state=REFUND_OWED,
                      note=f"{self.gateway} has no refund API here: pay it back by hand, then confirm it")


class CreditGateway:
    name = "credit"

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def refund(self, payment: Transaction, amount: Decimal, idempotency_key: str) -> Refund:
        return Refund(gateway="credit", transaction_id=f"credit-{payment.transaction_id}",
                      note=f"credited to client {self.client_id}", to_credit_of=self.client_id)


# Stripe's minor units: ISO 4217's exponent, but for the currencies Stripe counts otherwise. Its
# zero-decimal list (MGA and UGX among them), its three-decimal list (amounts ending in 0: KWD
# 12.50 is 12500), and ISK, zero-decimal in ISO but two-decimal in Stripe's API (in whole krónur:
# an amount divisible by 100).
STRIPE_ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                                 "VUV", "XAF", "XOF", "XPF"})
STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
_STRIPE_TWO_DECIMAL_IN_API = frozenset({"ISK"})


def stripe_exponent(currency: str) -> int:
    code = currency.upper()
    if code in STRIPE_ZERO_DECIMAL:
        return 0
    if code in STRIPE_THREE_DECIMAL:
        return 3
    if code in _STRIPE_TWO_DECIMAL_IN_API:
        return 2
    return currencies.exponent(code) if currencies.is_currency(code) else 2


def minor_units(amount: Decimal, currency: str) -> int:
    """`amount` in Stripe's smallest unit of `currency` (USD 12.50 → 1250, JPY 1500 → 1500, KWD
    12.50 → 12500). An amount the currency cannot carry (JPY 1500.50) is refused, never rounded:
    a refund of the wrong amount is worse than none."""
    code = currency.upper()
    if currencies.is_currency(code) and not currencies.fits(amount, code):
        raise GatewayError(f"{amount} {code} has more decimal places than {code} has")
    units = amount.scaleb(stripe_exponent(code))
    if units != units.to_integral_value():
        raise GatewayError(f"{amount} {code} is not a whole number of Stripe's {code} units")
    return int(units)


def from_minor_units(units: int, currency: str) -> Decimal:
    """Stripe's amount in `currency`'s smallest unit, as a Decimal of the currency (exact)."""
    return Decimal(units).scaleb(-stripe_exponent(currency))


class StripeGateway:
    name = "stripe"

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def refund(self, payment: Transaction, amount: Decimal, idempotency_key: str) -> Refund:
        import stripe

        params: dict[str, Any] = {
            "amount": minor_units(amount, self.currency),
            "metadata": {"orderdesk_payment": payment.id, "orderdesk_key": idempotency_key},
        }
        if payment.transaction_id.startswith("ch_"):
            params["charge"] = payment.transaction_id
        else:
            params["payment_intent"] = payment.transaction_id
        try:
            refund = _stripe().v1.refunds.create(params=params, options={"idempotency_key": idempotency_key})
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            if isinstance(exc.__cause__, outbound.OutboundRefused):  # the library wraps what the connection refused
                raise GatewayError(f"stripe: {exc.__cause__.message}") from exc
            raise GatewayUnavailable(f"stripe: {type(exc).__name__}: {_said(exc)}".strip()) from exc
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            if status >= 500 or isinstance(exc, stripe.APIError):
                raise GatewayUnavailable(f"stripe answered {status}: {_said(exc)}".strip()) from exc
            raise GatewayError(f"stripe refused the refund ({exc.code or status}): {_said(exc)}".strip()) from exc
        if getattr(refund, "status", None) in ("failed", "canceled"):
            raise GatewayError(f"stripe refund {refund.id} {refund.status}")
        return Refund(gateway="stripe", transaction_id=str(refund.id))


def _said(exc: Any) -> str:
    """The library's message, any URL in it cut to scheme, host and path."""
    return scrub_urls(str(exc.user_message or ""))


_client: Any = None
_client_for: tuple[str, str | None] | None = None
_client_lock = threading.Lock()


def _stripe() -> Any:
    """One StripeClient per (key, base), built on first use; no global stripe.api_key."""
    global _client, _client_for
    settings = get_settings()
    api_key = secret("stripe_api_key")
    if not api_key:
        raise GatewayError("stripe is not configured (STRIPE_API_KEY or STRIPE_API_KEY_ARN)")
    base = settings.stripe_api_base
    why = url_refusal(base, allow_loopback=settings.allow_loopback_outbound) if base else None
    if why:  # named, not quoted: the value may carry the credential
        raise GatewayError(f"STRIPE_API_BASE {why}")
    wanted = (api_key, base)
    with _client_lock:
        if _client is None or _client_for != wanted:
            import stripe

            _client = stripe.StripeClient(
                api_key,
                base_addresses={"api": base} if base else None,
                max_network_retries=0,  # the workflow retries, with the same idempotency key
                # the outbound session: every address checked, the connection pinned to it
                http_client=stripe.RequestsClient(timeout=(3.05, 30), session=outbound.session()),
            )
            _client_for = wanted
        return _client


def gateway_for(name: str, *, client_id: str, currency: str) -> PaymentGateway:
    """The gateway that took a payment, as it can refund it."""
    if name == "stripe":
        return StripeGateway(currency)
    if name == "credit":
        return CreditGateway(client_id)
    return ManualGateway(name)
