"""The back office around the orders, in a real browser against the running stack (SPEC §8): local
sign-in by role, the dashboard's charts, clients with their credit, Add New Order's inline client,
servers with write-only credentials and their connection test, affiliates, the activity log, the
orders list's export and the refunds owed. Each screen hides what the signed-in role cannot do,
and passes axe-core's WCAG 2.1 A/AA checks."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.integration.workflow_support import WEBHOOK_SECRET, RemoteStub

from .conftest import HttpApi, PortalStack, shot, sign_in
from .test_portal import axe_violations
from .test_portal_lifecycle import wait_ended

pytestmark = pytest.mark.browser

ROLES = ("viewer", "support", "billing", "admin")


def tag() -> str:
    return uuid.uuid4().hex[:6]


def as_role(page, stack: PortalStack, role: str, path: str) -> None:  # type: ignore[no-untyped-def]
    """Open `path` signed in as `role` (a new document, so the newest token is the one used)."""
    sign_in(page, stack, role)
    page.goto(path)
    page.reload()


def no_violations(page) -> None:  # type: ignore[no-untyped-def]
    found = axe_violations(page)
    assert not found, found


def wait_until(check, what: str, timeout: float = 20.0) -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout}s")


def test_signing_in_locally_as_each_role_shows_what_that_role_may_do(page, stack: PortalStack):  # type: ignore[no-untyped-def]
    # GIVEN the local stack's sign-in screen
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to OrderDesk")).to_be_visible()
    expect(page.locator(".local-sign-in button")).to_have_text([f"Sign in locally as {r}" for r in ROLES])
    expect(page.get_by_role("button", name="Sign in locally as viewer")).to_be_focused()
    shot(page, "sign-in-local")
    no_violations(page)
    for role in ROLES:
        # WHEN the operator signs in locally as the role
        page.get_by_role("button", name=f"Sign in locally as {role}").click()
        # THEN the dashboard is home, and the menu and screens offer what the role may do, nothing more
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(page.locator("#who-role")).to_have_text(role)
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Add New Order")).to_be_visible(visible=role != "viewer")
        expect(nav.get_by_role("link", name="Refunds owed")).to_be_visible(visible=role in ("billing", "admin"))
        nav.get_by_role("link", name="Clients").click()
        expect(page.locator('#clients-table[data-query=""]')).to_have_count(1)
        expect(page.get_by_role("button", name="Add client")).to_have_count(0 if role == "viewer" else 1)
        nav.get_by_role("link", name="Servers").click()
        expect(page.locator("#servers-table")).to_be_visible()
        expect(page.get_by_role("button", name="Add server")).to_have_count(1 if role == "admin" else 0)
        expect(page.get_by_role("button", name="Test connection", exact=False)).to_have_count(
            page.locator("#servers-table tbody tr[data-server-id]").count() if role == "admin" else 0)
        if role == "support":  # a screen the role may not use says so, instead of failing on a 403
            page.goto("/#/refunds")
            expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in to OrderDesk")).to_be_visible()


def todays(http: HttpApi) -> dict[str, Any]:
    today = datetime.now(UTC).date().isoformat()
    return http.get(f"/stats/daily?from={today}&to={today}")[0]  # type: ignore[no-any-return]


def test_the_dashboard_charts_the_days_and_shows_todays_new_order(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN the demo data's days, counted by the stream, and a viewer on the dashboard
    wait_until(lambda: sum(d["placed"] for d in http.get("/stats/daily")) > 0, "the demo orders counted")
    as_role(page, stack, "viewer", "/")
    expect(page.locator('#dashboard-charts[data-days="30"]')).to_have_count(1)
    # THEN three charts are drawn by the charting library, each with its 30 days as a table
    expect(page.locator("#dashboard-charts canvas")).to_have_count(3)
    assert page.evaluate("[...document.querySelectorAll('#dashboard-charts canvas')]"
                         ".every((c) => window.Chart.getChart(c) && c.width > 0)")
    for chart in ("orders", "money", "fraud"):
        expect(page.locator(f'table[data-chart="{chart}"] tbody tr')).to_have_count(30)
    # AND the attention count links to those orders; a viewer sees no refunds owed
    attention = next(c["count"] for c in http.get("/order-statuses") if c["status"] == "Attention")
    expect(page.locator("#tile-attention")).to_have_text(str(attention))
    expect(page.locator("#tile-refunds")).to_have_count(0)
    shot(page, "dashboard")
    no_violations(page)
    # WHEN an order is placed now, and the dashboard refreshed once the stream has counted it
    before = todays(http)["placed"]
    HttpApi(stack, "support").order(http.client()["id"])
    wait_until(lambda: todays(http)["placed"] == before + 1, "today's order counted")
    page.get_by_role("button", name="Refresh").click()
    # THEN today's row of the orders chart shows it
    today = datetime.now(UTC).date().isoformat()
    placed = page.locator(f'table[data-chart="orders"] tr[data-date="{today}"] td').first
    expect(placed).to_have_text(str(before + 1))
    # WHEN 90 days are chosen
    page.get_by_label("Show").select_option("90")
    # THEN every chart has the 90 days
    expect(page.locator('#dashboard-charts[data-days="90"]')).to_have_count(1)
    expect(page.locator('table[data-chart="orders"] tbody tr')).to_have_count(90)
    # WHEN the attention count is followed
    page.locator("#tile-attention").click()
    # THEN it is the orders list's "Needs attention" choice
    expect(page.locator('#orders-table[data-query="attention=true"]')).to_have_count(1)


def test_clients_are_searched_added_and_edited_by_support_only(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN support on the clients screen
    last = f"Hopper{tag()}"
    as_role(page, stack, "support", "/#/clients")
    expect(page.locator('#clients-table[data-query=""]')).to_have_count(1)
    # WHEN a client is added with a bad email, then corrected
    page.get_by_role("button", name="Add client").click()
    form = page.locator("#new-client-form")
    form.get_by_label("First name").fill("Grace")
    form.get_by_label("Last name").fill(last)
    form.get_by_label("Email").fill("not-an-email")
    form.get_by_label("Country").fill("us")
    form.get_by_label("Company").fill("Navy Labs")
    form.get_by_role("button", name="Add client").click()
    # THEN the API's complaint is at the email field, and nothing was added
    expect(form.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    assert http.get(f"/clients?q={last}")["clients"] == []
    no_violations(page)
    form.get_by_label("Email").fill(f"grace.{last.lower()}@example.com")
    form.get_by_role("button", name="Add client").click()
    # THEN the client's page shows them, with no credit yet
    expect(page.get_by_role("heading", name=f"Grace {last}")).to_be_visible()
    expect(page.locator("#client-details")).to_contain_text("Navy Labs")
    expect(page.locator("#client-details")).to_contain_text("US")
    # WHEN they are edited: another company, the phone added
    page.get_by_role("button", name="Edit").click()
    page.get_by_label("Company").fill("")
    page.get_by_label("Phone").fill("+1 555 0100")
    page.get_by_role("button", name="Save changes").click()
    # THEN the change is saved (the company cleared), and the search finds them by name
    expect(page.locator("#client-details")).to_contain_text("+1 555 0100")
    saved = http.get(f"/clients?q={last}")["clients"][0]
    assert (saved["company"], saved["phone"], saved["email"]) == (None, "+1 555 0100", f"grace.{last.lower()}@example.com")
    page.goto(f"/#/clients?q={last}")
    expect(page.locator("#clients-table tbody tr")).to_have_count(1)
    shot(page, "clients")
    no_violations(page)
    # WHEN a viewer opens the same client
    as_role(page, stack, "viewer", f"/#/clients/{saved['id']}")
    # THEN there is nothing to edit, add or adjust
    expect(page.get_by_role("heading", name=f"Grace {last}")).to_be_visible()
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="New order for this client")).to_have_count(0)
    expect(page.locator("#credit-form")).to_have_count(0)


def test_billing_adjusts_a_clients_credit_and_the_ledger_shows_it(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN a client with no credit, and billing on their page
    client = http.client()
    as_role(page, stack, "billing", f"/#/clients/{client['id']}")
    expect(page.locator("#credit-balance")).to_have_text("$0.00")
    # WHEN more is taken off than the balance holds
    page.get_by_label("Amount").fill("-5.00")
    page.get_by_label("Reason").fill("correction")
    page.get_by_role("button", name="Adjust credit").click()
    # THEN it is refused, saying why, and nothing is written
    expect(page.locator("#credit-form [role=alert]")).to_contain_text("credit")
    assert http.get(f"/clients/{client['id']}/credit")["entries"] == []
    # WHEN goodwill credit is given
    page.get_by_label("Amount").fill("10.00")
    page.get_by_label("Reason").fill("goodwill")
    page.get_by_role("button", name="Adjust credit").click()
    # THEN the balance and the ledger show it, by whom
    expect(page.locator("#credit-balance")).to_have_text("$10.00")
    expect(page.locator("#credit-ledger tbody tr")).to_have_count(1)
    expect(page.locator("#credit-ledger tbody tr")).to_contain_text("goodwill")
    expect(page.locator("#credit-ledger tbody tr")).to_contain_text("$10.00")
    shot(page, "client-credit")
    no_violations(page)
    ledger = http.get(f"/clients/{client['id']}/credit")
    assert ledger["balance"] == "10.00" and [e["amount"] for e in ledger["entries"]] == ["10.00"]


def test_add_new_order_adds_the_client_inline_with_a_registrar_from_the_list(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN support on Add New Order, the configured registrars offered for a domain
    last = f"Turing{tag()}"
    as_role(page, stack, "support", "/#/orders/new")
    expect(page.get_by_role("heading", name="Add New Order")).to_be_visible()
    page.get_by_role("button", name="New client…").click()
    inline = page.locator("#inline-client")
    inline.get_by_label("First name").fill("Alan")
    inline.get_by_label("Last name").fill(last)
    inline.get_by_label("Email").fill(f"alan.{last.lower()}@example.com")
    inline.get_by_label("Country").fill("GB")
    page.locator("fieldset[data-kind=product]").get_by_label("Description").fill("Starter Hosting")
    page.locator("fieldset[data-kind=product]").get_by_label("Amount").fill("5.00")
    page.get_by_role("button", name="+ Domain").click()
    domain = page.locator("fieldset[data-kind=domain]")
    domain.get_by_label("Amount").fill("12.00")
    domain.get_by_label("Domain", exact=True).fill(f"{last.lower()}.com")
    registrars = http.get("/registrars")["registrars"]
    expect(domain.get_by_label("Registrar").locator("option")).to_have_text([r["label"] for r in registrars])
    chosen = registrars[-1]["name"]
    domain.get_by_label("Registrar").select_option(chosen)
    shot(page, "add-order-new-client")
    no_violations(page)
    # WHEN the order is created
    page.get_by_role("button", name="Create order").click()
    # THEN the client was added and the order placed for them, the domain with the chosen registrar
    expect(page.locator(".page-head .badge").first).to_have_text("Pending")
    (client,) = http.get(f"/clients?q={last}")["clients"]
    order = http.get(f"/orders?client_id={client['id']}")["orders"]
    assert len(order) == 1
    items = http.get(f"/orders/{order[0]['id']}")["items"]
    assert [i["registrar"] for i in items if i["kind"] == "domain"] == [chosen]
    expect(page.locator("#client-info")).to_contain_text(f"Alan {last}")


def test_servers_are_added_edited_and_tested_with_credentials_never_shown(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    hook = RemoteStub().start()
    try:
        # GIVEN an admin on the servers screen, and a webhook receiver checking signatures
        name = f"Hook {tag()}"
        as_role(page, stack, "admin", "/#/servers")
        expect(page.locator("#servers-table")).to_be_visible()
        # WHEN a webhook server is added with its signing secret
        page.get_by_role("button", name="Add server").click()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Module").select_option("webhook")
        page.get_by_label("URL").fill(hook.url)
        page.get_by_label("Credentials").fill(WEBHOOK_SECRET)
        expect(page.get_by_label("Credentials")).to_have_attribute("type", "password")
        no_violations(page)
        page.get_by_role("button", name="Add server").click()
        # THEN it is listed with its credentials stored, never shown
        row = page.locator("#servers-table tbody tr", has_text=name)
        expect(row).to_contain_text("Stored")
        server = next(s for s in http.get("/servers")["servers"] if s["name"] == name)
        # WHEN its connection is tested
        row.get_by_role("button", name=f"Test connection of {name}").click()
        # THEN the module's signed ping reached the receiver, which checked its signature
        expect(row.locator(".test-result")).to_contain_text("Connected")
        assert [r.verified for r in hook.received] == [True]
        # WHEN it is renamed, the credentials left blank
        row.get_by_role("button", name=f"Edit {name}").click()
        expect(page.get_by_label("Credentials")).to_have_value("")
        expect(page.locator("#server-form")).to_contain_text("Leave blank to keep them")
        page.get_by_label("Name", exact=True).fill(f"{name} EU")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("#server-form")).to_have_count(0)
        # THEN the stored secret is kept: the test still connects
        row = page.locator("#servers-table tbody tr", has_text=f"{name} EU")
        row.get_by_role("button", name="Test connection").click()
        expect(row.locator(".test-result")).to_contain_text("Connected")
        # WHEN a wrong secret is typed in
        row.get_by_role("button", name="Edit").click()
        page.get_by_label("Credentials").fill("another-secret-0123456789")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("#server-form")).to_have_count(0)
        row.get_by_role("button", name="Test connection").click()
        # THEN the test fails with the receiver's refusal, and no secret is ever on the page
        expect(row.locator(".test-result")).to_contain_text("Failed")
        expect(row.locator(".test-result")).to_contain_text("401")
        assert WEBHOOK_SECRET not in page.content() and "another-secret" not in page.content()
        assert http.get("/servers")["servers"] and "credentials" not in server
        shot(page, "servers")
        no_violations(page)
    finally:
        hook.stop()


def test_affiliates_are_listed_and_added_by_support(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN support on the affiliates screen
    name = f"Partner {tag()}"
    as_role(page, stack, "support", "/#/affiliates")
    expect(page.locator("#affiliates-table")).to_be_visible()
    # WHEN an affiliate is added
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(f"{tag()}@partner.example.com")
    page.get_by_role("button", name="Add affiliate").click()
    # THEN it is listed with a link to its orders
    row = page.locator("#affiliates-table tbody tr", has_text=name)
    expect(row).to_have_count(1)
    affiliate = next(a for a in http.get("/affiliates")["affiliates"] if a["name"] == name)
    expect(row.get_by_role("link")).to_have_attribute("href", f"#/orders?affiliate_id={affiliate['id']}")
    shot(page, "affiliates")
    no_violations(page)
    # AND a viewer sees the list without the form
    as_role(page, stack, "viewer", "/#/affiliates")
    expect(page.locator("#affiliates-table tbody tr", has_text=name)).to_have_count(1)
    expect(page.locator("#affiliate-form")).to_have_count(0)


def test_the_activity_log_filters_by_order_and_type(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN an order with a note, both in the activity log
    order = http.order(http.client()["id"])
    http.post(f"/orders/{order['id']}/notes", {"text": "Called the client."})
    number = order["number"]
    wait_until(lambda: len(http.get(f"/activity?order_number={number}")["entries"]) >= 2, "the entries logged")
    as_role(page, stack, "viewer", "/#/activity")
    expect(page.locator('#activity-table[data-query=""]')).to_have_count(1)
    # WHEN the log is filtered by the order's number
    page.get_by_label("Order #").fill(number)
    page.get_by_role("button", name="Filter", exact=True).click()
    # THEN only its entries show, newest first, each linking to the order
    expect(page.locator(f'#activity-table[data-query="order_number={number}"]')).to_have_count(1)
    rows = page.locator("#activity-table tbody tr")
    expect(rows).to_have_count(len(http.get(f"/activity?order_number={number}")["entries"]))
    times = [t.get_attribute("datetime") for t in rows.locator("td:first-child time").all()]
    assert times == sorted(times, reverse=True)
    expect(rows.first.get_by_role("link", name=f"#{number}")).to_have_attribute("href", f"#/orders/{order['id']}")
    # WHEN the type "note" is added to the filter
    page.get_by_label("Type").select_option("note")
    page.get_by_role("button", name="Filter", exact=True).click()
    # THEN only the note is left
    expect(page.locator(f'#activity-table[data-query="order_number={number}&type=note"]')).to_have_count(1)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("note added")
    shot(page, "activity")
    no_violations(page)


def test_exporting_the_fraud_orders_downloads_what_the_list_shows(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN three orders set to Fraud by a bulk change, besides whatever Fraud orders the demo data
    # still has (the session's stack is shared: another file's test may have moved or deleted them),
    # all on one page of the list
    client = http.client()
    extra = [http.order(client["id"])["id"] for _ in range(3)]
    job = http.post("/orders/bulk", {"order_ids": extra, "status": "Fraud"}, expect=202)["job"]
    wait_until(lambda: http.get(f"/bulk-jobs/{job['id']}")["status"] == "DONE", "the bulk change done")
    listed = [o["number"] for o in http.get("/orders?status=Fraud&limit=100")["orders"]]
    assert len(listed) >= 3
    as_role(page, stack, "viewer", "/#/orders?status=Fraud&limit=100")
    expect(page.locator('#orders-table[data-query="status=Fraud&limit=100"]')).to_have_count(1)
    shown = page.locator("#orders-table tbody td:nth-child(1) a").all_inner_texts()
    assert shown == listed
    # WHEN they are exported
    page.get_by_role("button", name="Export CSV").click()
    # THEN a progress bar runs to the download link
    link = page.get_by_role("link", name="Download")
    expect(link).to_be_visible(timeout=60_000)
    expect(page.locator("#export-status")).to_have_text(f"Done: {len(listed)} orders written.")
    assert page.locator("#export-bar").evaluate("b => b.value === b.max")
    shot(page, "export")
    no_violations(page)
    # AND the downloaded file holds exactly the list's orders, in its order
    with page.expect_download() as download:
        link.click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows[1:]] == listed


def refund_owed_order(http: HttpApi) -> dict[str, Any]:
    """An order paid by bank transfer, then cancelled with a refund: no gateway pays it back."""
    order = http.order(http.client()["id"], payment_method="banktransfer")
    http.post(f"/invoices/{order['invoice_id']}/payments",
              {"amount": order["total"], "gateway": "banktransfer", "transaction_id": f"BT-{tag()}"})
    action = http.post(f"/orders/{order['id']}/cancel", {"refund": True}, expect=202)["action"]
    assert wait_ended(http, order["id"], action["id"])["status"] == "SUCCEEDED"
    return order


def owed_refund(http: HttpApi, order: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in http.get(f"/invoices/{order['invoice_id']}")["transactions"] if t["type"] == "refund")


def test_billing_confirms_a_refund_owed_with_its_reference(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN two orders cancelled with a refund of a bank transfer: two refunds owed
    first, second = refund_owed_order(http), refund_owed_order(http)
    # WHEN billing opens Refunds owed
    as_role(page, stack, "billing", "/#/refunds")
    row = page.locator("#refunds-table tbody tr", has_text=first["number"])
    expect(row).to_contain_text("banktransfer")
    expect(row).to_contain_text("$24.00")
    shot(page, "refunds-owed")
    no_violations(page)
    # AND confirms the first without a reference, then with one
    row.get_by_role("button", name="Confirm paid back").click()
    expect(row.get_by_role("textbox")).to_have_attribute("aria-invalid", "true")
    row.get_by_role("textbox").fill("BANK-REF-42")
    row.get_by_role("button", name="Confirm paid back").click()
    # THEN it is no longer owed: gone from the list, done on the invoice with its reference
    expect(page.locator("#refunds-table tbody tr", has_text=first["number"])).to_have_count(0)
    expect(page.locator("#refunds-table tbody tr", has_text=second["number"])).to_have_count(1)
    refund = owed_refund(http, first)
    assert (refund["state"], refund["reference"]) == ("done", "BANK-REF-42")
    assert not [a for a in http.get(f"/orders/{first['id']}")["attention"] if a["code"] == "refund_owed"]
    # WHEN the second is fixed from its order's attention list, on its invoice
    page.goto(f"/#/orders/{second['id']}")
    page.locator("#attention").get_by_role("link", name="Confirm the refund on the invoice").click()
    owed = page.locator("#owed-refunds")
    expect(owed).to_contain_text("$24.00 via banktransfer")
    no_violations(page)
    owed.get_by_role("textbox").fill("BANK-REF-43")
    owed.get_by_role("button", name="Confirm paid back").click()
    # THEN the invoice owes nothing more, and Refunds owed no longer lists it
    expect(page.locator("#owed-refunds")).to_have_count(0)
    assert (owed_refund(http, second)["state"], owed_refund(http, second)["reference"]) == ("done", "BANK-REF-43")
    page.goto("/#/refunds")
    expect(page.locator("#owed-summary")).to_be_visible()
    expect(page.locator("#refunds-table tbody tr", has_text=second["number"])).to_have_count(0)


def test_support_sends_the_welcome_email_again_from_an_active_order(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN an Active order of the demo data, and a viewer on it
    order = http.get("/orders?status=Active&limit=1")["orders"][0]
    as_role(page, stack, "viewer", f"/#/orders/{order['id']}")
    expect(page.get_by_role("heading", name=f"Order #{order['number']}")).to_be_visible()
    # THEN the viewer may not send it
    expect(page.get_by_role("button", name="Send the welcome email again")).to_have_count(0)
    # WHEN support sends it again, after confirming
    as_role(page, stack, "support", f"/#/orders/{order['id']}")
    page.get_by_role("button", name="Send the welcome email again").click()
    page.get_by_role("dialog").get_by_role("button", name="Send it").click()
    # THEN it is sent to the client, and the order's history says so
    expect(page.locator("#toasts")).to_contain_text("Welcome email sent again to ")
    expect(page.locator("#history")).to_contain_text(re.compile("welcome email sent again", re.IGNORECASE))
