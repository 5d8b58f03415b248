"""orderdesk.adapters.aws: the one way to an AWS client, and SDK failures as domain errors.

The translation is tested on the SDK's own exception objects (as botocore and pynamodb raise
them), and through the adapters that use it with botocore's Stubber on the shared client (one
adapter function isolated per test). The cache is tested on real clients (none calls AWS)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from botocore.stub import Stubber
from pynamodb.exceptions import CancellationReason, PutError, TransactWriteError, VerboseClientError

from orderdesk.adapters import aws
from orderdesk.config import reset_settings
from orderdesk.domain.errors import ConcurrentUpdate, PermanentError, TransientError
from tests.template.support import REPO_ROOT


def client_error(code: str, status: int, operation: str = "PutItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


@pytest.fixture()
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No endpoint override, settings and clients forgotten before and after."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL_DYNAMODB",
                 "AWS_ENDPOINT_URL_SESV2"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    reset_settings()
    aws.reset_clients()
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()
    aws.reset_clients()


# -- translation ---------------------------------------------------------------------------------


def test_a_throttled_call_becomes_storage_unavailable_raised_from_the_original() -> None:
    # GIVEN DynamoDB answering a throttle
    original = client_error("ProvisionedThroughputExceededException", 400)

    # WHEN it is raised inside the translation
    with pytest.raises(aws.StorageUnavailable) as caught, aws.translated("DynamoDB"):
        raise original

    # THEN it is a transient error, raised from the original, naming AWS's code
    assert isinstance(caught.value, TransientError)
    assert caught.value.__cause__ is original
    assert "ProvisionedThroughputExceededException" in caught.value.message


@pytest.mark.parametrize("code", ["ValidationException", "AccessDeniedException", "ResourceNotFoundException"])
def test_a_4xx_stays_permanent(code: str) -> None:
    # GIVEN a refusal retrying will not change
    original = client_error(code, 400)

    # WHEN translated for a caller that has a permanent error for it, and for one that has none
    with pytest.raises(PermanentError) as caught, aws.translated("SQS", rejected=PermanentError):
        raise original
    with pytest.raises(ClientError) as untouched, aws.translated("SQS"):
        raise original

    # THEN it is that permanent error (from the original), or the original itself: never transient
    assert not isinstance(caught.value, TransientError) and caught.value.__cause__ is original
    assert untouched.value is original


@pytest.mark.parametrize("exc", [
    client_error("InternalServerError", 500),
    client_error("SomethingNew", 503),  # an unknown code: the status decides
    client_error("TooManyRequestsException", 429),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    PutError("put failed", cause=client_error("ThrottlingException", 400)),
    PutError("put failed", cause=EndpointConnectionError(endpoint_url="http://127.0.0.1:1")),
], ids=lambda e: f"{type(e).__name__}:{aws.error_code(e) or ''}")
def test_5xx_throttles_and_lost_connections_are_transient(exc: Exception) -> None:
    assert aws.is_transient(exc)


@pytest.mark.parametrize("exc", [
    client_error("ConditionalCheckFailedException", 400),
    client_error("ValidationException", 400),
    NoCredentialsError(),
    PutError("put failed", cause=client_error("ConditionalCheckFailedException", 400)),
    ValueError("not the SDK's"),
], ids=lambda e: f"{type(e).__name__}:{aws.error_code(e) or ''}")
def test_refusals_and_configuration_errors_are_not_transient(exc: Exception) -> None:
    assert not aws.is_transient(exc)


def _cancelled(*reasons: str) -> TransactWriteError:
    cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                                "ResponseMetadata": {"HTTPStatusCode": 400}}, "TransactWriteItems",
                               cancellation_reasons=[CancellationReason(code=r) for r in reasons])
    return TransactWriteError("transaction failed", cause=cause)


def test_a_transaction_cancelled_by_a_throttle_is_transient_and_by_a_condition_is_not() -> None:
    assert aws.is_transient(_cancelled("None", "ThrottlingError"))
    assert not aws.is_transient(_cancelled("ConditionalCheckFailed", "None"))


def test_domain_errors_and_foreign_errors_go_through_untouched() -> None:
    # GIVEN a domain error and a programming error raised inside the translation
    race = ConcurrentUpdate("lost")
    with pytest.raises(ConcurrentUpdate) as caught, aws.translated("DynamoDB", rejected=PermanentError):
        raise race
    with pytest.raises(KeyError), aws.translated("DynamoDB", rejected=PermanentError):
        raise KeyError("x")

    # THEN each is raised as it was
    assert caught.value is race


def test_a_step_retries_every_sdk_failure_and_nothing_else() -> None:
    # GIVEN a workflow step failing with a 4xx of the SDK, a domain error, a programming error
    def step(exc: Exception) -> None:
        @aws.aws_errors_are_transient
        def run() -> None:
            raise exc

        run()

    original = client_error("ValidationException", 400)

    # THEN the SDK's failure is StorageUnavailable (retried by the ASL) from the original; the rest as raised
    with pytest.raises(aws.StorageUnavailable) as caught:
        step(original)
    assert caught.value.__cause__ is original
    with pytest.raises(PermanentError):
        step(PermanentError("no"))
    with pytest.raises(ZeroDivisionError):
        step(ZeroDivisionError())


# -- the adapters, through the shared client -----------------------------------------------------


def test_step_functions_failures_as_the_workflows_adapter_raises_them(fresh: pytest.MonkeyPatch) -> None:
    from orderdesk.adapters import workflows

    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:accept"
    # GIVEN Step Functions throttling, then refusing, then not knowing an execution
    with Stubber(aws.client("stepfunctions")) as stub:
        stub.add_client_error("start_execution", "ThrottlingException", http_status_code=400)
        stub.add_client_error("start_execution", "ExecutionAlreadyExists", http_status_code=400)
        stub.add_client_error("start_execution", "AccessDeniedException", http_status_code=400)
        stub.add_client_error("describe_execution", "ExecutionDoesNotExist", http_status_code=400)
        stub.add_client_error("describe_execution", "ServiceUnavailable", http_status_code=503)

        # THEN: retry, a permanent error saying why, a permanent refusal, None, retry
        with pytest.raises(workflows.WorkflowUnavailable):
            workflows.start(arn, "a1", {})
        with pytest.raises(PermanentError, match="already ran with other input"):
            workflows.start(arn, "a1", {})
        with pytest.raises(PermanentError, match="AccessDeniedException") as refused:
            workflows.start(arn, "a1", {})
        assert not isinstance(refused.value, TransientError)
        assert workflows.describe(f"{arn}:a1") is None
        with pytest.raises(workflows.WorkflowUnavailable):
            workflows.describe(f"{arn}:a1")


def test_ses_failures_as_the_email_adapter_raises_them(fresh: pytest.MonkeyPatch) -> None:
    from orderdesk.adapters.email import EmailRejected, EmailUnavailable, SesEmail

    message = EmailMessage()
    message["To"], message["Subject"] = "ada@example.com", "Welcome"
    # GIVEN SES throttling, then rejecting the message
    with Stubber(aws.client("sesv2")) as stub:
        stub.add_client_error("send_email", "TooManyRequestsException", http_status_code=429)
        stub.add_client_error("send_email", "MessageRejected", http_status_code=400)

        # THEN the first is retried, the second is not
        with pytest.raises(EmailUnavailable):
            SesEmail().send(message, "welcome-o1")
        with pytest.raises(EmailRejected):
            SesEmail().send(message, "welcome-o1")


def test_an_unreachable_step_functions_is_workflow_unavailable(fresh: pytest.MonkeyPatch) -> None:
    from orderdesk.adapters import workflows

    # GIVEN Step Functions' endpoint on a loopback port nothing listens on, one attempt per call
    fresh.setenv("AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:1")
    fresh.setenv("AWS_MAX_ATTEMPTS", "1")
    reset_settings()

    # WHEN an execution is started THEN the refused connection is a transient error
    with pytest.raises(workflows.WorkflowUnavailable) as caught:
        workflows.start("arn:aws:states:us-east-1:123456789012:stateMachine:accept", "a1", {})
    assert isinstance(caught.value.__cause__, EndpointConnectionError)


# -- the client cache ----------------------------------------------------------------------------


def test_a_client_is_built_once_however_many_threads_ask(fresh: pytest.MonkeyPatch) -> None:
    # GIVEN no client yet WHEN 16 threads ask for the SQS client at once
    got: list[Any] = []
    start = threading.Barrier(16)

    def ask() -> None:
        start.wait()
        got.append(aws.client("sqs"))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # THEN all got the same client, and a later call too; another service has its own
    assert len({id(c) for c in got}) == 1 and aws.client("sqs") is got[0]
    assert aws.client("stepfunctions") is not got[0]


def test_a_client_is_rebuilt_after_reset(fresh: pytest.MonkeyPatch) -> None:
    first = aws.client("sqs")
    aws.reset_clients()
    assert aws.client("sqs") is not first


def test_a_client_is_rebuilt_when_the_endpoint_setting_moves(fresh: pytest.MonkeyPatch) -> None:
    # GIVEN a client built for one endpoint
    fresh.setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:1")
    reset_settings()
    first = aws.client("sqs")
    assert first.meta.endpoint_url == "http://127.0.0.1:1"

    # WHEN the endpoint moves (as the local stack and the tests move it) and the settings are re-read
    fresh.setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:2")
    reset_settings()

    # THEN the next call gets a client for the new endpoint, without any reset of the clients
    assert aws.client("sqs") is not first
    assert aws.client("sqs").meta.endpoint_url == "http://127.0.0.1:2"


def test_what_is_built_on_a_client_follows_it(fresh: pytest.MonkeyPatch) -> None:
    from orderdesk.adapters import idempotency, workflows

    # GIVEN DynamoDB and Step Functions on one endpoint, an idempotency store built on it
    fresh.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
    fresh.setenv("AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:1")
    reset_settings()
    store = idempotency.persistence_store("unit")
    assert store.client is aws.client("dynamodb") and idempotency.persistence_store("unit") is store

    # WHEN the endpoints move
    fresh.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2")
    fresh.setenv("AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:2")
    reset_settings()

    # THEN the store and the workflows adapter use the new ones
    assert idempotency.persistence_store("unit").client.meta.endpoint_url == "http://127.0.0.1:2"
    assert workflows._sfn().meta.endpoint_url == "http://127.0.0.1:2"


def test_importing_the_aws_adapters_builds_no_client_and_loads_no_sdk() -> None:
    # GIVEN a fresh interpreter WHEN every adapter that calls AWS is imported
    code = ("import sys\n"
            "import orderdesk.adapters.aws, orderdesk.adapters.workflows, orderdesk.adapters.queue\n"
            "import orderdesk.adapters.email, orderdesk.adapters.idempotency, orderdesk.adapters.secret_store\n"
            "print(sorted(m for m in ('boto3', 'botocore.client', 'pynamodb') if m in sys.modules),\n"
            "      orderdesk.adapters.aws._clients)\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO_ROOT}/layers/common/python", "AWS_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout

    # THEN neither boto3, botocore's clients nor pynamodb is loaded, and no client exists
    assert out.strip() == "[] {}"
