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
from orderdesk.services.bulk import CHUNK

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
    from orderdesk.adapters.store import keys

    item = client.get_item(TableName=table, Key={"pk": {"S": keys.bulk_job_pk(job_id)}, "sk": {"S": keys.JOB_SK}},
                           ConsistentRead=True).get("Item") or {}
    counted = sum(int(item.get(k, {}).get("N", "0")) for k in ("succeeded", "failed"))
    return bool(item) and counted >= int(item["total"]["N"])


def _through_consumer(stack: Stack, order_ids: list[str], url: str, cfg: dict[str, Any]) -> dict[str, Any]:
    from functions.bulk_status import app as consumer
    from infra.local.event_sources import SqsPoller

    api = stack.api()
    api.get("/health")  # the app imported and warm before the clock starts
    raw = stack.raw_client()
    # the end is seen without polling the table while the consumer works (that would load the
    # store it measures): the pollers count the messages handled; the counters are read after
    chunks = [order_ids[i:i + JOB_SIZE] for i in range(0, len(order_ids), JOB_SIZE)]
    expected = sum(-(-len(chunk) // CHUNK) for chunk in chunks)
    handled = {"n": 0}
    lock, all_handled = threading.Lock(), threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        out: dict[str, Any] = consumer.handler(event, context)
        with lock:
            handled["n"] += len(event["Records"]) - len(out.get("batchItemFailures") or [])
            if handled["n"] >= expected:
                all_handled.set()
        return out

    pollers = [SqsPoller(url, handler, cfg["batch_size"], function_name="bulk-status", wait_seconds=1,
                         timeout=cfg["timeout"], region="us-east-1") for _ in range(cfg["concurrency"])]
    for p in pollers:
        p.start()
    started = time.perf_counter()
    try:
        jobs = [api.post("/orders/bulk", {"order_ids": chunk, "status": TARGET})["job"]["id"] for chunk in chunks]
        submitted = time.perf_counter() - started
        deadline = time.monotonic() + 1800
        all_handled.wait(timeout=1800)
        pending = set(jobs)
        while pending and time.monotonic() < deadline:  # normally done at the first look
            pending = {j for j in pending if not _job_done(raw, stack.table_name, j)}
            if pending:
                time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        for p in pollers:
            p.stop()
    outcomes = [api.get(f"/bulk-jobs/{j}") for j in jobs]
    return {"seconds": elapsed, "submit_seconds": submitted, "jobs": outcomes, "unfinished": sorted(pending)}


def _raw(stack: Stack, order_ids: list[str], statuses: dict[str, str], concurrency: int) -> float:
    client = stack.raw_client()
    table, shards = stack.table_name, get_settings().status_shards
    from orderdesk.adapters.store import keys
    from orderdesk.adapters.store.order_writes import status_fields

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
                TableName=table, Key={"pk": {"S": keys.order_pk(order_id)}, "sk": {"S": keys.ORDER_SK}},
                UpdateExpression="SET #s = :to, gsi1pk = :key",
                ConditionExpression="#s = :from",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":to": {"S": TARGET}, ":from": {"S": statuses[order_id]},
                                           ":key": {"S": status_fields(order_id, TARGET, shards)["gsi1pk"]}})
            done += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-raw-update") as pool:
        done = sum(f.result() for f in [pool.submit(worker) for _ in range(concurrency)])
    assert done == len(order_ids)
    return time.perf_counter() - started


def measure(stack: Stack, candidates: list[tuple[str, str]], orders: int = 10_000) -> Result:
    """`candidates`: (order id, status) of Pending or Active orders, at least 2.2 × `orders`.

    Both paths first warm up on a tenth as many orders (unmeasured: the JVM's JIT and the
    connection pools), then run in turn in two halves — consumer, raw, raw, consumer — so a
    drift of the machine's speed during the run weighs on both alike."""
    cfg = consumer_settings()
    stack.start_sqs_server()
    url, dlq_url = create_queues(stack)
    statuses = dict(candidates)
    warm = max(1, orders // 10)
    half = orders // 2
    ids = [oid for oid, _ in candidates]
    if len(ids) < 2 * orders + 2 * warm:
        raise ValueError(f"need {2 * orders + 2 * warm} Pending/Active orders, have {len(ids)}")
    cut = [warm, warm, half, half, orders - half, orders - half]
    parts, at = [], 0
    for n in cut:
        parts.append(ids[at:at + n])
        at += n
    warm_consumer, warm_raw, c1, r1, r2, c2 = parts
    _through_consumer(stack, warm_consumer, url, cfg)
    _raw(stack, warm_raw, statuses, cfg["concurrency"])
    first = _through_consumer(stack, c1, url, cfg)
    raw_seconds = _raw(stack, r1, statuses, cfg["concurrency"]) + _raw(stack, r2, statuses, cfg["concurrency"])
    second = _through_consumer(stack, c2, url, cfg)

    import boto3

    dlq_depth = int(boto3.client("sqs").get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
    jobs = first["jobs"] + second["jobs"]
    unfinished = first["unfinished"] + second["unfinished"]
    consumer_seconds = first["seconds"] + second["seconds"]
    succeeded = sum(j["succeeded"] for j in jobs)
    failed = sum(j["failed"] for j in jobs)
    exact = (not unfinished and succeeded == orders and failed == 0
             and all(j["succeeded"] + j["failed"] == j["total"] for j in jobs))
    consumer_rate = orders / consumer_seconds
    raw_rate = orders / raw_seconds
    detail = {
        "target": ">= 0.8, counters exact",
        "orders": orders,
        "concurrency": cfg["concurrency"],
        "batch_size": cfg["batch_size"],
        "orders_per_message": CHUNK,
        "consumer_orders_per_s": round(consumer_rate, 1),
        "raw_orders_per_s": round(raw_rate, 1),
        "consumer_seconds": round(consumer_seconds, 2),
        "consumer_halves_seconds": [round(first["seconds"], 2), round(second["seconds"], 2)],
        "submit_seconds": round(first["submit_seconds"] + second["submit_seconds"], 2),
        "raw_seconds": round(raw_seconds, 2),
        "warmup_orders_each": warm,
        "order": "warm-up of both, then consumer, raw, raw, consumer (halves)",
        "jobs": len(jobs),
        "succeeded": succeeded,
        "failed": failed,
        "counters_exact": exact,
        "dead_letters": dlq_depth,
        "floor": "boto3 UpdateItem per order, ConditionExpression on the status, same thread count",
    }
    if not exact:
        detail["job_states"] = json.loads(json.dumps(jobs))[:3]
        detail["unfinished_jobs"] = unfinished
    return Result("bulk_throughput_ratio", round(consumer_rate / raw_rate, 3), "ratio", detail)
