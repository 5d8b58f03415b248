"""A DynamoDB throttle during a request: the caller gets a 503 with `Retry-After` and the usual
error body, never a 500, and a retry after it (same Idempotency-Key) does the work once."""

from __future__ import annotations

import pytest

ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "country": "GB"}


def throttled(*args, **kwargs):  # type: ignore[no-untyped-def]
    """A service call whose DynamoDB request is throttled, translated as the adapters translate it."""
    from botocore.exceptions import ClientError

    from orderdesk.adapters import aws

    with aws.translated("DynamoDB"):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                     "Message": "The level of configured provisioned throughput was exceeded"}},
                          "GetItem")


def test_a_throttled_read_is_a_503_with_retry_after(api, monkeypatch: pytest.MonkeyPatch):
    # GIVEN an order, and DynamoDB throttling the read of it
    from orderdesk.services import orders

    client = api.post("/clients", ADA).data
    order = api.post("/orders", {"client_id": client["id"], "payment_method": "x",
                                 "items": [{"kind": "product", "description": "VPS", "amount": "5.00"}]}).data
    monkeypatch.setattr(orders, "get_order", throttled)
    # WHEN it is read
    r = api.get(f"/orders/{order['id']}")
    # THEN a 503 the caller may retry after a second, with the usual error body
    assert r.status_code == 503, r.data
    assert r.headers["Retry-After"] == "1"
    assert r.data["error"]["code"] == "unavailable"
    assert "ProvisionedThroughputExceededException" in r.data["error"]["message"]
    assert r.data["error"]["fields"] == {}
    # AND once the throttle is over, the same read answers
    monkeypatch.undo()
    assert api.get(f"/orders/{order['id']}").status_code == 200


def test_a_retry_after_a_503_with_the_same_idempotency_key_does_the_work_once(api, monkeypatch: pytest.MonkeyPatch):
    # GIVEN DynamoDB throttling the write of a new client
    from orderdesk.services import directory

    monkeypatch.setattr(directory, "create_client", throttled)
    headers = {"Idempotency-Key": "add-ada-1"}
    # WHEN the client is added with an Idempotency-Key
    first = api.post("/clients", ADA, headers=headers)
    # THEN a 503 with Retry-After, and the key is not spent on the failure
    assert first.status_code == 503, first.data
    assert first.headers["Retry-After"] == "1"
    # WHEN the caller retries with the same key once the throttle is over
    monkeypatch.undo()
    second = api.post("/clients", ADA, headers=headers)
    again = api.post("/clients", ADA, headers=headers)
    # THEN the client is added, once: the repeat replays the answer
    assert second.status_code == 201, second.data
    assert again.status_code == 201 and again.data == second.data
    found = api.get("/clients?q=lovelace").data["clients"]
    assert [c["id"] for c in found] == [second.data["id"]]


def test_every_protected_operation_documents_the_503_and_its_retry_after():
    # GIVEN the OpenAPI document (clients and the fuzzer read which answers an operation may give)
    import app as app_module

    doc = app_module.api.openapi("OrderDesk API", "1.0.0")
    protected = [(path, method, op) for path, methods in doc["paths"].items() for method, op in methods.items()
                 if "security" in op]
    # THEN each protected operation declares the 503, its error body and its Retry-After header
    assert len(protected) > 20
    for path, method, op in protected:
        unavailable = op["responses"].get("503")
        assert unavailable is not None, (method, path)
        assert unavailable["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
        assert unavailable["headers"]["Retry-After"]["schema"]["type"] == "integer"
    # AND an open one that reads nothing does not
    assert "503" not in doc["paths"]["/health"]["get"]["responses"]
