"""The local stack builds from template.yaml: the table DynamoDB Local gets is the template's
(keys, indexes, stream, TTL), and the local queues are the template's (redrive included)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.template import support


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def test_local_table_is_the_template_table(ddb_client: Any) -> None:
    # GIVEN the Table of template.yaml
    from infra.local.table import create_table

    props = support.resources("AWS::DynamoDB::Table")["Table"]["Properties"]
    name = f"template-{uuid.uuid4().hex[:8]}"

    # WHEN the local stack's code creates it in DynamoDB Local
    assert create_table(ddb_client, name)
    try:
        table = ddb_client.describe_table(TableName=name)["Table"]
        ttl = ddb_client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

        # THEN keys, attributes, every index, the stream and the TTL attribute are the template's
        assert _keys(table["KeySchema"]) == _keys(props["KeySchema"])
        assert sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]) == sorted(
            (a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"])
        local_indexes = {i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
                         for i in table.get("GlobalSecondaryIndexes", [])}
        assert local_indexes == {i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
                                 for i in props["GlobalSecondaryIndexes"]}
        assert table["StreamSpecification"] == {"StreamEnabled": True,
                                                "StreamViewType": props["StreamSpecification"]["StreamViewType"]}
        assert ttl.get("AttributeName") == props["TimeToLiveSpecification"]["AttributeName"] == "ttl"
    finally:
        ddb_client.delete_table(TableName=name)


def test_local_queues_are_the_template_queues() -> None:
    # GIVEN the queues of template.yaml as the local stack reads them
    from infra.local.table import load_template
    from infra.local.template_wiring import queues_in

    local = {q.logical_id: q for q in queues_in(load_template())}

    # THEN every queue is there, with the template's visibility timeout and redrive policy
    assert set(local) == set(support.resources(support.QUEUE))
    for lid, res in support.resources(support.QUEUE).items():
        props = res.get("Properties", {})
        if "VisibilityTimeout" in props:
            assert local[lid].attributes["VisibilityTimeout"] == str(props["VisibilityTimeout"])
        redrive = props.get("RedrivePolicy")
        if redrive:
            assert local[lid].dead_letter_queue == support.logical_id(redrive["deadLetterTargetArn"])
            assert local[lid].max_receive_count == redrive["maxReceiveCount"]


def test_local_state_machines_run_the_template_asl_against_the_local_functions() -> None:
    # GIVEN the state machines as the local stack builds them for moto
    from infra.local.statemachines import lambda_functions_from_template, state_machine_definitions

    local = state_machine_definitions()
    served = set(lambda_functions_from_template())

    # THEN there is one per template state machine, its ASL is the file's with only the
    # substitutions replaced, and every Task calls a function the local stack serves
    machines = support.state_machines()
    assert set(local) == set(machines)
    for lid, props in machines.items():
        text = support.definition_path(props).read_text()
        for key in props.get("DefinitionSubstitutions", {}):
            text = text.replace("${" + key + "}", "<fn>")
        skeleton = local[lid]
        for name in served:
            skeleton = skeleton.replace(f"arn:aws:lambda:us-east-1:123456789012:function:{name}", "<fn>")
        assert skeleton == text, f"{lid}: the local ASL differs from {props['DefinitionUri']}"


def test_the_api_is_pointed_at_the_state_machines_locally_as_in_aws() -> None:
    # GIVEN the local state machine ARNs
    from infra.local.statemachines import state_machine_environment

    arns = {lid: f"arn:local:{lid}" for lid in support.state_machines()}

    # THEN the variables the template gives the API function are the ones set locally
    env = state_machine_environment(arns)
    api_env = support.functions()["ApiFunction"]["Environment"]["Variables"]
    for var, value in api_env.items():
        if isinstance(value, dict) and value.get("Ref") in arns:
            assert env[var] == arns[value["Ref"]]


def test_table_keeps_its_data_and_holds_the_idempotency_records() -> None:
    # GIVEN the Table and the Powertools idempotency persistence the code builds
    from orderdesk.adapters.idempotency import persistence_store

    res = support.resources("AWS::DynamoDB::Table")["Table"]
    props = res["Properties"]
    store = persistence_store("template-check")
    keys = dict((k["KeyType"], k["AttributeName"]) for k in props["KeySchema"])

    # THEN point-in-time recovery is on, deletion protection follows the parameter, the table
    # outlives the stack, and idempotency records use its keys and its TTL attribute
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectData", True, False]}
    assert res["DeletionPolicy"] == res["UpdateReplacePolicy"] == "Retain"
    assert (store.key_attr, store.sort_key_attr) == (keys["HASH"], keys["RANGE"])
    assert store.expiry_attr == props["TimeToLiveSpecification"]["AttributeName"]
