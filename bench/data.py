"""Orders for the benchmarks, built by the seeding code (`infra.local.seed.build_order`) and
written with `infra.local.bulk_load.put_orders` (BatchWriteItem) from parallel threads."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta

from infra.local.bulk_load import put_orders
from infra.local.seed import STATUS_MIX, Seeded, build_order, seed_directory
from orderdesk.domain.model import HistoryEntry, Invoice, Order, OrderItem, iso, new_order_number, utcnow
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services.ports import stores

Entry = tuple[Order, list[OrderItem], Invoice, HistoryEntry, str]


def directory(rng: random.Random, clients: int = 50) -> Seeded:
    return seed_directory(stores(), rng, clients)


def build(rng: random.Random, seeded: Seeded, count: int, *, statuses: list[OrderStatus] | None = None,
          spread_days: int = 180, numbers: set[str] | None = None) -> Iterator[Entry]:
    """`count` orders as the demo data makes them; `numbers` keeps order numbers unique."""
    now = utcnow()
    mix = statuses or STATUS_MIX
    taken = numbers if numbers is not None else set()
    for _ in range(count):
        client = seeded.clients[rng.randrange(len(seeded.clients))]
        status = mix[rng.randrange(len(mix))]
        placed = iso(now - timedelta(seconds=rng.randrange(1, spread_days * 86400)))
        order, items, invoice = build_order(rng, client, status, placed, None, seeded.servers)
        while order.number in taken:
            order.number = new_order_number()
        taken.add(order.number)
        search = " ".join(x.lower() for x in [client.name, client.email, client.company or "",
                                              *(i.domain or "" for i in items)] if x)
        history = HistoryEntry(at=placed, actor="bench", action="order placed", from_=None, to=status.value)
        yield order, items, invoice, history, search


def load(entries: Iterator[Entry], *, workers: int = 8, chunk: int = 250,
         put: Callable[[list[Entry]], int] = put_orders) -> tuple[int, float]:
    """Write the orders with BatchWriteItem from `workers` threads (`put`: what is written of each
    chunk, every record of an order by default); (orders written, seconds)."""
    started = time.perf_counter()

    def chunks() -> Iterator[list[Entry]]:
        batch: list[Entry] = []
        for e in entries:
            batch.append(e)
            if len(batch) == chunk:
                yield batch
                batch = []
        if batch:
            yield batch

    written = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench-seed") as pool:
        pending: set[Future[int]] = set()
        for batch in chunks():  # built here while the workers write: at most 2 chunks a worker in memory
            pending.add(pool.submit(put, batch))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                written += sum(f.result() for f in done)
        written += sum(f.result() for f in pending)
    return written, time.perf_counter() - started
