"""The local stack builds from template.yaml: the table DynamoDB Local gets is the template's
(keys, indexes, stream, TTL), and the local queues are the template's (redrive included)."""

from __future__ import annotations

import shutil
import uuid
from typing import Any

import pytest

from tests.template import support


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


@pytest.mark.skipif(shutil.which("java") is None, reason="DynamoDB Local needs Java 17+")
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
