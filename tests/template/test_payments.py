"""SPEC §9 in template.yaml: Stripe's webhook reachable without the JWT authorizer (Stripe signs
its events instead), its signing secret in Secrets Manager readable by the API alone, and the
AUTO_ACCEPT trigger as a projection of the order stream (no third reader of the table's stream),
allowed to start the Accept workflow and nothing else; AUTO_ACCEPT never by default."""

from __future__ import annotations

import json
from typing import Any

from tests.template import support
from tests.template.test_events import matches, stream_record
from tests.template.test_order_events import roles_allowing

FUNCTIONS = support.functions()


def operation(path: str, method: str) -> dict[str, Any]:
    (api,) = [r for r in support.transformed()["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    return api["Properties"]["Body"]["paths"][path][method]  # type: ignore[no-any-return]


def test_the_webhook_is_public_and_the_unmatched_list_is_behind_the_authorizer() -> None:
    # GIVEN the deployed API definition
    webhook = operation("/gateways/stripe/webhook", "post")
    listing = operation("/gateways/stripe/unmatched", "get")

    # THEN Stripe reaches the webhook with no token (as /health), while the list needs one
    assert "security" not in webhook
    assert listing["security"] == [{"jwt": []}]


def test_the_webhook_secret_is_a_secret_only_the_api_may_read() -> None:
    # GIVEN the template's secrets and who may read the webhook's
    secrets = support.resources("AWS::SecretsManager::Secret")
    assert "StripeWebhookSecret" in secrets
    readers = {fid for fid, props in FUNCTIONS.items() for p in props.get("Policies", [])
               if isinstance(p, dict) and support.logical_id(
                   p.get("AWSSecretsManagerGetSecretValuePolicy", {}).get("SecretArn")) == "StripeWebhookSecret"}

    # THEN only the API function reads it, by its ARN (never the value in its configuration)
    assert readers == {"ApiFunction"}
    variables = FUNCTIONS["ApiFunction"]["Environment"]["Variables"]
    assert variables["STRIPE_WEBHOOK_SECRET_ARN"] == {"Ref": "StripeWebhookSecret"}
    assert "STRIPE_WEBHOOK_SECRET" not in variables


def test_auto_accept_is_never_by_default_and_reaches_the_order_stream_function() -> None:
    # GIVEN the parameter and the order stream function's environment
    parameter = support.template()["Parameters"]["AutoAccept"]
    variables = FUNCTIONS["OrderStreamFunction"]["Environment"]["Variables"]

    # THEN it is never unless the operator says paid, and the function knows the Accept workflow
    assert parameter["Default"] == "never" and parameter["AllowedValues"] == ["never", "paid"]
    assert variables["AUTO_ACCEPT"] == {"Ref": "AutoAccept"}
    assert variables["ACCEPT_STATE_MACHINE_ARN"] == {"Ref": "AcceptOrderStateMachine"}


def test_the_auto_accept_trigger_starts_the_accept_workflow_and_no_other() -> None:
    # GIVEN who may start which workflow
    starters = roles_allowing("states:StartExecution")

    # THEN the order stream's role may start the Accept workflow only
    assert starters["OrderStreamFunctionRole"] == [{"Ref": "AcceptOrderStateMachine"}]


def test_the_trigger_reads_invoice_and_fraud_check_records_through_the_order_streams_filter_alone() -> None:
    # GIVEN the table's stream readers
    readers = {fid: props for fid, props in FUNCTIONS.items() for e in props.get("Events", {}).values()
               if e["Type"] == "DynamoDB"}

    # THEN there are still two (a stream serves two readers a shard without throttling)
    assert sorted(readers) == ["FraudScreeningFunction", "OrderStreamFunction"]
    (source,) = [e["Properties"] for e in readers["OrderStreamFunction"]["Events"].values() if e["Type"] == "DynamoDB"]
    patterns = [json.loads(f["Pattern"]) for f in source["FilterCriteria"]["Filters"]]

    def passes(record: dict[str, Any]) -> bool:
        return any(matches(p, record) for p in patterns)

    # and the order stream's filter passes an invoice's and a fraud check's changes, not a gateway event's
    assert passes(stream_record("MODIFY", pk="ORDER#o1", sk="INVOICE", kind="invoice"))
    assert passes(stream_record("INSERT", pk="ORDER#o1", sk="ORDER#FRAUD", kind="fraud_check"))
    assert not passes(stream_record("INSERT", pk="GATEWAY#stripe#evt_1", sk="EVENT", kind="gateway_event"))
