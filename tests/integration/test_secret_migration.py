"""Secrets stored before KMS (issue 17): item passwords and server credentials written the old way,
as Fernet tokens under SECRETS_KEY, are re-encrypted with KMS by `infra.local.migrate_secrets` (what
the local stack runs at start), each bound to its record; what cannot be read is reported and left.
DynamoDB Local holds the data, moto's KMS the key."""

from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography.fernet import Fernet

from infra.local.migrate_secrets import migrate_secrets
from orderdesk.adapters import crypto
from orderdesk.domain.errors import PermanentError
from orderdesk.domain.model import Server, iso, new_id, utcnow
from orderdesk.services.ports import stores


def old_way(value: str, key: str | None = None) -> str:
    """`value` as OrderDesk stored it before KMS: a Fernet token under SECRETS_KEY."""
    return Fernet((key or os.environ["SECRETS_KEY"]).encode()).encrypt(value.encode()).decode()


def new_order(api: Any, products: int) -> dict[str, Any]:
    client = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                   "country": "GB"}).data
    r = api.post("/orders", {"client_id": client["id"], "payment_method": "manual", "skip_fraud_check": True,
                             "items": [{"kind": "product", "description": f"Hosting {n}", "amount": "10.00"}
                                       for n in range(products)]})
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


def put_server(credentials_enc: str) -> str:
    server = Server(id=new_id(), name="whm", module="cpanel", hostname="whm.example.net", has_credentials=True,
                    created_at=iso(utcnow()))
    stores().directory.put_server(server, credentials_enc)
    return server.id


@pytest.fixture()
def old_data(api: Any, kms: str) -> dict[str, Any]:
    """An order whose first item's password and a server's credentials were stored the old way, an
    item whose old token no key here reads, and a server already on KMS."""
    order = new_order(api, products=3)
    old_item, lost_item, untouched_item = (i["id"] for i in order["items"])
    writes = stores().writes
    writes.update_item(order["id"], old_item, password_enc=old_way("Pa55-old-item"))
    writes.update_item(order["id"], lost_item, password_enc=old_way("Pa55-lost", Fernet.generate_key().decode()))
    old_server = put_server(old_way("WHMTOKEN-OLD"))
    on_kms = put_server(crypto.encrypt("WHMTOKEN-KMS", crypto.server_context("placeholder")))
    return {"order": order["id"], "old_item": old_item, "lost_item": lost_item, "untouched_item": untouched_item,
            "old_server": old_server, "on_kms": on_kms,
            "kms_value": stores().directory.server_credentials(on_kms)}


def test_values_stored_the_old_way_are_re_encrypted_with_kms_bound_to_their_record(old_data: dict[str, Any]) -> None:
    order, orders, directory = old_data["order"], stores().orders, stores().directory
    # GIVEN the old values read as before (the versioned prefix says which scheme: none is Fernet)
    before = orders.item_password(order, old_data["old_item"])
    assert before is not None and not crypto.is_kms(before)
    assert crypto.decrypt(before, crypto.item_context(order, old_data["old_item"])) == "Pa55-old-item"

    # WHEN the migration runs
    done = migrate_secrets()

    # THEN the readable old values were re-encrypted: KMS envelopes that decrypt for their record ...
    assert (done.items, done.servers, done.changed_meanwhile) == (1, 1, 0)
    password = orders.item_password(order, old_data["old_item"])
    credentials = directory.server_credentials(old_data["old_server"])
    assert password is not None and credentials is not None
    assert crypto.is_kms(password) and crypto.is_kms(credentials)
    assert crypto.decrypt(password, crypto.item_context(order, old_data["old_item"])) == "Pa55-old-item"
    assert crypto.decrypt(credentials, crypto.server_context(old_data["old_server"])) == "WHMTOKEN-OLD"
    # ... and only for it
    with pytest.raises(PermanentError):
        crypto.decrypt(password, crypto.item_context(order, old_data["untouched_item"]))
    # AND the value no key here reads is reported by its record and left as it was; the KMS one untouched
    assert done.unreadable == [f"item {order}/{old_data['lost_item']}"] and done.done
    lost = orders.item_password(order, old_data["lost_item"])
    assert lost is not None and not crypto.is_kms(lost)
    assert directory.server_credentials(old_data["on_kms"]) == old_data["kms_value"]
    assert orders.item_password(order, old_data["untouched_item"]) is None


def test_the_migration_run_again_changes_nothing(old_data: dict[str, Any]) -> None:
    # GIVEN a migration done
    migrate_secrets()
    after = stores().orders.item_password(old_data["order"], old_data["old_item"])
    # WHEN it runs again
    again = migrate_secrets()
    # THEN nothing more is re-encrypted, and the values are as the first run left them
    assert (again.items, again.servers) == (0, 0)
    assert stores().orders.item_password(old_data["order"], old_data["old_item"]) == after
