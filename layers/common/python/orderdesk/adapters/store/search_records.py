"""The search index's records (`search`, and its layout in `keys`), apart from `records` so that
each module keeps to one job; importing `search` (as `orders` and `order_lists` do) registers
them with the table's models, which `records.bind_models` binds whatever module defines them."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from .records import Record


class SearchDocRecord(Record, discriminator="search_doc"):
    """An order's search terms (`QDOC#<shard>` / `<placed_at>#<order id>`, newest first like
    by_all): written with the order, changed when its client or its domains change; the stream
    turns each change into postings. Terms are stored as `domain.search.join_terms` writes them."""

    order_id = UnicodeAttribute()
    placed_at = UnicodeAttribute()
    client_id = UnicodeAttribute()
    client_terms = UnicodeAttribute(null=True)
    domain_terms = UnicodeAttribute(null=True)


class PostingRecord(Record, discriminator="posting"):
    """One order having one term (`QW#<term>` / `<placed_at>#<order id>`): the keys say it all."""


class TermRecord(Record, discriminator="term"):
    """A term that has (or had) a posting list (`QT#<first two characters>` / `<term>`)."""
