"""IP address → country, from a MaxMind DB file (GEOIP_DATABASE): a GeoLite2/GeoIP2 Country or
City database, or any .mmdb whose records carry `country.iso_code`, `registered_country.iso_code`
or `country_code`. Opened on first use, never at import."""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

from ..config import get_settings
from ..domain.errors import PermanentError

_readers: dict[str, Any] = {}
_lock = threading.Lock()


def _reader(path: str) -> Any:
    with _lock:
        if path not in _readers:
            import maxminddb

            try:
                _readers[path] = maxminddb.open_database(path)
            except (OSError, ValueError) as exc:
                raise PermanentError(f"cannot open the GeoIP database {path}: {exc}") from exc
        return _readers[path]


def configured() -> bool:
    return bool(get_settings().geoip_database)


def country_of(ip: str | None) -> str | None:
    """ISO 3166-1 alpha-2 country of a public IP address; None when unknown, private or unset."""
    path = get_settings().geoip_database
    if not ip or not path:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if not addr.is_global:
        return None
    record = _reader(path).get(str(addr))
    if not isinstance(record, dict):
        return None
    for key in ("country", "registered_country"):
        sub = record.get(key)
        if isinstance(sub, dict) and sub.get("iso_code"):
            return str(sub["iso_code"]).upper()
    code = record.get("country_code")
    return str(code).upper() if code else None


def close() -> None:
    with _lock:
        for reader in _readers.values():
            reader.close()
        _readers.clear()
