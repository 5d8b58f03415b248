"""Fixtures and helpers for the event-driven tests (bulk over SQS, fraud screening, cleanups):
moto's server over HTTP for SQS and Step Functions, queues as template.yaml declares them, and
fast seeding of many orders straight through the data layer."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import boto3
import pytest

from infra.local.bulk_load import put_orders
from infra.local.moto_server import MotoServer
from infra.local.seed import Seeded, build_order, seed_directory
from orderdesk.adapters import aws
from orderdesk.config import reset_settings
from orderdesk.domain.model import Action, ActionStep, Client, HistoryEntry, Order, iso, new_id, utcnow
from orderdesk.domain.money import ZERO
from orderdesk.domain.statuses import ActionStatus, InvoiceStatus, OrderStatus
from orderdesk.services.ports import Stores, stores


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@dataclass
class Queues:
    url: str
    dlq_url: str
    sqs: object


@pytest.fixture()
def bulk_queue(moto: MotoServer, table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    """A bulk queue with its DLQ (redrive after 3 receives, as template.yaml), the API pointed at it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto.endpoint)
    sqs = boto3.client("sqs", region_name="us-east-1")
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"bulk-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=f"bulk-{suffix}", Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
    })["QueueUrl"]
    monkeypatch.setenv("BULK_QUEUE_URL", url)
    reset_settings()
    aws.reset_clients()
    yield Queues(url=url, dlq_url=dlq_url, sqs=sqs)
    aws.reset_clients()
    reset_settings()


def seed(count: int, statuses: list[OrderStatus], *, clients: int = 5, seed_value: int = 7,
         placed_days_ago: float | None = None, workers: int = 8) -> tuple[Seeded, list[Order]]:
    """`count` orders with the given statuses (cycled), written in parallel with BatchWriteItem."""
    repo = stores()
    rng = random.Random(seed_value)
    directory = seed_directory(repo, rng, clients)
    now = utcnow()
    built = []
    for n in range(count):
        client = directory.clients[n % len(directory.clients)]
        ago = timedelta(days=placed_days_ago) if placed_days_ago is not None else timedelta(minutes=n + 1)
        built.append(build_order(rng, client, statuses[n % len(statuses)], iso(now - ago), None, []))

    rows = [(order, items, invoice, HistoryEntry(at=order.placed_at, actor="test", action="order placed", from_=None,
                                                 to=order.status.value), order.client.name.lower())
            for order, items, invoice in built]
    chunks = [rows[i:i + 50] for i in range(0, len(rows), 50)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        assert sum(pool.map(put_orders, chunks)) == count
    orders = []
    for order, items, invoice in built:
        order.items, order.invoice, order.version = items, invoice, 1
        orders.append(order)
    return directory, orders


def place(status: OrderStatus, *, days_ago: float, paid: bool = False, client_index: int = 0,
          directory: Seeded | None = None) -> Order:
    """One order placed `days_ago` (its history too), paid or not, as the API's create writes it."""
    repo = stores()
    rng = random.Random()
    if directory is not None:
        client = directory.clients[client_index]
    else:
        client = Client(id=new_id(), first_name="Ada", last_name="Lovelace", email="ada@example.com", country="GB",
                        created_at=iso(utcnow()))
        repo.clients.put_client(client)
    placed = iso(utcnow() - timedelta(days=days_ago))
    order, items, invoice = build_order(rng, client, status, placed, None, [])
    if status is OrderStatus.PENDING:
        invoice.status = InvoiceStatus.PAID if paid else InvoiceStatus.UNPAID
        invoice.transactions = invoice.transactions if paid else []
        invoice.balance = ZERO if paid else invoice.total
        invoice.date_paid = placed if paid else None
        order.payment_status = invoice.payment_status
    history = HistoryEntry(at=placed, actor="test", action="order placed", from_=None, to=status.value)
    repo.orders.create_order(order, items, invoice, {}, history, "test")
    order.items, order.invoice = items, invoice
    return order


def lock(repo: Stores, order: Order, action_type: str = "cancel", execution_arn: str | None = None,
         started_at: str | None = None) -> Action:
    """Put a running action (and its lock) on an order, as a workflow start does."""
    action = Action(id=new_id(), order_id=order.id, type=action_type, status=ActionStatus.RUNNING,
                    steps=[ActionStep(name="terminate", status="RUNNING")], started_at=started_at or iso(utcnow()),
                    actor="test", execution_arn=execution_arn)
    history = HistoryEntry(at=action.started_at, actor="test", action=f"{action_type} started", from_=None, to=None)
    repo.actions.start_action(order, action, frozenset(OrderStatus), history)
    if execution_arn:
        repo.actions.set_lock_execution(order.id, action.id, execution_arn)
    return action


def wait_for_action(order_id: str, action_id: str, timeout: float = 30.0) -> Action:
    """Wait until a workflow action has ended; returns it."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        action = stores().actions.get_action(order_id, action_id)
        if action.status is not ActionStatus.RUNNING or time.monotonic() > deadline:
            return action
        time.sleep(0.05)
