"""The local stack's data directory (``.local/`` for ``make run``): where each file lives, and the
keys made on the first start and kept across restarts."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / ".local"


@dataclass(frozen=True)
class LocalFiles:
    """The files of one data directory (``.local/`` for ``make run``)."""

    root: Path

    @property
    def private_key(self) -> Path:
        return self.root / "jwt-private.pem"

    @property
    def public_key(self) -> Path:
        return self.root / "jwt-public.pem"

    @property
    def secrets_key(self) -> Path:
        """The Fernet key of secrets stored before KMS: made by stacks of before, never now; read
        while values it encrypted may remain (``migrate_secrets`` re-encrypts them at start)."""
        return self.root / "secrets.key"

    @property
    def secrets_migrated(self) -> Path:
        return self.root / "secrets.migrated"

    def kms_key(self, logical_id: str) -> Path:
        """Key id and key material of a KMS key of template.yaml, as moto made it the first time."""
        return self.root / f"kms-{logical_id}.json"

    @property
    def cursor_secret(self) -> Path:
        return self.root / "cursor.secret"

    @property
    def registrar_secret(self) -> Path:
        """What a registrar signs its events to POST /registrar/events with (REGISTRAR_WEBHOOK_SECRET)."""
        return self.root / "registrar.secret"

    @property
    def stripe_webhook_secret(self) -> Path:
        """The signing secret of the local Stripe webhook (`make stripe-event` signs with it)."""
        return self.root / "stripe-webhook.secret"

    @property
    def admin_token(self) -> Path:
        return self.root / "admin.token"

    @property
    def dynamodb(self) -> Path:
        return self.root / "dynamodb"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def seeded(self) -> Path:
        return self.root / "seeded"

    @property
    def queued(self) -> Path:
        return self.root / "queued.json"

    @property
    def state(self) -> Path:
        return self.root / "stack.json"

    @property
    def lock(self) -> Path:
        return self.root / "stack.lock"

    def ensure_secrets(self) -> list[str]:
        """Create whichever key is missing; keep the others. Returns the names created."""
        self.root.mkdir(parents=True, exist_ok=True)
        created = []
        if not (self.private_key.exists() and self.public_key.exists()):
            from infra.local.keys import new_rsa_keypair

            private, public = new_rsa_keypair()
            write_private(self.private_key, private.encode())
            write_private(self.public_key, public.encode(), mode=0o644)
            created.append("JWT key pair")
        if not self.cursor_secret.exists():
            write_private(self.cursor_secret, secrets.token_urlsafe(32).encode())
            created.append("cursor secret")
        if not self.registrar_secret.exists():
            write_private(self.registrar_secret, secrets.token_urlsafe(32).encode())
            created.append("registrar webhook secret")
        if not self.stripe_webhook_secret.exists():
            # Stripe's form (whsec_ and base64): what a real endpoint's secret looks like
            write_private(self.stripe_webhook_secret, f"whsec_{secrets.token_urlsafe(24)}".encode())
            created.append("Stripe webhook secret")
        return created

    def running_stack(self) -> dict[str, Any] | None:
        """What ``stack.json`` says, when the process that wrote it is still alive."""
        try:
            state: dict[str, Any] = json.loads(self.state.read_text())
            os.kill(int(state["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return state


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write atomically with ``mode``: a reader never sees half a key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
