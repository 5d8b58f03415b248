"""search_index_write_cost_ratio: write units of creating an order and of changing a client's
email, with the search index (and the filters' sparse GSIs) over without.

Measured on the app in-process against DynamoDB Local, the table's stream read by the real
consumer (functions/order_stream), every write of every component counted in AWS's units:

* single-item writes and BatchWriteItem: the capacity DynamoDB Local reports with
  ReturnConsumedCapacity=INDEXES (table and each GSI);
* TransactWriteItems: computed from the request, because DynamoDB Local reports two units for the
  largest item of the whole transaction instead of two per item: two units per KB of each item
  put (one per KB of each GSI entry it makes, by the template's projections); an update, delete or
  condition check counts two units (every one in these flows is of an item under 1 KB).

Each unit is put under "index" (a posting, term or search document, or a write of one of the
filters' GSIs) or "base" (everything else). Creating an order without the index is its base
part. Changing a client's email without the index is the client record plus what the design
before it had to write to keep `q` right: the `search` copy on each of the client's orders (an
UpdateItem of the order record, which rewrites its three ALL-projection GSI entries)."""

from __future__ import annotations

import base64
import math
import random
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client

from bench.results import Result
from bench.stack import Stack

INDEX_PREFIXES = ("QW#", "QT#", "QDOC#")
NEW_GSIS = {"by_promo", "by_ip", "by_affiliate", "by_method", "by_total"}


