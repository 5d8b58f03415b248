"""An in-memory implementation of every protocol of `orderdesk.services.ports`, with the
semantics of the DynamoDB data layer (`adapters.store`): the same guards, the same domain errors
for a refused write, versions, bulk decisions and counter records. `tests/contract` runs the same
tests against both. Thread-safe (one lock), and every object in or out is a copy.

But one: `images` reads stream images, which are the table's record format, not a store's state
(these stores have no stream), so it is the DynamoDB data layer's reader itself (pure: records and
mappers, no connection).

    from orderdesk.services.ports import use_stores
    from tests.fakes.memory_store import memory_stores

    use_stores(memory_stores())  # the services run in memory until use_stores(None)
"""

from __future__ import annotations

from orderdesk.adapters.store.images import StreamImages
from orderdesk.services.ports import Stores

from .actions import MemoryActions
from .activity import MemoryActivity
from .bulk_jobs import MemoryBulkJobs
from .counters import MemoryCounters
from .domains import MemoryDomains
from .gateway_events import MemoryGatewayEvents
from .invoices import MemoryInvoices
from .order_writes import MemoryOrderWrites
from .orders import MemoryOrders
from .published_events import MemoryPublishedEvents
from .reference import MemoryClients, MemoryDirectory
from .search import MemorySearch
from .state import MemoryState
from .tooling import MemoryDailyStats, MemoryExports


def memory_stores(domain_wait_hours: int = 24) -> Stores:
    """A fresh, empty set of stores sharing one state (`domain_wait_hours`: as the setting of the
    same name, how long a domain may wait for its registrar before its order needs attention)."""
    state = MemoryState(domain_wait_hours)
    return Stores(orders=MemoryOrders(state), writes=MemoryOrderWrites(state), actions=MemoryActions(state),
                  invoices=MemoryInvoices(state), clients=MemoryClients(state), directory=MemoryDirectory(state),
                  bulk_jobs=MemoryBulkJobs(state), counters=MemoryCounters(state), images=StreamImages(),
                  published_events=MemoryPublishedEvents(state), activity=MemoryActivity(state),
                  domains=MemoryDomains(state), gateway_events=MemoryGatewayEvents(state),
                  exports=MemoryExports(state), daily_stats=MemoryDailyStats(state),
                  search=MemorySearch(state))


__all__ = ["MemoryState", "memory_stores"]
