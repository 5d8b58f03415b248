"""The built-in screening rules: each signal has a weight; the score is the sum of the weights of
the signals that fired, capped at 100. Every signal is reported with the value it looked at."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from ...config import get_settings
from ...domain.model import FraudSignal
from ...domain.money import fmt
from .. import geoip
from . import Assessment, ScreeningInput

WEIGHTS: dict[str, int] = {
    "email_blocklisted": 100,
    "country_blocklisted": 100,
    "disposable_email": 40,
    "ip_country_mismatch": 25,
    "orders_per_ip_24h": 30,
    "orders_per_client_24h": 20,
    "new_client_high_value": 30,
    "free_email": 10,
}

# Free mailbox providers: not fraud by themselves, a small weight only.
FREE_EMAIL_DOMAINS = frozenset("""
    gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr ymail.com outlook.com hotmail.com hotmail.co.uk
    hotmail.fr live.com msn.com aol.com icloud.com me.com mac.com mail.com gmx.com gmx.net gmx.de web.de
    yandex.com yandex.ru mail.ru proton.me protonmail.com tutanota.com zoho.com qq.com 163.com 126.com
    inbox.com fastmail.com hushmail.com rediffmail.com
""".split())  # noqa: SIM905 - one word a domain, easier to read and extend


@lru_cache(maxsize=1)
def _disposable() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(d.lower() for d in blocklist)


def _domain_and_parents(domain: str) -> list[str]:
    parts = domain.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


class RulesProvider:
    name = "rules"

    def assess(self, facts: ScreeningInput) -> Assessment:
        settings = get_settings()
        email = facts.email.strip().lower()
        domain = email.rpartition("@")[2]
        signals: list[FraudSignal] = []

        def signal(name: str, value: object, triggered: bool) -> None:
            signals.append(FraudSignal(name=name, value=value, weight=WEIGHTS[name], triggered=triggered))

        blocked = set(settings.fraud_email_blocklist)
        hit = next((e for e in (email, domain, f"@{domain}") if e in blocked), None)
        signal("email_blocklisted", {"email": email, "matched": hit}, hit is not None)

        ip_country = geoip.country_of(facts.ip_address)
        countries = {c for c in (facts.client_country, ip_country) if c}
        listed = sorted(countries & set(settings.fraud_country_blocklist))
        signal("country_blocklisted", {"client_country": facts.client_country, "ip_country": ip_country,
                                       "matched": listed or None}, bool(listed))

        disposable = next((d for d in _domain_and_parents(domain) if d in _disposable()), None)
        signal("disposable_email", {"domain": domain}, disposable is not None)

        mismatch = ip_country is not None and ip_country != facts.client_country
        signal("ip_country_mismatch", {"ip_address": facts.ip_address, "ip_country": ip_country,
                                       "client_country": facts.client_country}, mismatch)

        per_ip = facts.orders_from_ip_24h + 1 if facts.ip_address else 0
        signal("orders_per_ip_24h", {"count": per_ip, "limit": settings.fraud_max_orders_per_ip_24h},
               per_ip > settings.fraud_max_orders_per_ip_24h)

        per_client = facts.orders_of_client_24h + 1
        signal("orders_per_client_24h", {"count": per_client, "limit": settings.fraud_max_orders_per_client_24h},
               per_client > settings.fraud_max_orders_per_client_24h)

        limit = Decimal(settings.fraud_new_client_max_total)
        signal("new_client_high_value", {"first_order": facts.first_order, "total": fmt(facts.total),
                                         "limit": fmt(limit)}, facts.first_order and facts.total > limit)

        signal("free_email", {"domain": domain}, domain in FREE_EMAIL_DOMAINS)

        score = min(100, sum(s.weight for s in signals if s.triggered))
        return Assessment(score=score, signals=signals)
