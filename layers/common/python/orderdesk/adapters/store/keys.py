"""Every key format and index name of the OrderDesk table, and nothing else.

One table, `pk`/`sk`:

| record            | pk                  | sk                       | indexes |
|-------------------|---------------------|--------------------------|---------|
| order             | ORDER#<id>          | ORDER                    | by_status, by_all, by_client, (by_type while locked) |
| fraud check       | ORDER#<id>          | ORDER#FRAUD              | |
| order item        | ORDER#<id>          | ITEM#<item id>           | (by_type while a domain waits at its registrar) |
| invoice           | ORDER#<id>          | INVOICE                  | |
| note              | ORDER#<id>          | NOTE#<at>#<id>           | |
| history entry     | ORDER#<id>          | HIST#<at>#<write time>   | |
| action            | ORDER#<id>          | ACTION#<id>              | |
| order number      | ORDERNO#<number>    | ORDERNO                  | (uniqueness guard and lookup) |
| status counters   | STATS#<shard>       | ORDER_STATUS             | |
| counted status    | COUNTED#<order id>  | COUNTED                  | (what the counters hold of one order) |
| published event   | EVENT#<event id>    | EVENT                    | (an order event EventBridge took; TTL) |
| domain lookup     | DOMAIN#<domain>     | ITEM#<order id>#<item id>| (which items carry a domain name)      |
| registrar event   | REGEVENT#<event id> | REGEVENT                 | (an event a registrar sent; TTL)       |
| client            | CLIENT#<id>         | CLIENT                   | by_type |
| credit entry      | CLIENT#<id>         | CREDIT#<at>#<write time> | (the client's credit ledger, newest first backwards) |
| payment guard     | PAYMENT#<gateway>#<transaction id> | PAYMENT   | (one gateway's transaction id, once across all invoices) |
| affiliate         | AFFILIATE#<id>      | AFFILIATE                | by_type |
| server            | SERVER#<id>         | SERVER                   | by_type |
| bulk job          | BULKJOB#<id>        | JOB                      | |
| bulk outcome      | BULKJOB#<id>        | OUTCOME#<order id>       | |
| activity entry    | ACTIVITY#<shard>    | <at>#<write time>#<source> | by_type (an order's: ACTIVITYNO#<number>); TTL |
| deleted order     | DELETEDORDER#<id>   | DELETION                 | (what its delete keeps of it until it is gone; TTL) |
| gateway event     | GATEWAY#<gateway>#<event id> | EVENT           | (by_type while unmatched) |
| gateway payment   | GATEWAY#<gateway>#<transaction id> | PAYMENT   | (the invoice a webhook recorded it on) |
| export            | EXPORT#<id>         | EXPORT                   | (an export of the orders list; TTL) |
| day's statistics  | DAILY               | <YYYY-MM-DD>             | (one item per day: a range is one Query) |
| counted happening | DAILYCOUNTED#<id>   | COUNTED                  | (a happening the days counted; TTL) |
| search document   | QDOC#<shard>        | <placed_at>#<order id>   | (an order's search terms: the source of its postings) |
| posting           | QW#<term>           | <placed_at>#<order id>   | (one order having one term) |
| term              | QT#<first 2 chars>  | <term>                   | (every term with a posting list, for prefixes) |

An order's whole detail is one Query on `ORDER#<id>` (the fraud check sorts right after the
order record, so the header and its check are one Query too). GSIs, all projecting ALL so a list
page needs no second read:

* `by_status`: STATUS#<status>#<shard> / <placed_at>#<id> — write-sharded by a hash of the order
  id so no status is a hot partition; a page queries every shard in parallel.
* `by_all`: ORDERS#<shard> / <placed_at>#<id> — every order, newest first.
* `by_client`: CLIENT#<client id> / <placed_at>#<id> — one client's orders.
* `by_type`: CLIENT|AFFILIATE|SERVER / <lower name>#<id> — the small lists; and, sparse,
  LOCKED#<shard> / <started_at>#<order id> on an order only while it carries a pending action,
  and DOMAINWAIT / <since>#<order id>#<item id> on a domain item only while its registration is
  pending at the registrar (one partition: a registration changes state a few times in its life),
  and UNMATCHED#<gateway> / <received_at>#<write time>#<event id> on a gateway event OrderDesk could not match.
* `by_type` also holds, sparse, ACTIVITYNO#<order number> / <at>#<write time>#<source>: the
  activity entries of one order, by its number (the order may be gone).
* `by_attention` (sparse): ATTENTION#<shard> / <placed_at>#<id> on an order only while its
  attention list is not empty.

Sparse GSIs of the order record for the list's selective filters, keyed by the order record's
own attribute (no write path sets anything for them) and sorted by `gsi2sk`; KEYS_ONLY (by_total
also carries `total`), so a change of an order's status never writes them and a page reads its
orders by BatchGetItem:

* `by_promo`: promo_code; `by_ip`: ip_address; `by_affiliate`: affiliate_id; `by_method`:
  payment_method (an invoice has one too, but no `gsi2sk`, so it is not in the index);
* `by_total`: total_band (`total_band()`: bands 1-2-5 of each power of ten), so a total range
  reads the few bands it spans, and only the two at its ends hold orders outside it.

`q` is served by the search records: one search document per order (written with the order,
changed when its client or its domains change), and from its stream the postings (`QW#<term>`,
newest first) and the terms themselves (`QT#<two chars>`, sorted, so a query's word finds the
terms it starts in one Query).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

# index names
BY_STATUS = "by_status"
BY_ALL = "by_all"
BY_CLIENT = "by_client"
BY_TYPE = "by_type"
BY_ATTENTION = "by_attention"
BY_PROMO = "by_promo"
BY_IP = "by_ip"
BY_AFFILIATE = "by_affiliate"
BY_METHOD = "by_method"
BY_TOTAL = "by_total"

ORDER_SK = "ORDER"
FRAUD_SK = "ORDER#FRAUD"
INVOICE_SK = "INVOICE"
ORDER_NUMBER_SK = "ORDERNO"
STATS_SK = "ORDER_STATUS"
COUNTED_SK = "COUNTED"
DELETION_SK = "DELETION"
PUBLISHED_EVENT_SK = "EVENT"
REGISTRAR_EVENT_SK = "REGEVENT"
DOMAINS_WAITING = "DOMAINWAIT"
JOB_SK = "JOB"
GATEWAY_EVENT_SK = "EVENT"
GATEWAY_PAYMENT_SK = "PAYMENT"
EXPORT_SK = "EXPORT"
DAILY_PK = "DAILY"
DAILY_COUNTED_SK = "COUNTED"
MAX_SK = "~"  # sorts after every character of our sort keys

CLIENTS = "CLIENT"
OPEN_BULK_JOBS = "BULKJOBS_OPEN"  # by_type: the jobs not yet DONE (the stale-job sweep reads them)
CREDIT_PREFIX = "CREDIT#"
PAYMENT_GUARD_SK = "PAYMENT"
AFFILIATES = "AFFILIATE"
SERVERS = "SERVER"


def shard_of(entity_id: str, shards: int) -> int:
    """The write shard of an order (or any id): a stable hash, so every writer agrees."""
    return int.from_bytes(hashlib.blake2b(entity_id.encode(), digest_size=4).digest(), "big") % shards


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def item_sk(item_id: str) -> str:
    return f"ITEM#{item_id}"


def note_sk(at: str, note_id: str) -> str:
    return f"NOTE#{at}#{note_id}"


def history_sk(at: str, written_ns: int, suffix: str = "") -> str:
    """At (seconds) then the write time, so entries of one second keep their order; `suffix`
    tells apart entries of one write."""
    return f"HIST#{at}#{written_ns:020d}{suffix}"


def written_ns_of(sk: str) -> int:
    """The write time in a history entry's key (`history_sk`) or any key of that shape
    (`<PREFIX>#<at>#<20-digit write time><suffix>`)."""
    tail = sk.split("#", 2)[-1]
    digits = tail[:20]
    return int(digits) if digits.isdigit() else 0


def action_sk(action_id: str) -> str:
    return f"ACTION#{action_id}"


def order_number_pk(number: str) -> str:
    return f"ORDERNO#{number}"


def sort_key(placed_at: str, order_id: str) -> str:
    """The sort key of an order in every order index: newest first when read backwards."""
    return f"{placed_at}#{order_id}"


def status_partition(status: str, shard: int) -> str:
    return f"STATUS#{status}#{shard}"


def all_orders_partition(shard: int) -> str:
    return f"ORDERS#{shard}"


def client_orders_partition(client_id: str) -> str:
    return f"CLIENT#{client_id}"


def attention_partition(shard: int) -> str:
    return f"ATTENTION#{shard}"


def locked_partition(shard: int) -> str:
    return f"LOCKED#{shard}"


def lock_sort_key(started_at: str, order_id: str) -> str:
    return f"{started_at}#{order_id}"


def stats_pk(shard: int) -> str:
    return f"STATS#{shard}"


def counted_pk(order_id: str) -> str:
    return f"COUNTED#{order_id}"


def published_event_pk(event_id: str) -> str:
    """Outside every ORDER# partition: the order stream's filter never hands these back to it."""
    return f"EVENT#{event_id}"


