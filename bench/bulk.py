"""Bulk status changes through the SQS consumer path, against raw conditional UpdateItem.

The consumer path is the production one: POST /orders/bulk (jobs of 1,000 ids), SendMessageBatch
to the bulk queue in moto (with its dead-letter queue, as template.yaml declares them), and
`functions.bulk_status.app.handler` fed by Lambda's SQS event source (`infra.local.event_sources.
SqsPoller`), as many pollers as the event's ScalingConfig.MaximumConcurrency, batches of its
BatchSize. The floor: one conditional UpdateItem per order (status and its index key), the same
number of threads."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.results import Result
from bench.stack import Stack
from orderdesk.config import get_settings

JOB_SIZE = 1000  # the API's limit of ids per bulk request
TARGET = "Cancelled"  # allowed from Pending and Active


def consumer_settings() -> dict[str, Any]:
    """BatchSize and MaximumConcurrency of the bulk consumer's SQS event, from template.yaml."""
    from infra.local import template_wiring as tw
    from infra.local.table import load_template

    template = load_template()
    for source in tw.event_sources_in(tw.functions_in(template), "SQS"):
        if source.function.handler == "functions.bulk_status.app.handler":
            props = source.properties
            return {"batch_size": int(props.get("BatchSize", 10)),
                    "concurrency": int((props.get("ScalingConfig") or {}).get("MaximumConcurrency", 5)),
                    "timeout": source.function.timeout_seconds}
    return {"batch_size": 10, "concurrency": 5, "timeout": 60.0}


def create_queues(stack: Stack) -> tuple[str, str]:
    """The bulk queue and its DLQ with the template's attributes; BULK_QUEUE_URL points at it."""
    import boto3

    from infra.local import template_wiring as tw
    from infra.local.table import load_template

    sqs = boto3.client("sqs")
    queues = {q.logical_id: q for q in tw.queues_in(load_template())}
    main, dlq = queues["BulkQueue"], queues[queues["BulkQueue"].dead_letter_queue or "BulkDeadLetterQueue"]
    dlq_url = sqs.create_queue(QueueName=dlq.name, Attributes=dlq.attributes)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=main.name, Attributes={
        **main.attributes, "RedrivePolicy": tw.redrive_policy(main, dlq_arn)})["QueueUrl"]
    stack.setenv("BULK_QUEUE_URL", url)
    stack.setenv("BULK_MAX_RECEIVES", str(main.max_receive_count or 3))
    stack._reset()
    return url, dlq_url


def _job_done(client: Any, table: str, job_id: str) -> bool:
    """The job's counters (a plain GetItem of its record: the benchmark's own look stays light)."""
    item = client.get_item(TableName=table, Key={"pk": {"S": f"BULKJOB#{job_id}"}, "sk": {"S": "JOB"}},
                           ConsistentRead=True).get("Item") or {}
    counted = sum(int(item.get(k, {}).get("N", "0")) for k in ("succeeded", "failed"))
    return bool(item) and counted >= int(item["total"]["N"])


def _through_consumer(stack: Stack, order_ids: list[str], url: str, cfg: dict[str, Any]) -> dict[str, Any]:
    from functions.bulk_status import app as consumer
    from infra.local.event_sources import SqsPoller

    api = stack.api()
    api.get("/health")  # the app imported and warm before the clock starts
    raw = stack.raw_client()
    pollers = [SqsPoller(url, consumer.handler, cfg["batch_size"], function_name="bulk-status", wait_seconds=1,
                         timeout=cfg["timeout"], region="us-east-1") for _ in range(cfg["concurrency"])]
    for p in pollers:
        p.start()
    started = time.perf_counter()
    try:
        jobs = [api.post("/orders/bulk", {"order_ids": order_ids[i:i + JOB_SIZE], "status": TARGET})["job"]["id"]
                for i in range(0, len(order_ids), JOB_SIZE)]
        submitted = time.perf_counter() - started
        deadline = time.monotonic() + 1800
        pending = set(jobs)
        while pending and time.monotonic() < deadline:
            pending = {j for j in pending if not _job_done(raw, stack.table_name, j)}
            if pending:
                time.sleep(0.25)
        elapsed = time.perf_counter() - started
    finally:
        for p in pollers:
            p.stop()
    outcomes = [api.get(f"/bulk-jobs/{j}") for j in jobs]
    return {"seconds": elapsed, "submit_seconds": submitted, "jobs": outcomes, "unfinished": sorted(pending)}


