"""Re-encrypt with KMS the write-only secrets stored before it: account passwords of order items
and server credentials kept as Fernet tokens under SECRETS_KEY (``orderdesk.adapters.crypto``).

The local stack runs it at each start until it has once found nothing left to do
(``.local/secrets.migrated``): a data directory of before KMS keeps working, and from then on its
values are envelopes bound to their record like any new one. By hand, against whichever table the
environment names: ``python -m infra.local.migrate_secrets`` with ``TABLE_NAME``, ``SECRETS_KEY``
(or ``SECRETS_KEY_ARN``), ``SECRETS_KMS_KEY_ID`` and credentials that may read the old key and
``kms:GenerateDataKey`` with the new one.

A value is replaced only while it is still the one read (a conditional update), so nothing written
meanwhile is overwritten; one the Fernet key cannot read is reported by its record and left as it
is. Running it again changes nothing. Not part of the product (the API never writes this way): it
uses the data layer's records directly, as ``bulk_load`` does."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger(__name__)


@dataclass
class Migrated:
    items: int = 0  # item passwords re-encrypted
    servers: int = 0  # server credentials re-encrypted
    unreadable: list[str] = field(default_factory=list)  # records whose old value the key cannot read
    changed_meanwhile: int = 0  # values replaced by someone else between the read and the update

    @property
    def done(self) -> bool:
        """Nothing is left in the old form (or none of what is left can ever be read)."""
        return self.changed_meanwhile == 0


def migrate_secrets() -> Migrated:
    """Every Fernet-encrypted item password and server credential, re-encrypted with KMS."""
    from orderdesk.adapters import crypto
    from orderdesk.adapters.store import records as r
    from orderdesk.adapters.store.table import connection
    from orderdesk.domain.errors import PermanentError

    connection()  # binds the records to the configured table
    out = Migrated()
    found = r.Record.scan(r.ItemRecord.password_enc.exists() | r.ServerRecord.credentials_enc.exists())
    for record in found:
        if isinstance(record, r.ItemRecord) and record.password_enc:
            attribute: Any = r.ItemRecord.password_enc
            old, context, name = record.password_enc, crypto.item_context(record.order_id, record.id), \
                f"item {record.order_id}/{record.id}"
        elif isinstance(record, r.ServerRecord) and record.credentials_enc:
            attribute, old = r.ServerRecord.credentials_enc, record.credentials_enc
            context, name = crypto.server_context(record.id), f"server {record.id}"
        else:
            continue
        if crypto.is_kms(old):
            continue
        try:
            plaintext = crypto.decrypt(old, context)
        except PermanentError as exc:
            LOG.warning("left as it is: the %s of %s (%s)", "password" if "item" in name else "credentials", name,
                        exc.message)
            out.unreadable.append(name)
            continue
        try:
            record.update(actions=[attribute.set(crypto.encrypt(plaintext, context))], condition=attribute == old)
        except Exception as exc:  # noqa: BLE001 - only a lost condition is expected; the rest goes on
            from orderdesk.adapters.store.table import condition_failed

            if not condition_failed(exc):
                raise
            out.changed_meanwhile += 1
            continue
        if isinstance(record, r.ItemRecord):
            out.items += 1
        else:
            out.servers += 1
    return out


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    done = migrate_secrets()
    print(f"re-encrypted with KMS: {done.items} item password(s), {done.servers} server credential(s); "
          f"unreadable with SECRETS_KEY: {len(done.unreadable)}; changed meanwhile: {done.changed_meanwhile}")
    for name in done.unreadable:
        print(f"  unreadable: {name}")
    return 0 if done.done else 1


if __name__ == "__main__":
    sys.exit(main())
