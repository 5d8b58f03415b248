"""A verified token is remembered for a while (as API Gateway caches its authorizer's answer), but
only against the settings and key it was checked with, and never past its expiry."""

from __future__ import annotations

import pytest

from orderdesk.api import auth
from orderdesk.config import reset_settings


def test_a_token_checked_once_is_not_checked_again(keypair, token, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN a token checked once
    bearer = f"Bearer {token('viewer', subject='cache-once')}"
    assert auth.verify(bearer).subject == "cache-once"
    import jwt

    calls = {"n": 0}
    real = jwt.decode

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    # WHEN it comes again THEN the answer is the same and no signature is checked
    assert auth.verify(bearer).subject == "cache-once"
    assert calls["n"] == 0


def test_other_settings_check_the_token_afresh(keypair, token, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN a token accepted for audience "orderdesk"
    bearer = f"Bearer {token('viewer', subject='cache-aud')}"
    assert auth.verify(bearer).subject == "cache-aud"
    # WHEN the expected audience changes
    monkeypatch.setenv("AUTH_AUDIENCE", "someone-else")
    reset_settings()
    try:
        # THEN the remembered answer does not apply
        with pytest.raises(auth.AuthError):
            auth.verify(bearer)
    finally:
        monkeypatch.undo()
        reset_settings()


def test_an_expired_token_is_not_remembered_past_its_expiry(keypair, token, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN a token that expires in 10 s, checked now
    bearer = f"Bearer {token('viewer', subject='cache-exp', ttl_seconds=10)}"
    assert auth.verify(bearer).subject == "cache-exp"
    # WHEN it comes back a minute later (past its expiry and the 30 s leeway)
    import time

    later = time.time() + 60
    monkeypatch.setattr(auth.time, "time", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", _Clock(later))
    # THEN it is refused
    with pytest.raises(auth.AuthError):
        auth.verify(bearer)


class _Clock:
    """`datetime` as PyJWT uses it (now(tz)), at a fixed time."""

    def __init__(self, at: float) -> None:
        from datetime import datetime

        self._at = at
        self._real = datetime

    def now(self, tz=None):  # type: ignore[no-untyped-def]
        return self._real.fromtimestamp(self._at, tz)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._real, name)