def attr_size(value: dict[str, Any]) -> int:
    """Size of one attribute value by DynamoDB's item size rules."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(base64.b64decode(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attr_size(x) for k, x in v.items())
    if kind == "L":
        return 3 + sum(1 + attr_size(x) for x in v)
    if kind in ("SS", "NS", "BS"):
        return sum(attr_size({kind[0]: x}) for x in v)
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attr_size(v) for name, v in item.items())


def units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


class WriteMeter:
    """Write units of every DynamoDB request of this process meanwhile, by part."""

    def __init__(self, gsis: list[dict[str, Any]]) -> None:
        self.gsis = gsis
        self.units: defaultdict[str, float] = defaultdict(float)

    def _part_of_key(self, key: dict[str, Any] | None) -> str:
        pk = ((key or {}).get("pk") or {}).get("S", "")
        return "index" if pk.startswith(INDEX_PREFIXES) else "base"

    def _gsi_entries(self, item: dict[str, Any]) -> Iterator[tuple[str, int]]:
        for gsi in self.gsis:
            names = [k["AttributeName"] for k in gsi["KeySchema"]]
            if not all(n in item for n in names):
                continue
            projection = gsi["Projection"]
            if projection["ProjectionType"] == "ALL":
                size = item_size(item)
            else:
                kept = {"pk", "sk", *names, *projection.get("NonKeyAttributes", [])}
                size = item_size({k: v for k, v in item.items() if k in kept})
            yield gsi["IndexName"], size

    def transaction(self, params: dict[str, Any]) -> None:
        for action in params.get("TransactItems", []):
            (kind, body), = action.items()
            if kind == "Put":
                item = body["Item"]
                self.units[self._part_of_key(item)] += 2 * units(item_size(item))
                for index, size in self._gsi_entries(item):
                    self.units["index" if index in NEW_GSIS else "base"] += units(size)
            else:
                self.units[self._part_of_key(body.get("Key"))] += 2

    def answer(self, operation: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        consumed = answer.get("ConsumedCapacity") or []
        for c in consumed if isinstance(consumed, list) else [consumed]:
            if operation == "BatchWriteItem":
                first = next(iter(params["RequestItems"].values()))[0]
                request = first.get("PutRequest", {}).get("Item") or first.get("DeleteRequest", {}).get("Key")
                part = self._part_of_key(request)
            else:
                part = self._part_of_key(params.get("Key") or params.get("Item"))
            self.units[part] += float((c.get("Table") or {}).get("CapacityUnits", 0.0))
            for index, cap in (c.get("GlobalSecondaryIndexes") or {}).items():
                self.units["index" if index in NEW_GSIS else "base"] += float(cap.get("CapacityUnits", 0.0))

    @contextmanager
    def measuring(self) -> Iterator[defaultdict[str, float]]:
        original = botocore.client.BaseClient._make_api_call
        meter = self

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name != "dynamodb":
                return original(client, operation, params)
            if operation == "TransactWriteItems":
                answer = original(client, operation, params)
                meter.transaction(params)
                return answer
            if operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
                params = {**params, "ReturnConsumedCapacity": "INDEXES"}
                answer = original(client, operation, params)
                meter.answer(operation, params, answer)
                return answer
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = call  # type: ignore[method-assign]
        try:
            self.units = defaultdict(float)
            yield self.units
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def measure(*, orders: int = 20, client_orders: tuple[int, ...] = (1, 5)) -> Result:
    from functions.order_stream import app as order_stream_app
    from infra.local.event_sources import DynamoDBStreamPoller, template_filter_patterns
    from infra.local.seed import ADDONS, DOMAINS, FIRST, LAST, METHODS, PRODUCTS, PROMOS, TLDS
    from infra.local.table import table_definition
    from orderdesk.adapters.store import keys, mappers
    from orderdesk.adapters.store import records as r
    from orderdesk.services.ports import stores

    rng = random.Random(16)
    mail = [d for d in DOMAINS if not d.endswith(".test")]  # the API refuses reserved names in emails
    with Stack() as stack:
        api = stack.api()
        poller = DynamoDBStreamPoller(stack.table_name, order_stream_app.handler,
                                      template_filter_patterns("OrderStreamFunction"), function_name="order-stream",
                                      retry_delay=0)

        def settle() -> None:
            while poller.run_once():
                pass

        meter = WriteMeter(table_definition()["GlobalSecondaryIndexes"])

        def new_client(i: int) -> dict[str, Any]:
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            return api.post("/clients", {"first_name": first, "last_name": last, "country": "GB",
                                         "email": f"{first.lower()}.{last.lower().replace(' ', '')}{i}@"
                                                  f"{mail[i % len(mail)]}",
                                         **({"company": "Acme Hosting Ltd"} if i % 3 == 0 else {})})

        def order_body(client: dict[str, Any]) -> dict[str, Any]:
            name, price = rng.choice(PRODUCTS)
            items: list[dict[str, Any]] = [{"kind": "product", "description": name, "amount": price}]
            if rng.random() < 0.6:  # as the demo data: most orders carry a domain
                tld, tprice = rng.choice(TLDS)
                domain = f"{client['last_name'].lower().replace(' ', '')}{rng.randint(1, 999)}{tld}"
                items.append({"kind": "domain", "description": "Domain", "amount": tprice, "domain": domain})
            if rng.random() < 0.3:
                aname, aprice = rng.choice(ADDONS)
                items.append({"kind": "addon", "description": aname, "amount": aprice})
            promo = rng.choice(PROMOS)
            return {"client_id": client["id"], "payment_method": rng.choice(METHODS), "skip_fraud_check": True,
                    "ip_address": f"203.0.113.{rng.randint(1, 254)}", "items": items,
                    **({"promo_code": promo} if promo else {})}

        # creating orders: the API's transaction and what the stream does for it
        clients = [new_client(i) for i in range(10)]
        api.post("/orders", order_body(clients[0]))
        settle()
        with meter.measuring() as created:
            for n in range(orders):
                api.post("/orders", order_body(clients[n % len(clients)]))
                settle()
        create_with = sum(created.values()) / orders
        create_without = created["base"] / orders

        # changing a client's email
        rename: dict[str, Any] = {}
        for n in client_orders:
            client = new_client(100 + n)
            placed = [api.post("/orders", order_body(client)) for _ in range(n)]
            settle()
            record = stores().clients.get_client(client["id"])
            record.email = f"renamed.{n}@{mail[(n + 1) % len(mail)]}"
            with meter.measuring() as with_index:
                mappers.client_record(record).save()
                settle()  # the client record's stream record rewrites its orders' documents, theirs the postings
            record.email = f"again.{n}@{mail[(n + 2) % len(mail)]}"
            with meter.measuring() as client_only:
                mappers.client_record(record).save()
            with meter.measuring() as before_design:
                mappers.client_record(record).save()
                for o in placed:
                    r.OrderRecord(pk=keys.order_pk(o["id"]), sk=keys.ORDER_SK).update(
                        actions=[r.OrderRecord.search.set(f"{record.name} {record.email}".lower())],
                        add_version_condition=False)
            rename[str(n)] = {"with_index": sum(with_index.values()), "without_index": sum(before_design.values()),
                              "client_record_alone": sum(client_only.values()),
                              "ratio": round(sum(with_index.values()) / sum(before_design.values()), 3)}

    ratios = {"create_order": round(create_with / create_without, 3),
              **{f"client_email_{n}_orders": v["ratio"] for n, v in rename.items()}}
    worst = max(ratios, key=lambda k: ratios[k])
    return Result("search_index_write_cost_ratio", ratios[worst], "ratio", {
        "target": "<= 2",
        "worst": worst,
        "ratios": ratios,
        "create_order_write_units": {"with_index": round(create_with, 2), "without_index": round(create_without, 2),
                                     "index_part": round(create_with - create_without, 2), "orders": orders},
        "client_email_change_write_units": rename,
        "counted": "AWS write units: TransactWriteItems computed from each item's size (DynamoDB Local "
                   "under-reports transactions), every other write as DynamoDB Local reports it with INDEXES",
        "without_index_means": "creating: the same writes minus the search document, postings, terms and the "
                               "filters' sparse GSI entries; changing an email: the client record plus the "
                               "order record's `search` copy rewritten on each of the client's orders (what "
                               "q filtering that copy needed)",
    })
