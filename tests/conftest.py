"""Shared fixtures: one DynamoDB Local per test session, a fresh table per test, signing keys,
and the Chalice app behind chalice.test.Client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from cryptography.fernet import Fernet

from infra.local import gateway
from infra.local.dynamodb_local import DynamoDBLocal
from infra.local.keys import new_rsa_keypair
from infra.local.moto_server import MotoServer
from infra.local.table import create_table
from orderdesk.config import reset_settings

os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_DEV", "false")
# the stand-ins for webhooks, WHM and Stripe listen on 127.0.0.1 (off by default, and in AWS)
os.environ.setdefault("ALLOW_LOOPBACK_OUTBOUND", "true")


STOREFRONT_CLIENT_ID = "test-storefront-client"  # the one machine client the tests' settings allow


# `make test-fast` runs what needs no local stack, no browser and no emulated AWS service beyond
# DynamoDB Local (`-m "not (slow or browser or stack or emulated)"`), `make test-slow` the rest.
# Every test of these folders starts a whole stack (or the benchmarks' DynamoDB Local and moto with
# their data), and every test asking for moto's server (the workflows running the real ASL, the
# queues, the bus) is marked so here, not module by module
STACK_FOLDERS = ("e2e", "bench")
EMULATED = frozenset({"workflows", "moto", "bulk_queue", "bus", "stripe_api", "kms"})


# The files that take half a minute or more, longest first: `make test` runs them before the others
# (with --no-loadscope-reorder), so that no long file starts last and runs on alone while the
# other worker idles. Only the order changes; a file not named here runs after them.
LONG_FILES = (  # as measured in a whole `make test` on 2 cores
    "e2e/test_fuzz.py", "integration/test_bulk.py", "integration/test_workflows.py", "e2e/test_faults.py",
    "e2e/test_portal.py", "e2e/test_local_stack.py", "e2e/test_races.py", "integration/test_read_budget.py",
    "integration/test_properties.py", "integration/test_auth.py", "integration/test_filter_properties.py",
    "integration/test_registrar_events.py", "integration/test_stripe_webhook.py", "integration/test_orders_api.py",
    "bench/test_bench_smoke.py", "integration/test_exports.py", "integration/test_item_commands.py",
    "integration/test_webhook_faults.py", "integration/test_search_index.py", "integration/test_bulk_chunks.py",
    "integration/test_money.py", "e2e/test_portal_backoffice.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parent
    rank = {name: n for n, name in enumerate(LONG_FILES)}

    def first(item: pytest.Item) -> int:
        path = item.path.resolve()
        name = "/".join(path.relative_to(root).parts) if path.is_relative_to(root) else ""
        return rank.get(name, len(rank))

    items.sort(key=first)  # stable: each file's tests, and the other files, keep their order
    for item in items:
        path = item.path.resolve()
        if path.is_relative_to(root) and path.relative_to(root).parts[0] in STACK_FOLDERS:
            item.add_marker(pytest.mark.stack)
        elif EMULATED & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.emulated)


def make_keypair() -> tuple[str, str]:
    return new_rsa_keypair()


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    private, public = make_keypair()
    path = tmp_path_factory.mktemp("keys") / "public.pem"
    path.write_text(public)
    os.environ["AUTH_PUBLIC_KEY_FILE"] = str(path)
    os.environ["AUTH_ISSUER"] = "orderdesk-test"
    os.environ["AUTH_AUDIENCE"] = "orderdesk"
    os.environ["AUTH_MACHINE_CLIENT_IDS"] = f"storefront={STOREFRONT_CLIENT_ID}"
    os.environ.setdefault("SECRETS_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("CURSOR_SECRET", "test-cursor-secret")
    reset_settings()
    return {"private": private, "public": public, "public_path": str(path)}


_session_dynamodb: list[DynamoDBLocal] = []  # the session's DynamoDB Local, once started
_used_by_this_file = [False]


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBLocal]:
    ddb = DynamoDBLocal(data_dir=None)
    ddb.start()
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = ddb.endpoint
    os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = ddb.endpoint
    _session_dynamodb.append(ddb)
    yield ddb
    _session_dynamodb.remove(ddb)
    ddb.stop()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if "dynamodb_local" in getattr(item, "fixturenames", ()):
        _used_by_this_file[0] = True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the last test of a file that used DynamoDB Local (its module's fixtures gone, so no
    table outlives it), the next file gets a new database on the same port: the stream records
    of every file before would slow each of its writes (`DynamoDBLocal.restart`)."""
    yield
    if nextitem is not None and nextitem.path != item.path and _used_by_this_file[0] and _session_dynamodb:
        _used_by_this_file[0] = False
        _session_dynamodb[0].restart()


