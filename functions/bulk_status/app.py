"""Bulk status consumer: SQS → one chunk of a bulk job per message, with partial batch failures
(ReportBatchItemFailures). A message that keeps failing goes to the dead-letter queue after the
queue's maxReceiveCount."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from orderdesk import metrics
from orderdesk.observability import logger
from orderdesk.services import bulk

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    receive_count = int(record.attributes.approximate_receive_count or 1)
    bulk.process_message(json.loads(record.body), receive_count=receive_count)


@metrics.flushed  # the orders each counted message moved (orderdesk.metrics)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