def client_pk(client_id: str) -> str:
    return f"CLIENT#{client_id}"


def credit_entry_sk(at: str, written_ns: int, suffix: str = "") -> str:
    """At (seconds) then the write time, so a client's entries sort in the order they were made;
    `suffix` tells apart entries of one write."""
    return f"{CREDIT_PREFIX}{at}#{written_ns:020d}{suffix}"


def payment_guard_pk(gateway: str, transaction_id: str) -> str:
    """One gateway's transaction id. The gateway is a code without '#' (schemas.Code), in any case
    (`Stripe` is `stripe`); the id comes last, so any character of it keeps two guards apart."""
    return f"PAYMENT#{gateway.lower()}#{transaction_id}"


def affiliate_pk(affiliate_id: str) -> str:
    return f"AFFILIATE#{affiliate_id}"


def server_pk(server_id: str) -> str:
    return f"SERVER#{server_id}"


def name_sort_key(name: str, entity_id: str) -> str:
    return f"{name.lower()}#{entity_id}"


def bulk_job_pk(job_id: str) -> str:
    return f"BULKJOB#{job_id}"


def outcome_sk(order_id: str) -> str:
    return f"OUTCOME#{order_id}"


def activity_pk(shard: int) -> str:
    """A write shard of the activity log: every shard is written at once, so none is hot."""
    return f"ACTIVITY#{shard}"


