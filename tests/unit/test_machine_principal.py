"""Who a machine client is: AUTH_MACHINE_CLIENT_IDS read into (id, name) pairs, the actor history
records for it, and the role its scopes grant."""

from __future__ import annotations

import pytest

from orderdesk.api import auth
from orderdesk.config import Settings, reset_settings
from orderdesk.domain.statuses import Role


def test_machine_clients_setting_keeps_names_and_the_ids_case(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a named client, a bare id and stray spaces and commas (Cognito's ids are case-sensitive)
    monkeypatch.setenv("AUTH_MACHINE_CLIENT_IDS", " storefront=4AbCdEf ,, 7XyZ ,")
    # WHEN the settings are read THEN each id keeps its case and its name, if any
    assert Settings.from_env().auth_machine_clients == (("4AbCdEf", "storefront"), ("7XyZ", ""))


def test_no_machine_clients_unless_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_MACHINE_CLIENT_IDS", raising=False)
    assert Settings.from_env().auth_machine_clients == ()


@pytest.mark.parametrize("scope,role", [
    ("orderdesk/viewer", Role.VIEWER),
    ("orderdesk/billing orderdesk/support", Role.BILLING),
    ("openid orderdesk/admin", Role.ADMIN),
    ("orderdesk/root", None),
    ("orderdeskx/admin admin other/admin", None),
    ("", None),
    (None, None),
    (["orderdesk/admin"], None),  # a list is not how the claim is written: nothing
])
def test_a_scope_grants_its_role_and_several_the_highest(scope, role) -> None:  # type: ignore[no-untyped-def]
    assert auth.role_from_scopes(scope) is role


def test_a_client_listed_without_a_name_is_recorded_by_its_id(machine_token, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a client listed by its bare id
    monkeypatch.setenv("AUTH_MACHINE_CLIENT_IDS", "bare-client-id")
    reset_settings()
    try:
        # WHEN its token is checked THEN history would name it by its id
        principal = auth.verify(f"Bearer {machine_token('orderdesk/viewer', client_id='bare-client-id')}")
        assert (principal.actor, principal.subject, principal.role) == ("client:bare-client-id", "bare-client-id",
                                                                        Role.VIEWER)
    finally:
        monkeypatch.undo()
        reset_settings()
