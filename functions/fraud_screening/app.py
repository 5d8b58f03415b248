"""Fraud screening: the table's stream (filtered in template.yaml to inserts of order records)
→ one screening per new order, with partial batch failures: a record whose provider failed is
reported failed, so the stream retries it (then its on-failure destination)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from orderdesk.domain.errors import FraudScreeningFailed
from orderdesk.observability import logger
from orderdesk.services import fraud

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else {}
    if record.event_name is not DynamoDBRecordEventName.INSERT or image.get("kind") != "order":
        return  # the template's filter lets only these through; be as strict here
    if image.get("skip_fraud_check"):
        return
    check = fraud.screen_new_order(str(image["id"]))
    if check is not None and check.decision == "error":
        raise FraudScreeningFailed(f"order {image['id']}: {check.error}")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
