"""The local stack's building blocks, proven one by one: DynamoDB Local (tables, streams,
data on disk) and moto's server (ASL executed, Lambda Invoke answered in-process, SQS and
EventBridge Scheduler on the same port)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.dynamodb_local import DynamoDBLocal, find_dynamodb_local
from infra.local.moto_server import MotoServer
from tests.listening import listening_sockets

ROLE_ARN = "arn:aws:iam::123456789012:role/local-states"
TABLE_KEYS: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


# Test handlers, served through moto's Lambda Invoke route by dotted path, like template.yaml's.


class PaymentDeclined(Exception):
    pass


class GatewayTimeout(Exception):
    pass


CALLS: Counter[str] = Counter()


def reserve_stock(event: dict[str, Any], context: Any) -> dict[str, Any]:
    CALLS[event["order_id"]] += 1
    if CALLS[event["order_id"]] == 1:
        raise GatewayTimeout("stock service did not answer")
    return {
        "reserved": True,
        "attempt": CALLS[event["order_id"]],
        "by": context.function_name,
    }


def price_line(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"sku": event["sku"], "total": event["qty"] * event["unit"]}


def charge(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["declined"]:
        raise PaymentDeclined(f"card declined for {event['order_id']}")
    return {
        "charged": True,
        "remaining_ms_positive": context.get_remaining_time_in_millis() > 0,
    }


FUNCTIONS = {
    "orderdesk-reserve-stock": f"{__name__}.reserve_stock",
    "orderdesk-price-line": f"{__name__}.price_line",
    "orderdesk-charge": f"{__name__}.charge",
}

ORDER_WORKFLOW = {
    "StartAt": "ReserveStock",
    "States": {
        "ReserveStock": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "orderdesk-reserve-stock", "Payload.$": "$"},
            "ResultSelector": {
                "reserved.$": "$.Payload.reserved",
                "attempt.$": "$.Payload.attempt",
            },
            "ResultPath": "$.stock",
            "Retry": [
                {
                    "ErrorEquals": ["GatewayTimeout"],
                    "IntervalSeconds": 2,
                    "BackoffRate": 2.0,
                    "MaxAttempts": 3,
                }
            ],
            "Next": "PriceLines",
        },
        "PriceLines": {
            "Type": "Map",
            "ItemsPath": "$.lines",
            "ItemSelector": {
                "sku.$": "$$.Map.Item.Value.sku",
                "qty.$": "$$.Map.Item.Value.qty",
                "unit.$": "$.unit_price",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "PriceLine",
                "States": {
                    "PriceLine": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:orderdesk-price-line",
                        "End": True,
                    }
                },
            },
            "ResultPath": "$.priced",
            "Next": "Charge",
        },
        "Charge": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "orderdesk-charge",
                "Payload": {"order_id.$": "$.order_id", "declined.$": "$.declined"},
            },
            "OutputPath": "$.Payload",
            "ResultPath": "$",
            "Catch": [
                {
                    "ErrorEquals": ["PaymentDeclined"],
                    "ResultPath": "$.error",
                    "Next": "Declined",
                }
            ],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Declined": {
            "Type": "Fail",
            "Error": "OrderDeclined",
            "Cause": "payment declined",
        },
    },
}


# Fixtures


@pytest.fixture(scope="module")
def aws_env() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "local")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "local")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.delenv("AWS_PROFILE", raising=False)
        yield patch


@pytest.fixture(scope="module")
def dynamodb_local(aws_env: pytest.MonkeyPatch) -> Iterator[DynamoDBLocal]:
    with DynamoDBLocal() as database:
        aws_env.setenv("AWS_ENDPOINT_URL_DYNAMODB", database.endpoint)
        aws_env.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", database.endpoint)
        yield database


@pytest.fixture(scope="module")
def moto_server(aws_env: pytest.MonkeyPatch, dynamodb_local: DynamoDBLocal) -> Iterator[MotoServer]:
    # retry_sleep_scale: the ASL's IntervalSeconds 2 waits 20 ms here.
    with MotoServer(FUNCTIONS, retry_sleep_scale=0.01, dynamodb_endpoint=dynamodb_local.endpoint) as server:
        for service in ("SFN", "LAMBDA", "SQS", "SCHEDULER"):
            aws_env.setenv(f"AWS_ENDPOINT_URL_{service}", server.endpoint)
        yield server


def wait_for_execution(sfn: Any, execution_arn: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.02)
    raise AssertionError(f"{execution_arn} still RUNNING after {timeout}s")


def create_table_with_stream(dynamodb: Any, name: str) -> str:
    table = dynamodb.create_table(
        TableName=name,
        StreamSpecification={
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        **TABLE_KEYS,
    )
    stream_arn: str = table["TableDescription"]["LatestStreamArn"]
    return stream_arn


# DynamoDB Local


def test_dynamodb_local_is_found_in_the_npm_package() -> None:
    jar, lib_dir = find_dynamodb_local()

    assert jar.name == "DynamoDBLocal.jar" and jar.is_file()
    assert any(lib_dir.glob("libsqlite4java-linux-*.so"))


def test_dynamodb_local_and_moto_listen_on_127_0_0_1_only(dynamodb_local: DynamoDBLocal,
                                                          moto_server: MotoServer) -> None:
    # GIVEN DynamoDB Local's JVM and moto's server, started as the local stack and the tests start them
    assert dynamodb_local._process is not None
    # WHEN the sockets each listens on are read from /proc/net/tcp{,6} (what `ss -ltnp` shows)
    database = listening_sockets({dynamodb_local._process.pid})
    moto = [s for s in listening_sockets({os.getpid()}) if s.port == moto_server.port]
    # THEN both ports are found, each bound to 127.0.0.1 alone: not 0.0.0.0, not :: (every interface)
    assert {s.port for s in database} == {dynamodb_local.port} and len(moto) == 1, (database, moto)
    assert [s.address for s in database + moto] == ["127.0.0.1"] * len(database + moto), database + moto


def test_dynamodb_local_put_get_and_stream(dynamodb_local: DynamoDBLocal) -> None:
    # GIVEN a table with a NEW_AND_OLD_IMAGES stream, reached through AWS_ENDPOINT_URL_DYNAMODB
    dynamodb = boto3.client("dynamodb")
    streams = boto3.client("dynamodbstreams")
    stream_arn = create_table_with_stream(dynamodb, "orders-stream")
    assert dynamodb_local.startup_seconds is not None and dynamodb_local.startup_seconds < 15

    # WHEN an item is written, then changed
    dynamodb.put_item(TableName="orders-stream", Item={"pk": {"S": "o1"}, "status": {"S": "NEW"}})
    dynamodb.update_item(
        TableName="orders-stream",
        Key={"pk": {"S": "o1"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "ACCEPTED"}},
    )

    # THEN it reads back, and the stream holds both changes with Lambda's record fields
    item = dynamodb.get_item(TableName="orders-stream", Key={"pk": {"S": "o1"}})["Item"]
    assert item["status"] == {"S": "ACCEPTED"}
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn,
        ShardId=shards[0]["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY"]
    modify = records[1]["dynamodb"]
    assert modify["OldImage"]["status"] == {"S": "NEW"}
    assert modify["NewImage"]["status"] == {"S": "ACCEPTED"}
    assert modify["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert records[0]["eventSource"] == "aws:dynamodb"


def test_dynamodb_local_keeps_data_on_disk_across_restarts(tmp_path: Path, aws_env: pytest.MonkeyPatch) -> None:
    # GIVEN a database kept in a directory, holding one item
    with DynamoDBLocal(data_dir=tmp_path) as first_run:
        dynamodb = boto3.client("dynamodb", endpoint_url=first_run.endpoint)
        dynamodb.create_table(TableName="orders", **TABLE_KEYS)
        dynamodb.put_item(TableName="orders", Item={"pk": {"S": "o1"}})

    # WHEN the process is stopped and started again on the same directory
    with DynamoDBLocal(data_dir=tmp_path) as second_run:
        dynamodb = boto3.client("dynamodb", endpoint_url=second_run.endpoint)

        # THEN the table and the item are still there
        item = dynamodb.get_item(TableName="orders", Key={"pk": {"S": "o1"}})
        assert item["Item"] == {"pk": {"S": "o1"}}
    assert (tmp_path / "shared-local-instance.db").is_file()


def test_a_stream_poller_started_again_goes_on_after_its_checkpoint(tmp_path: Path, aws_env: pytest.MonkeyPatch,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # (the endpoints set here are undone after this test: the module's database keeps its own)
    from infra.local.event_sources import DynamoDBStreamPoller

    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        seen.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])

    checkpoint = tmp_path / "streams" / "order-stream.json"
    # GIVEN a stack's database on disk whose stream a poller read (o1, o2), then a record it had no
    # time to read (o3) before everything stopped
    with DynamoDBLocal(data_dir=tmp_path / "db") as first_run:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", first_run.endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", first_run.endpoint)
        dynamodb = boto3.client("dynamodb")
        create_table_with_stream(dynamodb, "orders")
        first = DynamoDBStreamPoller("orders", handler, checkpoint=checkpoint)
        for pk in ("o1", "o2"):
            dynamodb.put_item(TableName="orders", Item={"pk": {"S": pk}})
        first.run_once()
        dynamodb.put_item(TableName="orders", Item={"pk": {"S": "o3"}})
    assert seen == ["o1", "o2"]

    # WHEN it all starts again on that directory, a record is written (o4) and a new poller, from
    # "now" as a restarted stack's is, reads the stream
    with DynamoDBLocal(data_dir=tmp_path / "db") as second_run:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", second_run.endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", second_run.endpoint)
        boto3.client("dynamodb").put_item(TableName="orders", Item={"pk": {"S": "o4"}})
        second = DynamoDBStreamPoller("orders", handler, starting_position="LATEST", checkpoint=checkpoint)
        second.run_once()
        second.run_once()

    # THEN it goes on after the checkpoint: the record written before the stop too, none twice
    assert seen == ["o1", "o2", "o3", "o4"]


# moto's server


def test_lambda_invoke_route_answers_like_lambda(moto_server: MotoServer) -> None:
    lambda_client = boto3.client("lambda")

    ok = lambda_client.invoke(
        FunctionName="orderdesk-price-line",
        Payload=json.dumps({"sku": "A", "qty": 2, "unit": 5}),
    )
    failed = lambda_client.invoke(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:orderdesk-charge:live",
        Payload=json.dumps({"order_id": "o9", "declined": True}),
    )

    assert ok["StatusCode"] == 200 and "FunctionError" not in ok
    assert json.load(ok["Payload"]) == {"sku": "A", "total": 10}
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    error = json.load(failed["Payload"])
    assert error["errorType"] == "PaymentDeclined"
    assert error["errorMessage"] == "card declined for o9"
    assert "in charge" in error["stackTrace"][-1]
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="orderdesk-missing", Payload=b"{}")


@pytest.mark.parametrize(
    ("declined", "status"),
    [(False, "SUCCEEDED"), (True, "FAILED")],
    ids=["paid", "declined"],
)
def test_workflow_retries_maps_and_catches(moto_server: MotoServer, declined: bool, status: str) -> None:
    # GIVEN the order workflow, whose stock step fails once with GatewayTimeout
    sfn = boto3.client("stepfunctions")
    machine_arn = sfn.create_state_machine(
        name=f"order-workflow-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(ORDER_WORKFLOW),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    order = {
        "order_id": order_id,
        "declined": declined,
        "unit_price": 3,
        "lines": [
            {"sku": "A", "qty": 1},
            {"sku": "B", "qty": 2},
            {"sku": "C", "qty": 3},
        ],
    }

    # WHEN it runs (moto needs an explicit name: without one every ARN ends in ":None")
    started = time.monotonic()
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, name=order_id, input=json.dumps(order))[
        "executionArn"
    ]
    execution = wait_for_execution(sfn, execution_arn)

    # THEN the retry really happened, quickly, and the outcome follows the Catch
    assert execution["status"] == status
    assert CALLS[order_id] == 2
    assert time.monotonic() - started < 1.5  # unscaled, the retry alone waits 2 s
    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    failures = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
    assert failures[0]["error"] == "GatewayTimeout"
    assert json.loads(failures[0]["cause"])["errorMessage"] == "stock service did not answer"
    priced = [e for e in history if e["type"] == "LambdaFunctionSucceeded"]
    assert len(priced) == 3
    if declined:
        assert execution["error"] == "OrderDeclined"
        assert execution["cause"] == "payment declined"
        assert failures[-1]["error"] == "PaymentDeclined"
    else:
        assert json.loads(execution["output"]) == {
            "charged": True,
            "remaining_ms_positive": True,
        }
        map_exited = next(
            json.loads(e["stateExitedEventDetails"]["output"]) for e in history if e["type"] == "MapStateExited"
        )
        assert map_exited["stock"] == {"reserved": True, "attempt": 2}
        assert map_exited["priced"] == [
            {"sku": "A", "total": 3},
            {"sku": "B", "total": 6},
            {"sku": "C", "total": 9},
        ]


def test_execution_names_are_unique_per_state_machine(moto_server: MotoServer) -> None:
    sfn = boto3.client("stepfunctions")
    machine_arn = sfn.create_state_machine(
        name="names",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=machine_arn, name="accept-o1", input="{}")
    wait_for_execution(sfn, first["executionArn"])

    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=machine_arn, name="accept-o1", input="{}")


def test_asl_dynamodb_integration_writes_to_dynamodb_local(
    moto_server: MotoServer, dynamodb_local: DynamoDBLocal
) -> None:
    # GIVEN a table in DynamoDB Local and a state machine that writes with dynamodb:putItem
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName="orders-sfn", **TABLE_KEYS)
    sfn = boto3.client("stepfunctions")
    machine_arn = sfn.create_state_machine(
        name="direct-put",
        definition=json.dumps(
            {
                "StartAt": "Put",
                "States": {
                    "Put": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::dynamodb:putItem",
                        "Parameters": {
                            "TableName": "orders-sfn",
                            "Item": {"pk": {"S.$": "$.id"}},
                        },
                        "End": True,
                    }
                },
            }
        ),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]

    # WHEN it runs
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, name="put-o7", input=json.dumps({"id": "o7"}))[
        "executionArn"
    ]

    # THEN the item is in DynamoDB Local, not in moto's own DynamoDB
    assert wait_for_execution(sfn, execution_arn)["status"] == "SUCCEEDED"
    assert dynamodb.get_item(TableName="orders-sfn", Key={"pk": {"S": "o7"}})["Item"]


def test_sqs_and_scheduler_share_the_port(moto_server: MotoServer) -> None:
    sqs = boto3.client("sqs")
    scheduler = boto3.client("scheduler")
    queue_url = sqs.create_queue(QueueName="bulk-actions")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"action": "accept"}))
    scheduler.create_schedule(
        Name="cleanup",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": queue_arn, "RoleArn": ROLE_ARN, "Input": "{}"},
    )

    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)["Messages"]
    assert json.loads(messages[0]["Body"]) == {"action": "accept"}
    assert scheduler.get_schedule(Name="cleanup")["ScheduleExpression"] == "rate(1 hour)"
