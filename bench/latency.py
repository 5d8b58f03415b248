"""Round trips and latency of the two hottest reads: GET /orders/{id} and a status list page,
through the app in-process (chalice.test.Client) against the raw boto3 floor."""

from __future__ import annotations

import random
import statistics
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import probes
from bench.results import Result
from bench.stack import Api, Stack
from bench.timing import interleaved, ms, paired
from orderdesk.adapters.store import keys
from orderdesk.config import get_settings

LIST_PATH = "/orders?status=Pending"
PAGE = 25  # the API's default limit


class Floors:
    """The raw reads the app is measured against: plain boto3, no model, no shaping."""

    def __init__(self, stack: Stack) -> None:
        self.client = stack.raw_client()
        self.table = stack.table_name
        self.shards = get_settings().status_shards
        # the repository reads shards on a pool of this width (adapters.store.order_lists.executor)
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="bench-raw")

    def detail(self, order_id: str) -> Any:
        """One Query of the order's partition, strongly consistent (as GET /orders/{id})."""
        return self.client.query(TableName=self.table, KeyConditionExpression="pk = :pk",
                                 ExpressionAttributeValues={":pk": {"S": keys.order_pk(order_id)}},
                                 ConsistentRead=True)["Items"]

    def _shard(self, key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.client.query(
            TableName=self.table, IndexName=keys.BY_STATUS, KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": key}}, ScanIndexForward=False, Limit=PAGE + 2)["Items"]
        return items

    def status_page(self, status: str = "Pending") -> list[dict[str, Any]]:
        """Every shard of the status queried in parallel, merged newest first."""
        partitions = [keys.status_partition(status, s) for s in range(self.shards)]
        items = [i for part in self.pool.map(self._shard, partitions) for i in part]
        items.sort(key=lambda i: i["gsi1sk"]["S"], reverse=True)
        return items[:PAGE]

    def close(self) -> None:
        self.pool.shutdown()


def round_trips(api: Api, path: str, times: int = 5) -> tuple[int, dict[str, Any]]:
    """Sequential DynamoDB round trips of one request (the most seen over `times` calls, after a
    first call that builds the clients and the query pool)."""
    api.get(path)
    waves, ops = [], {}
    for _ in range(times):
        with probes.record() as log:
            api.get(path)
        waves.append(log.waves())
        ops = log.operations()
    return max(waves), {"requests": ops, "waves_per_call": waves}


def measure(stack: Stack, order_ids: list[str], *, rounds: int, samples: int, warmup: int = 10) -> list[Result]:
    api = stack.api()
    floors = Floors(stack)
    rng = random.Random(6)
    picks = [rng.choice(order_ids) for _ in range(rounds * samples + 20)]
    try:
        detail_trips, detail_ops = round_trips(api, f"/orders/{order_ids[0]}", times=max(2, min(5, rounds * 2)))
        list_trips, list_ops = round_trips(api, LIST_PATH, times=max(2, min(5, rounds * 2)))
        detail = paired(lambda i: api.get(f"/orders/{picks[i % len(picks)]}"),
                        lambda i: floors.detail(picks[i % len(picks)]), rounds=rounds, samples=samples, warmup=warmup)
        listing = paired(lambda i: api.get(LIST_PATH), lambda i: floors.status_page(), rounds=rounds,
                         samples=samples, warmup=warmup)
    finally:
        floors.close()
    return [
        Result("detail_round_trips", detail_trips, "round trips",
               {"target": "1", "request": "GET /orders/{id}", **detail_ops}),
        Result("list_round_trips", list_trips, "round trips",
               {"target": "1", "request": f"GET {LIST_PATH}", **list_ops}),
        Result("detail_latency_ratio", round(detail.ratio, 3), "ratio",
               {"target": "<= 1.5", "orders": len(order_ids), "rounds": rounds, "samples_per_round": samples,
                "floor": "boto3 Query of the order's partition, ConsistentRead",
                **detail.detail("app", "raw")}),
        Result("list_latency_ratio", round(listing.ratio, 3), "ratio",
               {"target": "<= 1.5", "orders": len(order_ids), "rounds": rounds, "samples_per_round": samples,
                "floor": f"{get_settings().status_shards} boto3 Queries of by_status in parallel (pool of 16), merged",
                **listing.detail("app", "raw")}),
    ]


def list_page_p50(stack: Stack, *, rounds: int, samples: int, warmup: int = 10) -> dict[str, Any]:
    """p50 of a status list page through the app, of its raw floor, and of a reference request whose
    work does not grow with the table (a GetItem of one order), sampled in turn: the reference
    tracks how busy the machine is at that moment (for scale flatness)."""
    api = stack.api()
    floors = Floors(stack)
    one = floors.status_page()[0]
    key = {"pk": one["pk"], "sk": one["sk"]}
    try:
        per_round = interleaved({
            "app": lambda i: api.get(LIST_PATH),
            "raw": lambda i: floors.status_page(),
            "ref": lambda i: floors.client.get_item(TableName=floors.table, Key=key, ConsistentRead=True),
        }, rounds=rounds, samples=samples, warmup=warmup)
    finally:
        floors.close()
    out: dict[str, Any] = {k: statistics.median(r[k] for r in per_round) for k in ("app", "raw", "ref")}
    out["app_per_ref"] = statistics.median(r["app"] / r["ref"] for r in per_round)
    out["raw_per_ref"] = statistics.median(r["raw"] / r["ref"] for r in per_round)
    out["app_rounds_ms"] = [ms(r["app"]) for r in per_round]
    return out
