"""Order projections: the table's stream (filtered in template.yaml to order records) → the
views kept from it (`services.projections`: the status counters), with partial batch failures:
a record that failed is retried from the stream, and what was counted already is not again."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from orderdesk.observability import logger
from orderdesk.services import projections

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    stream = record.dynamodb
    if stream is None:
        return
    projections.order_changed(projections.OrderImage.of(stream.old_image), projections.OrderImage.of(stream.new_image))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