def _raw(stack: Stack, order_ids: list[str], statuses: dict[str, str], concurrency: int) -> float:
    client = stack.raw_client()
    table, shards = stack.table_name, get_settings().status_shards
    from orderdesk.adapters.repository import shard_of

    ids: Iterator[str] = iter(order_ids)
    lock = threading.Lock()

    def worker() -> int:
        done = 0
        while True:
            with lock:
                order_id = next(ids, None)
            if order_id is None:
                return done
            client.update_item(
                TableName=table, Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}},
                UpdateExpression="SET #s = :to, gsi1pk = :key",
                ConditionExpression="#s = :from",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":to": {"S": TARGET}, ":from": {"S": statuses[order_id]},
                                           ":key": {"S": f"STATUS#{TARGET}#{shard_of(order_id, shards)}"}})
            done += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-raw-update") as pool:
        done = sum(f.result() for f in [pool.submit(worker) for _ in range(concurrency)])
    assert done == len(order_ids)
    return time.perf_counter() - started


def measure(stack: Stack, candidates: list[tuple[str, str]], orders: int = 10_000) -> Result:
    """`candidates`: (order id, status) of Pending or Active orders, at least 2 × `orders`."""
    cfg = consumer_settings()
    if stack.moto is None:
        stack.start_moto()
    url, dlq_url = create_queues(stack)
    statuses = dict(candidates)
    via_consumer = [oid for oid, _ in candidates[:orders]]
    via_raw = [oid for oid, _ in candidates[orders:2 * orders]]
    if len(via_raw) < orders:
        raise ValueError(f"need {2 * orders} Pending/Active orders, have {len(candidates)}")
    consumed = _through_consumer(stack, via_consumer, url, cfg)
    raw_seconds = _raw(stack, via_raw, statuses, cfg["concurrency"])

    import boto3

    dlq_depth = int(boto3.client("sqs").get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
    jobs = consumed["jobs"]
    succeeded = sum(j["succeeded"] for j in jobs)
    failed = sum(j["failed"] for j in jobs)
    exact = (not consumed["unfinished"] and succeeded == orders and failed == 0
             and all(j["succeeded"] + j["failed"] == j["total"] for j in jobs))
    consumer_rate = orders / consumed["seconds"]
    raw_rate = orders / raw_seconds
    detail = {
        "target": ">= 0.8, counters exact",
        "orders": orders,
        "concurrency": cfg["concurrency"],
        "batch_size": cfg["batch_size"],
        "consumer_orders_per_s": round(consumer_rate, 1),
        "raw_orders_per_s": round(raw_rate, 1),
        "consumer_seconds": round(consumed["seconds"], 2),
        "submit_seconds": round(consumed["submit_seconds"], 2),
        "raw_seconds": round(raw_seconds, 2),
        "jobs": len(jobs),
        "succeeded": succeeded,
        "failed": failed,
        "counters_exact": exact,
        "dead_letters": dlq_depth,
        "floor": "boto3 UpdateItem per order, ConditionExpression on the status, same thread count",
    }
    if not exact:
        detail["job_states"] = json.loads(json.dumps(jobs))[:3]
        detail["unfinished_jobs"] = consumed["unfinished"]
    return Result("bulk_throughput_ratio", round(consumer_rate / raw_rate, 3), "ratio", detail)
