"""Fixtures for the action workflows, run for real: moto's server executing the ASL of
infra/statemachines/ with template.yaml's step functions served in-process, and its KMS holding
the key of write-only secrets (`workflows`),
DynamoDB Local behind them (the `table` fixture), and loopback HTTP servers standing in for a
provisioning webhook or registrar (`remote`) and Stripe's refund endpoint (`stripe_api`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from infra.local.moto_server import MotoServer
from infra.local.statemachines import (
    create_state_machines,
    function_handlers,
    lambda_functions_from_template,
    state_machine_environment,
)
from orderdesk.config import reset_settings
from tests.integration.workflow_support import (
    STEP_TIMEOUT_SECONDS,
    WEBHOOK_SECRET,
    FakeStripe,
    RemoteStub,
    Responder,
    Workflows,
    as_runtime,
    wait_for_action,
)

__all__ = ["wait_for_action"]  # tests import it from here too


@pytest.fixture(scope="module")
def workflows(dynamodb_local: Any, keypair: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workflows]:
    """moto's Step Functions running template.yaml's state machines, their steps in-process."""
    # moto logs an ERROR for every Fail state and failed task: expected here, the tests check them
    for name in ("program.program", "eval_component"):
        logging.getLogger(f"moto.stepfunctions.parser.asl.component.{name}").setLevel(logging.CRITICAL)
    overrides = {lid: as_runtime(dotted) for lid, dotted in function_handlers().items()}
    functions = lambda_functions_from_template(timeout_seconds=STEP_TIMEOUT_SECONDS, overrides=overrides)
    outbox = tmp_path_factory.mktemp("outbox")
    server = MotoServer(functions, retry_sleep_scale=0.01, dynamodb_endpoint=dynamodb_local.endpoint)
    server.start()
    with pytest.MonkeyPatch.context() as env:
        for service in ("SFN", "SQS", "SCHEDULER", "LAMBDA"):
            env.setenv(f"AWS_ENDPOINT_URL_{service}", server.endpoint)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arns = create_state_machines(sfn)
        # the key of write-only secrets (template.yaml's SecretsKmsKey), in the same moto
        kms = boto3.client("kms", region_name="us-east-1", endpoint_url=server.endpoint)
        env.setenv("AWS_ENDPOINT_URL_KMS", server.endpoint)
        env.setenv("SECRETS_KMS_KEY_ID", kms.create_key(Description="test secrets")["KeyMetadata"]["Arn"])
        for name, value in state_machine_environment(arns).items():
            env.setenv(name, value)
        env.setenv("EMAIL_OUTBOX_DIR", str(outbox))
        env.setenv("STRIPE_API_KEY", "sk_test_orderdesk")
        env.setenv("REMOTE_TIMEOUT_SECONDS", "5")
        reset_settings()
        _reset_clients()
        try:
            yield Workflows(server=server, sfn=sfn, arns=arns, outbox=outbox)
        finally:
            server.stop()
    reset_settings()
    _reset_clients()


def _reset_clients() -> None:
    """Clients built for an earlier endpoint must not outlive it."""
    from orderdesk.adapters import aws

    aws.reset_clients()


@pytest.fixture()
def remote() -> Iterator[Callable[..., RemoteStub]]:
    started: list[RemoteStub] = []

    def make(responder: Responder | None = None, *, start: bool = True, port: int | None = None,
             secret: str | None = WEBHOOK_SECRET) -> RemoteStub:
        stub = RemoteStub(responder, port=port, secret=secret)
        if start:
            stub.start()
        started.append(stub)
        return stub

    yield make
    for stub in started:
        stub.stop()


@pytest.fixture()
def stripe_api(workflows: Workflows, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    monkeypatch.setenv("STRIPE_API_BASE", fake.url)
    reset_settings()
    yield fake
    if fake.hold is not None:
        fake.hold.set()
    fake.stop()
    reset_settings()