def activity_sk(at: str, written_ns: int, source: str) -> str:
    """Time first (newest first when read backwards), then the write time, then what the entry was
    derived from (unique: the same source is the same key, so an entry is written once)."""
    return f"{at}#{written_ns:020d}#{source}"


def activity_order_partition(number: str) -> str:
    return f"ACTIVITYNO#{number}"


def deleted_order_pk(order_id: str) -> str:
    return f"DELETEDORDER#{order_id}"


def domain_pk(domain: str) -> str:
    """Domain names are stored lower case (the API lower-cases them); so are their lookups."""
    return f"DOMAIN#{domain.strip().rstrip('.').lower()}"


def domain_item_sk(order_id: str, item_id: str) -> str:
    return f"ITEM#{order_id}#{item_id}"


def waiting_sort_key(since: str, order_id: str, item_id: str) -> str:
    """Oldest registration first."""
    return f"{since}#{order_id}#{item_id}"


def registrar_event_pk(event_id: str) -> str:
    """Outside every ORDER# partition (the order stream never sees it)."""
    return f"REGEVENT#{event_id}"


def gateway_event_pk(gateway: str, event_id: str) -> str:
    """Outside every ORDER# partition: the order stream's filter never hands these to it."""
    return f"GATEWAY#{gateway}#{event_id}"


def unmatched_partition(gateway: str) -> str:
    return f"UNMATCHED#{gateway}"


def unmatched_sort_key(received_at: str, written_ns: int, event_id: str) -> str:
    """Received (seconds) then the write time, so events of one second keep their order."""
    return f"{received_at}#{written_ns:020d}#{event_id}"


def export_pk(export_id: str) -> str:
    return f"EXPORT#{export_id}"


def daily_counted_pk(event_id: str) -> str:
    """Outside every ORDER# partition: the order stream's filter never hands these back to it."""
    return f"DAILYCOUNTED#{event_id}"


# -- the list's selective indexes and the search records -------------------------------------------

# lower bounds of the total bands: 0, then 1, 2, 5 of every power of ten up to a million
TOTAL_BANDS: tuple[Decimal, ...] = (Decimal(0), *(Decimal(m) * 10**e for e in range(6) for m in (1, 2, 5)),
                                    Decimal(10**6))


def total_band(total: Decimal) -> str:
    """The by_total partition of an order's total."""
    lower = max(b for b in TOTAL_BANDS if b <= max(total, Decimal(0)))
    return f"TOTAL#{lower}"


def total_bands_between(low: Decimal | None, high: Decimal | None) -> list[str]:
    """Every band holding a total in [low, high] (either end open)."""
    out = []
    for i, lower in enumerate(TOTAL_BANDS):
        upper = TOTAL_BANDS[i + 1] if i + 1 < len(TOTAL_BANDS) else None
        if (high is None or lower <= high) and (low is None or upper is None or upper > low):
            out.append(f"TOTAL#{lower}")
    return out


def order_id_of(sort_key: str) -> str:
    """The order id at the end of an order index's sort key (`sort_key`)."""
    return sort_key.rsplit("#", 1)[-1]


def order_id_of_pk(pk: str) -> str:
    return pk.removeprefix("ORDER#")


def search_doc_partition(shard: int) -> str:
    return f"QDOC#{shard}"


def posting_partition(term: str) -> str:
    return f"QW#{term}"


def term_partition(term: str) -> str:
    """Terms sorted under their first two characters: a word of two or more finds its terms."""
    return f"QT#{term[:2]}"
