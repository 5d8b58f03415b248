"""MaxMind minFraud Score through the `minfraud` package's client (account id and licence key;
MAXMIND_HOST points it at another host, such as the sandbox or a test server)."""

from __future__ import annotations

import threading
from typing import Any

from ...config import get_settings
from ...domain.errors import PermanentError
from ...domain.model import FraudSignal
from ..secret_store import secret
from . import Assessment, FraudProviderError, ScreeningInput

_client: Any = None
_client_key: tuple[str, str, str] | None = None
_lock = threading.Lock()


def _minfraud() -> Any:
    global _client, _client_key
    settings = get_settings()
    license_key = secret("maxmind_license_key") if settings.maxmind_account_id else None
    if not (settings.maxmind_account_id and license_key):
        raise PermanentError("minFraud needs MAXMIND_ACCOUNT_ID and MAXMIND_LICENSE_KEY (or MAXMIND_LICENSE_KEY_ARN)")
    key = (settings.maxmind_account_id, license_key, settings.maxmind_host or "minfraud.maxmind.com")
    with _lock:
        if _client is None or _client_key != key:
            from minfraud import Client

            _client = Client(int(key[0]), key[1], host=key[2], timeout=settings.maxmind_timeout_seconds)
            _client_key = key
        return _client


class MaxMindProvider:
    name = "maxmind"

    def transaction(self, facts: ScreeningInput) -> dict[str, Any]:
        return {
            "device": {"ip_address": facts.ip_address} if facts.ip_address else None,
            "event": {"transaction_id": facts.order_id, "type": "purchase", "time": facts.placed_at},
            "account": {"user_id": facts.client_id},
            "email": {"address": facts.email},
            "billing": {"country": facts.client_country},
            "order": {"amount": float(facts.total), "currency": facts.currency},  # minFraud's schema: a number
        }

    def assess(self, facts: ScreeningInput) -> Assessment:
        from minfraud.errors import MinFraudError

        try:
            response = _minfraud().score(self.transaction(facts), hash_email=True)
        except MinFraudError as exc:
            raise FraudProviderError(f"minFraud: {exc}") from exc
        except Exception as exc:  # requests' connection and timeout errors
            raise FraudProviderError(f"minFraud unreachable: {type(exc).__name__}: {exc}") from exc
        risk = float(response.risk_score)
        score = max(0, min(100, round(risk)))
        signals = [
            FraudSignal(name="minfraud_risk_score", value=risk, weight=100, triggered=score >= get_settings()
                        .fraud_review_threshold),
            FraudSignal(name="minfraud_ip_risk", value=getattr(response.ip_address, "risk", None), weight=0,
                        triggered=False),
            FraudSignal(name="minfraud_id", value=response.id, weight=0, triggered=False),
        ]
        signals += [FraudSignal(name="minfraud_warning", value={"code": w.code, "warning": w.warning}, weight=0,
                                triggered=False) for w in response.warnings]
        return Assessment(score=score, signals=signals)
