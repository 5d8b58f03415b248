"""Operator tooling on the running local stack (`make run`): the portal's local sign-in, an export
written by the export function through moto's Lambda route and downloaded from moto's S3 port as a
browser would, and the daily statistics kept by the stream for the demo data and a new order."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.e2e.stack_fixture import RunningStack, wait_for


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_signing_in_locally_as_each_role_gives_what_the_role_may_do(local_stack: RunningStack) -> None:
    # GIVEN the roles the local sign-in offers
    offered = requests.get(f"{local_stack.url}/local/sign-in", timeout=10)
    assert offered.status_code == 200 and offered.json()["roles"] == ["viewer", "support", "billing", "admin"]
    for role in offered.json()["roles"]:
        # WHEN the portal signs in as it
        answer = requests.post(f"{local_stack.url}/local/sign-in", json={"role": role}, timeout=10)
        assert answer.status_code == 200, answer.text
        token = answer.json()["token"]
        # THEN the token reads, and may change a server only as admin
        assert requests.get(f"{local_stack.url}/orders?limit=1", headers=bearer(token), timeout=10).status_code == 200
        added = requests.post(f"{local_stack.url}/servers", headers=bearer(token), timeout=10,
                              json={"name": f"manual-{role}", "module": "none"})
        assert added.status_code == (201 if role == "admin" else 403), (role, added.text)


def test_an_export_of_the_fraud_orders_downloads_as_the_list_shows_them(local_stack: RunningStack) -> None:
    # GIVEN the demo data's Fraud orders, as the list shows them
    admin = bearer(local_stack.token("viewer"))
    listed = requests.get(f"{local_stack.url}/orders?status=Fraud&limit=100", headers=admin, timeout=10).json()
    # WHEN they are exported, and the export is followed until done
    started = requests.post(f"{local_stack.url}/exports", headers=admin, json={"filters": {"status": "Fraud"}},
                            timeout=10)
    assert started.status_code == 202, started.text
    export_id = started.json()["export"]["id"]

    def done() -> Any:
        view = requests.get(f"{local_stack.url}/exports/{export_id}", headers=admin, timeout=10).json()
        return view if view["status"] != "RUNNING" else None

    view = wait_for(done, timeout=60, what="the export done")
    # THEN its link is on moto's port (the local S3), and the browser's plain GET of it is the list
    assert view["status"] == "DONE", view
    assert view["url"].startswith(local_stack.state["moto"]), (view["url"], local_stack.state["moto"])
    got = requests.get(view["url"], timeout=10)
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"), newline="")))
    assert [r[0] for r in rows[1:]] == [o["number"] for o in listed["orders"]]
    assert view["rows"] == len(listed["orders"])


def test_the_daily_statistics_show_the_demo_datas_90_days_and_todays_new_order(local_stack: RunningStack) -> None:
    headers = bearer(local_stack.token("viewer"))
    today = datetime.now(UTC).date()
    since = (today - timedelta(days=89)).isoformat()

    def days() -> list[dict[str, Any]]:
        r = requests.get(f"{local_stack.url}/stats/daily?from={since}&to={today.isoformat()}", headers=headers,
                         timeout=10)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    # GIVEN the demo data (20 orders placed over the last 90 days), counted by the stream
    wait_for(lambda: sum(d["placed"] for d in days()) >= 20, timeout=30, what="the demo orders counted")
    before = days()
    assert len(before) == 90 and len({d["date"] for d in before if d["placed"]}) > 1
    # WHEN an order is placed now
    support = bearer(local_stack.token("support"))
    client = requests.post(f"{local_stack.url}/clients", headers=support, timeout=10, json={
        "first_name": "Katherine", "last_name": "Johnson", "email": "kj@example.com", "country": "US"}).json()
    placed = requests.post(f"{local_stack.url}/orders", headers=support, timeout=10, json={
        "client_id": client["id"], "payment_method": "banktransfer", "skip_fraud_check": True,
        "items": [{"kind": "product", "description": "VPS 2GB", "amount": "15.00"}]})
    assert placed.status_code == 201
    started = time.monotonic()
    # THEN today's count shows it within seconds
    wait_for(lambda: days()[-1]["placed"] == before[-1]["placed"] + 1, timeout=15, what="today's new order counted")
    print(f"\ntoday's new order counted {time.monotonic() - started:.1f} s after the API answered")
