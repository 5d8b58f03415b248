"""Order projections: the table's stream (filtered in template.yaml to the records of orders'
partitions) → the views kept from it (`services.projections`). A batch is applied at once
(`apply_many`: fewer reads and writes); if that fails, record by record with partial batch
failures: a record that failed is retried from the stream, and what a projection did already it
does not again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from orderdesk import metrics
from orderdesk.domain.model import iso
from orderdesk.observability import logger
from orderdesk.services import projections

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def change_of(record: DynamoDBRecord) -> projections.StreamChange | None:
    stream = record.dynamodb
    if stream is None or record.event_name is None:
        return None
    written = stream.approximate_creation_date_time
    return projections.StreamChange(
        event=record.event_name.name, keys=dict(stream.keys or {}), old=stream.old_image or None,
        new=stream.new_image or None, sequence=stream.sequence_number or "",
        at=iso(datetime.fromtimestamp(written, UTC)) if written is not None else "")


def record_handler(record: DynamoDBRecord) -> None:
    change = change_of(record)
    if change is not None:
        projections.apply(change)


@metrics.flushed  # the business metrics the views added (orderdesk.metrics)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    changes = [c for raw in event.get("Records") or [] if (c := change_of(DynamoDBRecord(raw))) is not None]
    try:
        projections.apply_many(changes)
    except Exception:
        logger.exception("the batch's views failed together: kept record by record")
    else:
        return {"batchItemFailures": []}
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                         context=context))
