"""Where status counters are kept, measured (issue 12): in every write path (the order's change,
its history record and an ADD to the status counter shard in one transaction) or by a consumer of
the table's stream (the change and its history in the path; the consumer reads the order's
counted-version record and moves the count with it in a transaction of its own).

    python -m bench.counters [--orders 400] [--threads 16]

Both on DynamoDB Local, raw boto3, the same items the data layer writes. Reported per status
change: p50 latency of the write path alone (one writer), write units consumed in the path and in
total (ReturnConsumedCapacity), and, with `--threads` writers changing orders at once, the write
path's throughput and how many of its transactions were cancelled by a conflict on a counter
shard (each a retry the caller pays)."""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.stack import Stack
from orderdesk.adapters.store import keys

SHARDS = 8


def _order(i: int) -> str:
    return f"bench{i:06d}"


def _seed(client: Any, table: str, n: int) -> None:
    for start in range(0, n, 25):
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {
            "pk": {"S": keys.order_pk(_order(i))}, "sk": {"S": keys.ORDER_SK}, "kind": {"S": "order"},
            "status": {"S": "Pending"}, "version": {"N": "1"},
            "gsi1pk": {"S": keys.status_partition("Pending", keys.shard_of(_order(i), SHARDS))},
            "gsi1sk": {"S": f"2026-01-01T00:00:00Z#{_order(i)}"}}}} for i in range(start, min(n, start + 25))]})


def _change(order_id: str, to: str, version: int, with_counter: bool) -> list[dict[str, Any]]:
    shard = keys.shard_of(order_id, SHARDS)
    items: list[dict[str, Any]] = [
        {"Update": {"Key": {"pk": {"S": keys.order_pk(order_id)}, "sk": {"S": keys.ORDER_SK}},
                    "UpdateExpression": "SET #s = :to, gsi1pk = :k ADD version :one",
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":to": {"S": to}, ":k": {"S": keys.status_partition(to, shard)},
                                                  ":one": {"N": "1"}, ":v": {"N": str(version)}}}},
        {"Put": {"Item": {"pk": {"S": keys.order_pk(order_id)}, "sk": {"S": keys.history_sk("t", time.time_ns())},
                          "kind": {"S": "history"}, "action": {"S": "cancel done"}, "to_status": {"S": to}}}},
    ]
    if with_counter:
        items.append(_counter_add(shard, "Pending", to))
    return items


def _counter_add(shard: int, old: str, new: str) -> dict[str, Any]:
    return {"Update": {"Key": {"pk": {"S": keys.stats_pk(shard)}, "sk": {"S": keys.STATS_SK}},
                       "UpdateExpression": "ADD #o :m, #n :p", "ExpressionAttributeNames": {"#o": old, "#n": new},
                       "ExpressionAttributeValues": {":m": {"N": "-1"}, ":p": {"N": "1"}}}}


def _consume(client: Any, table: str, order_id: str, version: int) -> float:
    """What the stream consumer writes for one change: a read of the counted-version record, then
    that record and the counter shard at once. Returns the write units it consumed."""
    key = {"pk": {"S": keys.counted_pk(order_id)}, "sk": {"S": keys.COUNTED_SK}}
    client.get_item(TableName=table, Key=key, ConsistentRead=True)
    resp = client.transact_write_items(ReturnConsumedCapacity="TOTAL", TransactItems=[
        {"Update": {"TableName": table, "Key": key, "UpdateExpression": "SET #s = :s, counted_version = :v",
                    "ConditionExpression": "attribute_not_exists(pk) OR counted_version < :v",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": {"S": "Cancelled"}, ":v": {"N": str(version)}}}},
        {**{"Update": {**_counter_add(keys.shard_of(order_id, SHARDS), "Pending", "Cancelled")["Update"],
                       "TableName": table}}}])
    return sum(c.get("CapacityUnits", 0) for c in resp.get("ConsumedCapacity", []))


def _write(client: Any, table: str, order_id: str, with_counter: bool) -> tuple[float, float]:
    items = [{k: {**v, "TableName": table}} for item in _change(order_id, "Cancelled", 1, with_counter)
             for k, v in item.items()]
    started = time.perf_counter()
    resp = client.transact_write_items(TransactItems=items, ReturnConsumedCapacity="TOTAL")
    return (time.perf_counter() - started) * 1000, sum(c.get("CapacityUnits", 0) for c in resp["ConsumedCapacity"])


def measure(orders: int = 400, threads: int = 16) -> dict[str, Any]:
    with Stack() as stack:
        client, table = stack.raw_client(), stack.table_name
        _seed(client, table, 6 * orders)
        out: dict[str, Any] = {}
        designs = (("in the write path", True, 0), ("from the stream", False, orders))
        for _, with_counter, base in designs:  # warm up (the JVM's JIT), unmeasured
            for i in range(orders // 2):
                _write(client, table, _order(4 * orders + base // 2 + i), with_counter)
        samples: dict[str, list[tuple[float, float]]] = {d: [] for d, _, _ in designs}
        for i in range(orders):  # interleaved, so both see the same machine
            for design, with_counter, base in designs:
                samples[design].append(_write(client, table, _order(base + i), with_counter))
        for design, with_counter, base in designs:
            lat, wcu = zip(*samples[design], strict=True)
            consumer = [_consume(client, table, _order(base + i), 2) for i in range(orders)] if not with_counter else []
            # DynamoDB's price of a transactional write is 2 units per item of up to 1 KB: the path
            # writes 3 items (order, history, counter) or 2; the consumer 2 more (and reads 1)
            path_items = 3 if with_counter else 2
            out[design] = {"path_p50_ms": round(statistics.median(lat), 2),
                           "path_wcu_aws": 2 * path_items, "total_wcu_aws": 2 * path_items + (0 if with_counter else 4),
                           "path_wcu_reported_locally": round(statistics.mean(wcu), 2),
                           "consumer_wcu_reported_locally": round(statistics.mean(consumer), 2) if consumer else 0}
        for design, with_counter, base in (("in the write path", True, 2 * orders), ("from the stream", False,
                                                                                       3 * orders)):
            conflicts = 0
            lock = threading.Lock()

            def one(i: int, with_counter: bool = with_counter, base: int = base,
                    lock: threading.Lock = lock) -> None:
                nonlocal conflicts
                items = [{k: {**v, "TableName": table}} for item in _change(_order(base + i), "Cancelled", 1,
                                                                            with_counter) for k, v in item.items()]
                while True:
                    try:
                        client.transact_write_items(TransactItems=items)
                        return
                    except client.exceptions.TransactionCanceledException as exc:
                        if "TransactionConflict" not in str(exc):
                            raise
                        with lock:
                            conflicts += 1

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(one, range(orders)))
            elapsed = time.perf_counter() - started
            out[design].update({"concurrent_changes_per_s": round(orders / elapsed, 1),
                                "conflict_retries_per_100_changes": round(100 * conflicts / orders, 1)})
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    for design, figures in measure(args.orders, args.threads).items():
        print(f"{design:>18}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
