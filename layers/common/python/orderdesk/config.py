"""One settings object, read from the environment once. No os.environ anywhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _machine_clients(name: str) -> tuple[tuple[str, str], ...]:
    """`name=client id` (or a bare client id) pairs, comma-separated. Ids keep their case: Cognito's
    are case-sensitive."""
    pairs = []
    for entry in os.environ.get(name, "").split(","):
        label, sep, client_id = entry.strip().rpartition("=")
        if client_id.strip():
            pairs.append((client_id.strip(), label.strip() if sep else ""))
    return tuple(pairs)


def _list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(x.strip().lower() for x in raw.split(",") if x.strip())


AUTO_ACCEPT_CHOICES = ("never", "paid")


def _choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """One of `choices` (any case); another value fails loudly rather than meaning the default."""
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    table_name: str = "orderdesk"
    region: str = "us-east-1"
    # botocore reads AWS_ENDPOINT_URL_DYNAMODB itself; kept here only so models notice a change
    dynamodb_endpoint: str | None = None
    # every AWS_ENDPOINT_URL[_<SERVICE>] as (name, value): botocore reads them itself; kept here
    # only so adapters.aws.client() builds a new client when the local stack or a test moves one
    aws_endpoints: tuple[tuple[str, str], ...] = ()
    status_shards: int = 8
    # auth
    auth_issuer: str = "orderdesk-local"
    auth_audience: str = "orderdesk"
    auth_jwks_url: str | None = None
    auth_public_key_file: str | None = None
    # machine clients whose client-credentials access tokens are accepted: (client id, name) pairs
    # from AUTH_MACHINE_CLIENT_IDS ("storefront=<id>,<id>,..."); the name is the actor in history
    auth_machine_clients: tuple[tuple[str, str], ...] = ()
    # admin portal sign-in through the Cognito hosted UI (unset locally: paste a token instead)
    cognito_domain: str | None = None
    cognito_client_id: str | None = None
    # Secrets: read them through adapters.secret_store.secret(name), never from here. The plain
    # value (locally and in tests) wins; in AWS only the *_arn is set and the value is fetched.
    # the Fernet key write-only credentials and passwords were encrypted with before KMS (read
    # only, for values not yet re-encrypted); cursor signing key
    secrets_key: str | None = None
    secrets_key_arn: str | None = None
    # the KMS key (id, ARN or alias) that write-only credentials and passwords are encrypted under
    # (adapters.crypto: envelope encryption, one data key per value)
    secrets_kms_key_id: str | None = None
    cursor_secret: str | None = None  # unset everywhere: services.cursor has a local default
    cursor_secret_arn: str | None = None
    max_body_bytes: int = 262_144
    # workflows
    accept_state_machine_arn: str | None = None
    cancel_state_machine_arn: str | None = None
    item_commands_state_machine_arn: str | None = None
    # bulk
    bulk_queue_url: str | None = None
    bulk_max_receives: int = 3  # the queue's redrive maxReceiveCount (template.yaml)
    # order events: the EventBridge bus they are put on (unset: none are published, as in tests
    # that do not look at them)
    event_bus_name: str | None = None
    # fraud
    fraud_provider: str = "rules"
    fraud_reject_threshold: int = 75
    fraud_review_threshold: int = 25
    fraud_country_blocklist: tuple[str, ...] = ()
    fraud_email_blocklist: tuple[str, ...] = ()
    fraud_new_client_max_total: str = "500.00"
    fraud_max_orders_per_ip_24h: int = 3
    fraud_max_orders_per_client_24h: int = 3
    geoip_database: str | None = None
    maxmind_account_id: str | None = None
    maxmind_license_key: str | None = None
    maxmind_license_key_arn: str | None = None
    maxmind_host: str | None = None
    maxmind_timeout_seconds: float = 10.0
    # cleanups
    order_unpaid_cancel_days: int = 0
    retention_days: int = 0
    stale_lock_minutes: int = 15  # a lock with no workflow execution recorded is stale after this
    domain_wait_hours: int = 24  # a domain waiting for its registrar longer needs attention
    bulk_stale_minutes: int = 15  # a bulk job with no progress this long is finished by the sweep
    idempotency_ttl_seconds: int = 86_400
    record_ttl_days: int = 30
    # the activity log keeps an entry this long after its change (a deleted order's: after the delete)
    audit_retention_days: int = 2555
    # email and local outbox
    email_from: str = "orders@orderdesk.local"
    email_outbox_dir: str | None = None
    stripe_api_base: str | None = None
    stripe_api_key: str | None = None
    stripe_api_key_arn: str | None = None
    # Stripe's signing secret of the webhook endpoint (whsec_...): POST /gateways/stripe/webhook
    stripe_webhook_secret: str | None = None
    stripe_webhook_secret_arn: str | None = None
    # never (default): a person accepts every order; paid: an order is accepted (actor
    # `automation`) the moment its invoice is Paid, if its fraud check passed or was skipped
    auto_accept: str = "never"
    # provisioning modules and registrars (the `webhook` registrar signs with its secret)
    remote_timeout_seconds: float = 15.0
    # plain http and loopback addresses for outbound calls: the local stack and the tests only
    allow_loopback_outbound: bool = False
    registrar_webhook_url: str | None = None
    registrar_webhook_secret: str | None = None
    registrar_webhook_secret_arn: str | None = None
    # exports of the orders list: the bucket of their files, the function that writes them (the
    # API starts it), the size of each part of a file's multipart upload (S3's minimum is 5 MiB)
    export_bucket: str | None = None
    export_function_name: str | None = None
    export_part_bytes: int = 5 * 1024 * 1024
    # the connection test of a server runs in a function of its own (the API invokes it and waits):
    # only there may KMS decrypt the stored credentials. Unset (tests in one process): run here
    server_check_function_name: str | None = None
    # observability (Powertools reads its other POWERTOOLS_* variables itself)
    service_name: str = "orderdesk"
    metrics_namespace: str = "OrderDesk"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            table_name=env.get("TABLE_NAME", cls.table_name),
            region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", cls.region)),
            dynamodb_endpoint=env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL") or None,
            aws_endpoints=tuple(sorted((k, v) for k, v in env.items() if k.startswith("AWS_ENDPOINT_URL") and v)),
            status_shards=_int("STATUS_SHARDS", cls.status_shards),
            auth_issuer=env.get("AUTH_ISSUER", cls.auth_issuer),
            auth_audience=env.get("AUTH_AUDIENCE", cls.auth_audience),
            auth_jwks_url=env.get("AUTH_JWKS_URL") or None,
            auth_public_key_file=env.get("AUTH_PUBLIC_KEY_FILE") or None,
            auth_machine_clients=_machine_clients("AUTH_MACHINE_CLIENT_IDS"),
            cognito_domain=env.get("COGNITO_DOMAIN") or None,
            cognito_client_id=env.get("COGNITO_CLIENT_ID") or None,
            secrets_key=env.get("SECRETS_KEY") or None,
            secrets_key_arn=env.get("SECRETS_KEY_ARN") or None,
            secrets_kms_key_id=env.get("SECRETS_KMS_KEY_ID") or None,
            cursor_secret=env.get("CURSOR_SECRET") or None,
            cursor_secret_arn=env.get("CURSOR_SECRET_ARN") or None,
            max_body_bytes=_int("MAX_BODY_BYTES", cls.max_body_bytes),
            accept_state_machine_arn=env.get("ACCEPT_STATE_MACHINE_ARN") or None,
            cancel_state_machine_arn=env.get("CANCEL_STATE_MACHINE_ARN") or None,
            item_commands_state_machine_arn=env.get("ITEM_COMMANDS_STATE_MACHINE_ARN") or None,
            bulk_queue_url=env.get("BULK_QUEUE_URL") or None,
            bulk_max_receives=_int("BULK_MAX_RECEIVES", cls.bulk_max_receives),
            event_bus_name=env.get("EVENT_BUS_NAME") or None,
            fraud_provider=env.get("FRAUD_PROVIDER", cls.fraud_provider),
            fraud_reject_threshold=_int("FRAUD_REJECT_THRESHOLD", cls.fraud_reject_threshold),
            fraud_review_threshold=_int("FRAUD_REVIEW_THRESHOLD", cls.fraud_review_threshold),
            fraud_country_blocklist=tuple(c.upper() for c in _list("FRAUD_COUNTRY_BLOCKLIST")),
            fraud_email_blocklist=_list("FRAUD_EMAIL_BLOCKLIST"),
            fraud_new_client_max_total=env.get("FRAUD_NEW_CLIENT_MAX_TOTAL", cls.fraud_new_client_max_total),
            fraud_max_orders_per_ip_24h=_int("FRAUD_MAX_ORDERS_PER_IP_24H", cls.fraud_max_orders_per_ip_24h),
            fraud_max_orders_per_client_24h=_int(
                "FRAUD_MAX_ORDERS_PER_CLIENT_24H", cls.fraud_max_orders_per_client_24h
            ),
            geoip_database=env.get("GEOIP_DATABASE") or None,
            maxmind_account_id=env.get("MAXMIND_ACCOUNT_ID") or None,
            maxmind_license_key=env.get("MAXMIND_LICENSE_KEY") or None,
            maxmind_license_key_arn=env.get("MAXMIND_LICENSE_KEY_ARN") or None,
            maxmind_host=env.get("MAXMIND_HOST") or None,
            maxmind_timeout_seconds=float(env.get("MAXMIND_TIMEOUT_SECONDS") or cls.maxmind_timeout_seconds),
            order_unpaid_cancel_days=_int("ORDER_UNPAID_CANCEL_DAYS", cls.order_unpaid_cancel_days),
            retention_days=_int("RETENTION_DAYS", cls.retention_days),
            stale_lock_minutes=_int("STALE_LOCK_MINUTES", cls.stale_lock_minutes),
            domain_wait_hours=_int("DOMAIN_WAIT_HOURS", cls.domain_wait_hours),
            bulk_stale_minutes=_int("BULK_STALE_MINUTES", cls.bulk_stale_minutes),
            idempotency_ttl_seconds=_int("IDEMPOTENCY_TTL_SECONDS", cls.idempotency_ttl_seconds),
            record_ttl_days=_int("RECORD_TTL_DAYS", cls.record_ttl_days),
            audit_retention_days=_int("AUDIT_RETENTION_DAYS", cls.audit_retention_days),
            email_from=env.get("EMAIL_FROM", cls.email_from),
            email_outbox_dir=env.get("EMAIL_OUTBOX_DIR") or None,
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            stripe_api_key=env.get("STRIPE_API_KEY") or None,
            stripe_api_key_arn=env.get("STRIPE_API_KEY_ARN") or None,
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
            stripe_webhook_secret_arn=env.get("STRIPE_WEBHOOK_SECRET_ARN") or None,
            auto_accept=_choice("AUTO_ACCEPT", AUTO_ACCEPT_CHOICES, cls.auto_accept),
            remote_timeout_seconds=float(env.get("REMOTE_TIMEOUT_SECONDS") or cls.remote_timeout_seconds),
            allow_loopback_outbound=env.get("ALLOW_LOOPBACK_OUTBOUND", "").lower() in ("1", "true", "yes"),
            registrar_webhook_url=env.get("REGISTRAR_WEBHOOK_URL") or None,
            registrar_webhook_secret=env.get("REGISTRAR_WEBHOOK_SECRET") or None,
            registrar_webhook_secret_arn=env.get("REGISTRAR_WEBHOOK_SECRET_ARN") or None,
            export_bucket=env.get("EXPORT_BUCKET") or None,
            export_function_name=env.get("EXPORT_FUNCTION_NAME") or None,
            export_part_bytes=max(_int("EXPORT_PART_BYTES", cls.export_part_bytes), 5 * 1024 * 1024),
            server_check_function_name=env.get("SERVER_CHECK_FUNCTION_NAME") or None,
            service_name=env.get("POWERTOOLS_SERVICE_NAME", cls.service_name),
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or cls.metrics_namespace,
        )

    def public_key_pem(self) -> str | None:
        if self.auth_public_key_file:
            return Path(self.auth_public_key_file).read_text()
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    """Tests and the local stack change the environment; forget the cached settings."""
    get_settings.cache_clear()