@pytest.fixture(scope="session")
def kms_server() -> Iterator[MotoServer]:
    """moto's server for KMS alone: no Step Functions, so it never takes MOTO_PORT from the
    `workflows` fixture's server running beside it."""
    server = MotoServer(step_functions=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def kms(kms_server: MotoServer) -> Iterator[str]:
    """A KMS key of its own in moto's KMS, the code pointed at it as template.yaml points the
    functions at SecretsKmsKey (AWS_ENDPOINT_URL_KMS, SECRETS_KMS_KEY_ID); its ARN. The `workflows`
    fixture has one already."""
    from orderdesk.adapters import aws

    client = boto3.client("kms", region_name="us-east-1", endpoint_url=kms_server.endpoint)
    arn = str(client.create_key(Description="test secrets")["KeyMetadata"]["Arn"])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL_KMS", kms_server.endpoint)
        env.setenv("SECRETS_KMS_KEY_ID", arn)
        reset_settings()
        aws.reset_clients()
        yield arn
    reset_settings()
    aws.reset_clients()


@pytest.fixture(scope="session")
def ddb_client(dynamodb_local: DynamoDBLocal):  # type: ignore[no-untyped-def]
    return boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint, region_name="us-east-1")


@pytest.fixture()
def table(dynamodb_local: DynamoDBLocal, ddb_client, keypair) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, empty table for one test, built from template.yaml."""
    name = f"orderdesk-{uuid.uuid4().hex[:10]}"
    create_table(ddb_client, name)
    os.environ["TABLE_NAME"] = name
    reset_settings()
    yield name
    ddb_client.delete_table(TableName=name)


class OrderStream:
    """The table's stream fed to the order views' handler (`functions/order_stream`) as the
    template's event source mapping does, on demand: `settle()` reads it to its end, so the
    status counters hold every change made so far."""

    def __init__(self, table: str) -> None:
        from functions.order_stream import app as order_stream_app
        from infra.local.event_sources import DynamoDBStreamPoller, template_filter_patterns

        self.poller = DynamoDBStreamPoller(table, order_stream_app.handler,
                                           template_filter_patterns("OrderStreamFunction"),
                                           function_name="order-stream", retry_delay=0)

    def settle(self) -> int:
        """Read the stream until a pass finds nothing new; the records handled."""
        handled = 0
        while (n := self.poller.run_once()):
            handled += n
        assert not self.poller.failed_batches, self.poller.failed_batches
        return handled


@pytest.fixture()
def order_stream(table: str) -> OrderStream:
    return OrderStream(table)


@pytest.fixture(scope="session")
def chalice_app(keypair):  # type: ignore[no-untyped-def]
    gateway.install()
    import app as app_module

    return app_module.app


@pytest.fixture()
def client(chalice_app, table):  # type: ignore[no-untyped-def]
    from chalice.test import Client

    with Client(chalice_app) as c:
        yield c


@pytest.fixture()
def token(keypair):  # type: ignore[no-untyped-def]
    from orderdesk.api.auth import issue_token

    def make(role: str = "admin", **kwargs: object) -> str:
        return issue_token(keypair["private"], role, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture()
def machine_token(keypair):  # type: ignore[no-untyped-def]
    """A client-credentials access token: machine_token("orderdesk/support") is the storefront's."""
    from orderdesk.api.auth import issue_access_token

    def make(*scopes: str, client_id: str = STOREFRONT_CLIENT_ID, **kwargs: object) -> str:
        return issue_access_token(keypair["private"], client_id, list(scopes), **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture()
def api(client, token):  # type: ignore[no-untyped-def]
    """Call the API as a role: api.post('/orders', {...}, role='support')."""
    import json as _json

    class Caller:
        def request(self, method: str, path: str, body: object = None, role: str = "admin",
                    headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
            h = {"Authorization": f"Bearer {token(role)}", "Content-Type": "application/json", **(headers or {})}
            data = _json.dumps(body) if body is not None and not isinstance(body, (bytes, str)) else body
            resp = client.http.request(method, path, headers=h, body=data or b"")
            resp.data = _json.loads(resp.body) if resp.body else None  # type: ignore[attr-defined]
            return resp

        def get(self, path: str, **kw):  # type: ignore[no-untyped-def]
            return self.request("GET", path, **kw)

        def post(self, path: str, body: object = None, **kw):  # type: ignore[no-untyped-def]
            return self.request("POST", path, body if body is not None else {}, **kw)

        def put(self, path: str, body: object = None, **kw):  # type: ignore[no-untyped-def]
            return self.request("PUT", path, body, **kw)

        def delete(self, path: str, **kw):  # type: ignore[no-untyped-def]
            return self.request("DELETE", path, **kw)

    return Caller()


REPO_ROOT = Path(__file__).resolve().parents[1]
