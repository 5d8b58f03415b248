"""Load many new orders at once (the benchmarks' large tables, the event tests' seeds): the same
records as `Orders.create_order` writes, with BatchWriteItem (25 a request) instead of one
transaction each. Unguarded, so only for ids and numbers known to be fresh. Not part of the
product: the API never writes this way. Status counters follow from the table's stream, as for
every order; the search index's postings and terms, which the stream would add too, are written
here as well (a benchmark's table is read without a stream consumer)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from orderdesk.adapters.store import keys, mappers
from orderdesk.adapters.store import records as r
from orderdesk.adapters.store.search import doc_from, doc_record
from orderdesk.adapters.store.search_records import PostingRecord, TermRecord
from orderdesk.adapters.store.table import connection, table_name
from orderdesk.config import get_settings
from orderdesk.domain.model import HistoryEntry, Invoice, Order, OrderItem

Row = tuple[Order, list[OrderItem], Invoice, HistoryEntry, str]

_terms_written: dict[str, set[str]] = {}  # per table: one write of each term (a batch refuses duplicates)
_terms_lock = threading.Lock()


def put_orders(rows: Iterable[Row]) -> int:
    """Write each (order, items, invoice, history entry, search text); the number written."""
    connection()  # binds the records to the configured table
    shards = get_settings().status_shards
    written = 0
    with r.Record.batch_write() as batch:
        for order, items, invoice, history, search in rows:
            record = mappers.order_record(order, search, shards)
            record.version = 1  # as the conditional save of `create_order` stores it
            batch.save(record)
            batch.save(r.OrderNumberRecord(pk=keys.order_number_pk(order.number), sk=keys.ORDER_NUMBER_SK,
                                           order_id=order.id))
            for position, item in enumerate(items):
                batch.save(mappers.item_record(order.id, position, item, None))
                lookup = mappers.domain_lookup_record(order.id, item)
                if lookup is not None:
                    batch.save(lookup)
            invoice_record = mappers.invoice_record(invoice)
            invoice_record.version = 1
            batch.save(invoice_record)
            batch.save(mappers.history_record(order.id, history))
            doc = doc_record(order, items, shards)
            batch.save(doc)
            posted = doc_from(doc).posted
            for term in posted:
                batch.save(PostingRecord(pk=keys.posting_partition(term), sk=keys.sort_key(order.placed_at, order.id)))
            with _terms_lock:
                seen = _terms_written.setdefault(table_name(), set())
                new_terms = posted - seen
                seen.update(new_terms)
            for term in new_terms:
                batch.save(TermRecord(pk=keys.term_partition(term), sk=term))
            written += 1
    return written
