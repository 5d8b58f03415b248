"""The DynamoDB data layer: one module per aggregate over one keys module (`keys`), pynamodb
records that never leave this package (`records`), and the one write path of an order's changes
(`order_writes`). `dynamodb_stores()` bundles them as the services' `Stores`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...config import Settings
    from ...services.ports import Stores


def dynamodb_stores(settings: Settings) -> Stores:
    from ...services.ports import Stores
    from .actions import Actions
    from .activity import Activity
    from .bulk_jobs import BulkJobs
    from .clients import Clients
    from .counters import Counters
    from .daily_stats import DailyStats
    from .directory import Directory
    from .domains import Domains
    from .exports import Exports
    from .gateway_events import GatewayEvents
    from .images import StreamImages
    from .invoices import Invoices
    from .order_writes import OrderWrites
    from .orders import Orders
    from .published_events import PublishedEvents
    from .records import bind_models
    from .search import Search

    bind_models()  # the records point at the configured table from here on
    shards = settings.status_shards
    writes = OrderWrites(shards, settings.domain_wait_hours)
    return Stores(orders=Orders(shards), writes=writes,
                  actions=Actions(shards, settings.domain_wait_hours),
                  invoices=Invoices(), clients=Clients(), directory=Directory(),
                  bulk_jobs=BulkJobs(settings.record_ttl_days), counters=Counters(shards),
                  images=StreamImages(), published_events=PublishedEvents(settings.record_ttl_days),
                  activity=Activity(shards), domains=Domains(writes, settings.record_ttl_days),
                  gateway_events=GatewayEvents(settings.record_ttl_days),
                  exports=Exports(), daily_stats=DailyStats(settings.record_ttl_days),
                  search=Search(shards))
