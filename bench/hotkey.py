"""Where status changes land on the status index: 10,000 changes a second, each order's index
entry moved to `STATUS#<new status>#<shard_of(order id)>` (the key `order_writes.status_fields`
writes), with real order ids (`new_id`) and the data layer's own `keys.shard_of`."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

from bench.results import Result
from orderdesk.adapters.store.keys import shard_of, status_partition
from orderdesk.config import get_settings
from orderdesk.domain.model import new_id
from orderdesk.domain.statuses import OrderStatus

PARTITION_WCU_LIMIT = 1000  # DynamoDB's write throughput of one partition (and of one key), per second

# a day's status changes: mostly Pending → Active, then cancellations, fraud, back to pending
MIXED = [(OrderStatus.PENDING, OrderStatus.ACTIVE)] * 60 + [(OrderStatus.ACTIVE, OrderStatus.CANCELLED)] * 15 + \
    [(OrderStatus.PENDING, OrderStatus.CANCELLED)] * 15 + [(OrderStatus.PENDING, OrderStatus.FRAUD)] * 5 + \
    [(OrderStatus.CANCELLED, OrderStatus.PENDING)] * 5


def _key_writes(changes: list[tuple[str, OrderStatus, OrderStatus]], shards: int) -> Counter[str]:
    """Index writes per partition key: a change removes the entry from the old status's key and
    puts it on the new one (both are writes to the index)."""
    writes: Counter[str] = Counter()
    for order_id, old, new in changes:
        shard = shard_of(order_id, shards)
        writes[status_partition(old.value, shard)] += 1
        writes[status_partition(new.value, shard)] += 1
    return writes


def _hottest_share(writes: Counter[str], status: OrderStatus) -> tuple[str, float, int]:
    """The hottest key of one status and its share of that status's index writes."""
    prefix = status_partition(status.value, 0)[:-1]
    mine = {k: n for k, n in writes.items() if k.startswith(prefix)}
    key, n = max(mine.items(), key=lambda kv: kv[1])
    return key, n / sum(mine.values()), n


def measure(rate: int = 10_000, seconds: int = 1, seed: int = 6, item_bytes: int | None = None) -> Result:
    shards = get_settings().status_shards
    rng = random.Random(seed)
    total = rate * seconds
    # a bulk job: every change to one status (the worst case for that status's keys)
    bulk = [(new_id(), OrderStatus.PENDING, OrderStatus.CANCELLED) for _ in range(total)]
    bulk_writes = _key_writes(bulk, shards)
    key, share, n = _hottest_share(bulk_writes, OrderStatus.CANCELLED)
    ratio = share * shards
    # everyday traffic: a mix of transitions
    mixed = [(new_id(), *rng.choice(MIXED)) for _ in range(total)]
    mixed_writes = _key_writes(mixed, shards)
    mixed_ratios = {s.value: round(_hottest_share(mixed_writes, s)[1] * shards, 3)
                    for s in OrderStatus if any(k.startswith(status_partition(s.value, 0)[:-1]) for k in mixed_writes)}
    per_key_per_s = n / seconds
    detail: dict[str, Any] = {
        "target": "<= 1.2",
        "workload": f"{rate} status changes/s for {seconds} s, every one Pending -> Cancelled (a bulk job), "
                    "order ids from new_id(), keys from the repository's shard_of",
        "shards": shards,
        "hottest_key": key,
        "hottest_key_share_of_status_writes": round(share, 4),
        "hottest_key_writes_per_s": per_key_per_s,
        "even_split_writes_per_s": rate / shards,
        "mixed_traffic_ratio_by_status": mixed_ratios,
    }
    if item_bytes:
        wcu = per_key_per_s * math.ceil(item_bytes / 1024)
        detail.update({
            "order_record_bytes": item_bytes,
            "hottest_key_wcu_per_s": wcu,
            "partition_limit_wcu_per_s": PARTITION_WCU_LIMIT,
            "shards_needed_for_rate": math.ceil(rate * math.ceil(item_bytes / 1024) / PARTITION_WCU_LIMIT),
        })
    return Result("hot_key_share_ratio", round(ratio, 3), "ratio", detail)


def order_record_bytes(sample: int = 200, seed: int = 6) -> int:
    """Mean size of an order record as DynamoDB sizes it (attribute names + values), from the
    records the data layer builds for demo orders."""
    from datetime import timedelta

    from infra.local.seed import STATUS_MIX, build_order
    from orderdesk.domain.model import Client, iso, utcnow
    from orderdesk.domain.money import ZERO

    rng = random.Random(seed)
    from orderdesk.adapters.store import mappers

    shards = get_settings().status_shards
    client = Client(id=new_id(), first_name="Grace", last_name="Hopper", email="grace.hopper@company.test",
                    country="US", company="Initech", credit_balance=ZERO, created_at=iso(utcnow()))
    sizes = []
    for _ in range(sample):
        placed = iso(utcnow() - timedelta(seconds=rng.randrange(1, 86400 * 180)))
        order, items, _invoice = build_order(rng, client, rng.choice(STATUS_MIX), placed, None, [])
        search = " ".join(x.lower() for x in [client.name, client.email, client.company or "",
                                              *(i.domain or "" for i in items)] if x)
        record = mappers.order_record(order, search, shards)
        record.version = 1
        sizes.append(_item_size(record.serialize()))
    return int(sum(sizes) / len(sizes))


def _item_size(item: dict[str, Any]) -> int:
    def size(v: dict[str, Any]) -> int:
        (kind, value), = v.items()
        if kind in ("S", "N", "B"):
            return len(str(value).encode())
        if kind == "BOOL" or kind == "NULL":
            return 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + size(x) for k, x in value.items())
        if kind == "L":
            return 3 + sum(size(x) for x in value)
        return len(str(value))

    return sum(len(k.encode()) + size(v) for k, v in item.items())
