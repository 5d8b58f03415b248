"""The HTTP layer's one error map: each domain error that reaches it becomes its status and the
usual error body; a transient one (a throttle, a service briefly unreachable) a 503 the caller
may retry after `Retry-After` seconds, never a 500."""

from __future__ import annotations

import json

import pytest

from orderdesk.adapters.aws import StorageUnavailable
from orderdesk.adapters.workflows import WorkflowUnavailable
from orderdesk.api.http import RETRY_AFTER_SECONDS, domain_error_response
from orderdesk.domain.errors import (
    ConcurrentUpdate,
    DuplicateTransaction,
    InsufficientCredit,
    OrderNotFound,
    PermanentError,
    RefundNotOwed,
    TransientError,
    TransitionNotAllowed,
    ValidationFailed,
)


class LimitReached(TransientError):
    code = "rate_limited"


@pytest.mark.parametrize("error,status,code", [
    (StorageUnavailable("ClientError: ProvisionedThroughputExceededException"), 503, "unavailable"),
    (WorkflowUnavailable("Step Functions: ThrottlingException"), 503, "unavailable"),
    (TransientError("the gateway timed out"), 503, "unavailable"),
    (LimitReached("too many at once"), 503, "rate_limited"),
])
def test_a_transient_error_is_a_503_with_retry_after(error, status, code):
    # GIVEN a transient error (StorageUnavailable is what a DynamoDB throttle is translated to)
    # WHEN it reaches the HTTP layer
    response = domain_error_response(error)
    # THEN it is a 503 the caller may retry, with the usual body: the code, the message, no fields
    assert response.status_code == status
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == {"error": {"code": code, "message": error.message, "fields": {}}}


@pytest.mark.parametrize("error,status,code", [
    (ValidationFailed("bad order", {"items": "at least one"}), 400, "bad_request"),
    (OrderNotFound("no order o1"), 404, "not_found"),
    (TransitionNotAllowed("Cancelled cannot be accepted"), 409, "invalid_transition"),
    (ConcurrentUpdate("lost a race"), 409, "concurrent_update"),
    (DuplicateTransaction("stripe pi_1 is on inv-a"), 409, "duplicate_transaction"),
    (InsufficientCredit("client c has 1.00 of credit"), 409, "insufficient_credit"),
    (RefundNotOwed("refund r was confirmed already"), 409, "refund_not_owed"),
    (PermanentError("the registrar refused"), 502, "permanent"),
])
def test_other_domain_errors_keep_their_status_and_carry_no_retry_after(error, status, code):
    # GIVEN a domain error that retrying as such will not cure
    # WHEN it reaches the HTTP layer
    response = domain_error_response(error)
    # THEN its status and code, and no invitation to retry
    assert response.status_code == status
    assert "Retry-After" not in response.headers
    body = json.loads(response.body)["error"]
    assert (body["code"], body["message"]) == (code, error.message)
    assert body["fields"] == (error.fields if isinstance(error, ValidationFailed) else {})
