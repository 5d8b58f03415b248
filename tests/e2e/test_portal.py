"""The admin portal in a real browser: each flow of the Manage Orders job, end to end against the
running stack. A screenshot of every screen goes to test-artifacts/."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from playwright.sync_api import expect

from .conftest import HttpApi, PortalStack, require, require_route, shot, sign_in

pytestmark = pytest.mark.browser

WORKFLOW_TIMEOUT = 60_000  # ms: a Step Functions workflow with its steps on the local stack


def status_cells(page):  # type: ignore[no-untyped-def]
    return page.locator("#orders-table tbody tr td:last-child .badge:first-child")


def test_sign_in_with_a_pasted_token(page, stack: PortalStack):  # type: ignore[no-untyped-def]
    # GIVEN the portal, not signed in
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to OrderDesk")).to_be_visible()
    shot(page, "sign-in")
    # WHEN a token that is not a JWT is pasted
    page.get_by_label("Access token (JWT)").fill("not-a-token")
    page.get_by_role("button", name="Sign in", exact=True).click()
    # THEN it is refused plainly, and nothing else is shown
    expect(page.get_by_role("alert")).to_contain_text("not a JWT")
    expect(page.locator("#nav")).to_be_hidden()
    # WHEN a valid admin token is pasted (with its "Bearer " prefix, as copied from a header)
    page.get_by_label("Access token (JWT)").fill(f"Bearer {stack.token('admin')}")
    page.get_by_role("button", name="Sign in", exact=True).click()
    # THEN the dashboard (the portal's home) shows, with who is signed in and their role
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("#who-role")).to_have_text("admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
    expect(page.locator("#orders-table tbody tr").first).to_be_visible()
    # WHEN they sign out
    page.get_by_role("button", name="Sign out").click()
    # THEN they are back at the sign-in screen
    expect(page.get_by_role("heading", name="Sign in to OrderDesk")).to_be_visible()
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def _headers_when_configured_for(domain: str) -> dict[str, str]:
    """The portal's security headers as the API sends them when COGNITO_DOMAIN is `domain` (in AWS)."""
    import os

    from orderdesk.api import portal
    from orderdesk.config import reset_settings

    before = {k: os.environ.get(k) for k in ("COGNITO_DOMAIN", "COGNITO_CLIENT_ID")}
    os.environ.update(COGNITO_DOMAIN=domain, COGNITO_CLIENT_ID="portal-client")
    reset_settings()
    try:
        return portal.security_headers()
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()


def test_sign_in_with_the_cognito_hosted_ui(page, stack: PortalStack):  # type: ignore[no-untyped-def]
    # GIVEN a portal configured for a Cognito user pool (its config, and the page's policy as the API
    # sends it then), whose hosted UI signs a support user in with the authorization code grant and
    # PKCE (answered here in the browser: a code to the redirect_uri, an ID token for code + verifier)
    import base64
    import hashlib
    import html

    domain = "https://orderdesk-test.auth.eu-west-1.amazoncognito.com"
    origin = stack.url.rstrip("/")
    page.route("**/portal/config.json", lambda route: route.fulfill(
        json={"cognito": {"domain": domain, "client_id": "portal-client"}}))

    def the_page(route):  # type: ignore[no-untyped-def]
        real = route.fetch()
        route.fulfill(response=real, headers={**real.headers, **{k.lower(): v for k, v in
                                                                 _headers_when_configured_for(domain).items()}})

    page.route(lambda url: url.startswith(origin) and urlparse(url).path == "/", the_page)
    asked: dict[str, list[str]] = {}
    redeemed: list[dict[str, list[str]]] = []

    def hosted_ui(route):  # type: ignore[no-untyped-def]
        url = urlparse(route.request.url)
        if url.path == "/oauth2/token":
            form = parse_qs(route.request.post_data or "")
            redeemed.append(form)
            verifier = form.get("code_verifier", [""])[0].encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).decode().rstrip("=")
            good = (form.get("grant_type") == ["authorization_code"] and form.get("code") == ["the-code"]
                    and form.get("client_id") == ["portal-client"] and form.get("redirect_uri") == asked["redirect_uri"]
                    and [challenge] == asked["code_challenge"])
            route.fulfill(status=200 if good else 400, headers={"Access-Control-Allow-Origin": origin},
                          json={"id_token": stack.token("support"), "access_token": "unused", "token_type": "Bearer",
                                "expires_in": 3600} if good else {"error": "invalid_grant"})
            return
        query = parse_qs(url.query)
        asked.update(query, path=[url.path])
        back = query.get("redirect_uri", query.get("logout_uri", [""]))[0]
        if url.path == "/oauth2/authorize":
            # a page that sends the browser on, not a 302: Playwright routes only the first request
            # of a redirect chain, and the portal's page must come through the_page
            back += "?" + urlencode({"code": "the-code", "state": query["state"][0]})
            route.fulfill(status=200, content_type="text/html",
                          body=f'<meta http-equiv="refresh" content="0; url={html.escape(back)}">')
            return
        route.fulfill(status=302, headers={"Location": back})

    page.route(f"{domain}/**", hosted_ui)
    page.goto("/")
    # WHEN the operator signs in with Cognito
    page.get_by_role("link", name="Sign in with Cognito").click()
    # THEN the hosted UI was asked for a code (S256 challenge) for this page, the code was redeemed
    # once with the verifier that matches the challenge, and they are signed in, no code left in the URL
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert (asked["path"], asked["response_type"], asked["client_id"]) == (["/oauth2/authorize"], ["code"], ["portal-client"])
    assert asked["code_challenge_method"] == ["S256"] and "id_token" not in str(asked)
    assert asked["redirect_uri"] == [origin + "/"]
    assert len(redeemed) == 1
    expect(page.locator("#who-role")).to_have_text("support")
    assert "code=" not in page.url and "state=" not in page.url
    # WHEN they sign out
    page.get_by_role("button", name="Sign out").click()
    # THEN the hosted UI signs them out too, and they are back at the sign-in screen
    expect(page.get_by_role("link", name="Sign in with Cognito")).to_be_visible()
    assert asked["path"] == ["/logout"] and asked["logout_uri"] == [origin + "/"]
    # WHEN a code arrives that this tab did not ask for (another state)
    page.goto("/?" + urlencode({"code": "the-code", "state": "forged"}))
    # THEN it is refused without being redeemed
    expect(page.get_by_role("status").filter(has_text="did not match")).to_be_visible()
    expect(page.locator("#nav")).to_be_hidden()
    assert len(redeemed) == 1


def test_a_token_the_api_rejects_leads_back_to_sign_in(page, stack: PortalStack):  # type: ignore[no-untyped-def]
    # GIVEN a token that looks fine but is signed by a key the API does not trust
    from orderdesk.api.auth import issue_token
    from tests.conftest import make_keypair

    forged = issue_token(make_keypair()[0], "admin")
    page.context.add_init_script(f"sessionStorage.setItem('orderdesk.token', {json.dumps(forged)})")
    # WHEN the portal is opened
    page.goto("/#/orders")
    # THEN the API's 401 sends the operator to sign in again, saying why
    expect(page.get_by_role("heading", name="Sign in to OrderDesk")).to_be_visible()
    expect(page.get_by_text("the API no longer accepts this token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('orderdesk.token')") is None


def open_list(page, query: str = "") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/#/orders{'?' + query if query else ''}")
    expect(page.locator(f'#orders-table[data-query="{query}"]')).to_have_count(1)


def settled_counts(http: HttpApi) -> dict[str, int]:
    """/order-statuses once the table's stream has caught up: its counts equal the orders listed."""
    import time

    counts: dict[str, int] = {}
    for _ in range(100):
        real: dict[str, int] = {}
        cursor = None
        while True:
            page = http.get("/orders?limit=100" + (f"&cursor={cursor}" if cursor else ""))
            for order in page["orders"]:
                real[order["status"]] = real.get(order["status"], 0) + 1
                real["Attention"] = real.get("Attention", 0) + bool(order["attention"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        counts = {c["status"]: c["count"] for c in http.get("/order-statuses")}
        if all(counts.get(status, 0) == n for status, n in real.items()):
            return counts
        time.sleep(0.2)
    raise AssertionError(f"the counts never caught up with the orders listed: {counts}")


def test_filter_by_status_and_by_client(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN a client with two Pending orders (one paid) among the demo orders
    client = http.client()
    first = http.order(client["id"])
    second = http.order(client["id"], items=[{"kind": "product", "description": "VPS 2GB", "amount": "15.00"}])
    http.pay(second)
    counts = settled_counts(http)
    sign_in(page, stack)
    open_list(page)
    # THEN the status dropdown shows each status with its count, and the orders needing attention
    show = page.get_by_label("Show")
    statuses = ("Pending", "Active", "Cancelled", "Fraud")
    expect(show.locator("option")).to_have_text(
        [f"All orders ({sum(counts[s] for s in statuses)})"] + [f"{s} ({counts[s]})" for s in statuses]
        + [f"Needs attention ({counts['Attention']})"])
    shot(page, "orders-list")
    # WHEN Pending is chosen
    show.select_option("Pending")
    # THEN only Pending orders are listed
    expect(page.locator('#orders-table[data-query="status=Pending"]')).to_have_count(1)
    assert set(status_cells(page).all_inner_texts()) == {"Pending"}
    # WHEN the Search/Filter panel narrows it to the client
    page.get_by_role("button", name="Search/Filter").click()
    page.get_by_label("Client", exact=True).select_option(client["id"])
    page.get_by_role("button", name="Search", exact=True).click()
    # THEN exactly the client's two orders show, newest first, with every column filled
    expect(page.locator(f'#orders-table[data-query="status=Pending&client_id={client["id"]}"]')).to_have_count(1)
    rows = page.locator("#orders-table tbody tr")
    expect(rows).to_have_count(2)
    placed = [t.get_attribute("datetime") for t in rows.locator("time").all()]
    assert placed == sorted(placed, reverse=True)
    assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {first["number"], second["number"]}
    expect(rows.filter(has_text=second["number"]).locator("td")).to_have_text(
        ["", second["number"], re.compile(r"^\d{2} \w{3} \d{4}, \d{2}:\d{2} UTC$"),
         re.compile(f"Testa {client['last_name']}"), "$15.00", "stripe", "Paid", "Pending"])
    expect(page.locator(".chip", has_text="Client:")).to_contain_text(f"Testa {client['last_name']}")
    shot(page, "orders-filtered")
    # WHEN the status filter is removed from its chip
    page.get_by_role("button", name="Remove filter Status: Pending").click()
    # THEN the client filter stays and the dropdown is back to all orders
    expect(page.locator(f'#orders-table[data-query="client_id={client["id"]}"]')).to_have_count(1)
    expect(show).to_have_value("")
    expect(rows).to_have_count(2)


def test_paging_is_newest_first(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN more orders than one page holds (the demo data), ten to a page
    sign_in(page, stack)
    open_list(page)
    page.get_by_role("button", name="Search/Filter").click()
    page.get_by_label("Orders per page").select_option("10")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator('#orders-table[data-query="limit=10"]')).to_have_count(1)
    times = page.locator("#orders-table tbody time")
    expect(times).to_have_count(10)
    first_page = [t.get_attribute("datetime") for t in times.all()]
    assert first_page == sorted(first_page, reverse=True)
    # WHEN the next page is opened
    page.get_by_role("button", name="Next →").click()
    expect(page.locator("#list-summary")).to_contain_text("Page 2")
    second_page = [t.get_attribute("datetime") for t in times.all()]
    # THEN it continues, older, with no order repeated
    assert second_page and second_page == sorted(second_page, reverse=True)
    assert second_page[0] <= first_page[-1]
    # WHEN going back
    page.get_by_role("button", name="← Previous").click()
    # THEN the first page is shown again
    expect(page.locator("#list-summary")).to_contain_text("Page 1")
    expect(times.first).to_have_attribute("datetime", first_page[0])
    expect(page.get_by_role("button", name="← Previous")).to_be_disabled()


def test_search_finds_by_the_start_of_any_word_and_says_how_far_a_cut_short_search_went(
        page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN a client and two orders, one with a domain, placed through the API
    tag = uuid.uuid4().hex[:6]
    client = http.client(first_name="Ada", last_name=f"Lovelace{tag}", email=f"ada.{tag}@example.com",
                         company=f"Engines{tag} Ltd")
    older = http.order(client["id"])
    newer = http.order(client["id"], items=[{"kind": "domain", "description": "Domain", "amount": "12.00",
                                             "domain": f"shop{tag}.example.com"}])
    # THEN the running stack's stream makes the new order searchable within the stated lag
    started, found = time.monotonic(), []
    while not found and time.monotonic() - started < 10:
        found = http.get(f"/orders?q=shop{tag}.example")["orders"]
    lag = time.monotonic() - started
    assert [o["id"] for o in found] == [newer["id"]]
    assert lag < 3, f"searchable after {lag:.1f} s"
    # (newest first is by placed_at, then id: the two may share a second)
    listed = [o["number"] for o in sorted([older, newer], key=lambda o: (o["placed_at"], o["id"]), reverse=True)]
    # WHEN the operator opens the Search/Filter panel
    sign_in(page, stack)
    open_list(page)
    page.get_by_role("button", name="Search/Filter").click()
    box = page.get_by_label("Client, email, company or domain")
    # THEN the search box says which words it matches, as its description
    expect(box).to_have_accessible_description(re.compile(r"every word you type is the start of a word.*"
                                                          r"name or company.*email.*domain of the order"))
    expect(page.locator("#filters .hint")).to_contain_text("ada@exam, example.com, shop.example")
    # WHEN the start of the email's local part and of the company are searched
    box.fill(f"ADA.{tag[:3]} engines{tag}")
    page.get_by_role("button", name="Search", exact=True).click()
    # THEN both of the client's orders show, newest first, with the search as a chip
    query = urlencode({"q": f"ADA.{tag[:3]} engines{tag}"})  # as URLSearchParams writes it: a space is +
    expect(page.locator(f'#orders-table[data-query="{query}"]')).to_have_count(1)
    rows = page.locator("#orders-table tbody tr")
    expect(rows).to_have_count(2)
    assert rows.locator("td:nth-child(2)").all_inner_texts() == listed
    expect(page.locator(".chip", has_text="Search:")).to_contain_text(f"engines{tag}")
    expect(page.locator("#searched-to")).to_be_hidden()
    shot(page, "orders-search")
    # WHEN a search comes back cut short by the API's read budget (one order found, the answer
    # saying how far back it looked; the rest of the answer is the API's own)
    searched_to = "2026-01-15T10:30:00Z"

    def cut_short(route):  # type: ignore[no-untyped-def]
        answer = route.fetch()
        body = answer.json()
        body["searched_to"] = searched_to
        route.fulfill(response=answer, json=body)

    page.route("**/orders?*limit=1*", cut_short)
    open_list(page, urlencode({"q": f"lovelace{tag}", "limit": "1"}))
    # THEN the list says how far it searched and offers to go on
    notice = page.locator("#searched-to")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Searched up to 15 Jan 2026, 10:30 UTC")
    expect(rows).to_have_count(1)
    assert rows.locator("td:nth-child(2)").all_inner_texts() == listed[:1]
    page.unroute("**/orders?*limit=1*")
    # WHEN the operator continues
    page.get_by_role("button", name="Continue searching").click()
    # THEN the search goes on from there: the next order, and no notice (this answer was whole)
    expect(page.locator("#list-summary")).to_contain_text("Page 2")
    expect(rows).to_have_count(1)
    assert rows.locator("td:nth-child(2)").all_inner_texts() == listed[1:]
    expect(notice).to_be_hidden()


def test_order_details_reference_affiliate_and_notes(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN an order with a promo code, discount, IP address, client notes, a product and a domain
    affiliate = http.post("/affiliates", {"name": "Partner Weekly", "email": "p@partner.example.com"})
    client = http.client()
    order = http.order(client["id"], items=[
        {"kind": "product", "description": "Business Hosting", "amount": "24.00"},
        {"kind": "domain", "description": "Domain registration", "amount": "12.00", "domain": "rossi-example.com"}],
        promo_code="SPRING5", discount="2.00", ip_address="203.0.113.9", notes="Please call before setting up.")
    sign_in(page, stack)
    open_list(page, f"client_id={client['id']}")
    # WHEN its number is clicked in the list
    page.get_by_role("link", name=order["number"]).click()
    # THEN the details page shows the reference information
    expect(page.get_by_role("heading", name=f"Order #{order['number']}")).to_be_visible()
    info = page.locator("section", has=page.get_by_role("heading", name="Order information"))
    for text in (f"Testa {client['last_name']}", client["email"], "SPRING5", "$2.00", "$34.00", "stripe",
                 "203.0.113.9", f"Invoice {order['invoice_id']}"):
        expect(info).to_contain_text(text)
    expect(page.locator(".client-notes")).to_have_text("Please call before setting up.")
    # AND the items with status and payment status, and the accept fields for pending items
    items = page.locator("#items-table > tbody > tr[data-item-id]")
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_contain_text("rossi-example.com")
    expect(items.nth(0).locator(".badge")).to_have_text(["Pending", "Unpaid"])
    expect(page.get_by_label("Server for Business Hosting")).to_be_visible()
    expect(page.get_by_label("Password for Business Hosting")).to_have_attribute("type", "password")
    expect(page.get_by_label("Registrar for rossi-example.com", exact=True)).to_be_visible()
    # AND the actions a Pending order allows, and only those
    actions = page.locator(".actions-list button")
    expect(actions).to_have_text(["Accept Order", "Cancel Order", "Cancel & Refund", "Set as Fraud"])
    shot(page, "order-details")
    # WHEN an affiliate is assigned manually
    page.get_by_role("button", name="Assign manually").click()
    page.get_by_label("Affiliate", exact=True).select_option(affiliate["id"])
    page.get_by_role("button", name="Save").click()
    # THEN it is shown on the order
    expect(page.locator("#affiliate")).to_have_text("Partner Weekly Assign manually")
    assert http.get(f"/orders/{order['id']}")["affiliate"]["id"] == affiliate["id"]
    # WHEN a note is added
    page.get_by_label("Add a note").fill("Called the client; go ahead.")
    page.get_by_role("button", name="Add note").click()
    # THEN it is listed with its author, and the history records the changes
    expect(page.locator(".notes-list li").first).to_contain_text("Called the client; go ahead.")
    expect(page.locator(".notes-list li").first).to_contain_text("admin@orderdesk.test")
    expect(page.locator("#history tbody tr")).not_to_have_count(0)
    shot(page, "order-details-notes")


def test_record_a_payment(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN an unpaid order of $24.00
    client = http.client()
    order = http.order(client["id"])
    sign_in(page, stack)
    page.goto(f"/#/orders/{order['id']}")
    # WHEN its invoice is opened from the order
    page.get_by_role("link", name="View invoice and record a payment").click()
    expect(page.get_by_role("heading", name=f"Invoice {order['invoice_id']}")).to_be_visible()
    expect(page.locator(".page-head .badge")).to_have_text("Unpaid")
    # AND an amount that is not money is entered
    page.get_by_label("Amount (USD)").fill("12.5.0")
    page.get_by_label("Transaction ID").fill("CHK-1001")
    page.get_by_role("button", name="Record payment").click()
    # THEN the API's complaint is shown next to the field
    expect(page.get_by_label("Amount (USD)")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#payment-form .field", has=page.get_by_label("Amount (USD)")).locator(".error")).to_be_visible()
    # WHEN part of it is paid
    page.get_by_label("Amount (USD)").fill("10.00")
    page.get_by_role("button", name="Record payment").click()
    # THEN the payment is listed and the balance drops
    expect(page.locator("#transactions tbody tr")).to_have_count(1)
    expect(page.locator("#transactions")).to_contain_text("CHK-1001")
    expect(page.locator("#invoice-balance")).to_have_text("$14.00")
    # WHEN the rest is paid
    expect(page.get_by_label("Amount (USD)")).to_have_value("14.00")
    page.get_by_label("Transaction ID").fill("CHK-1002")
    page.get_by_role("button", name="Record payment").click()
    # THEN the invoice is Paid and there is nothing left to collect
    expect(page.locator(".page-head .badge")).to_have_text("Paid")
    expect(page.locator("#transactions tbody tr")).to_have_count(2)
    expect(page.get_by_text("Nothing to collect")).to_be_visible()
    shot(page, "invoice")


def test_accept_with_item_fields(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    require(stack, "workflows", "POST /orders/{id}/accept, GET /orders/{id}/actions/{action_id} and the accept workflow")
    # GIVEN a pending order with a product and a domain, and a server
    server = http.post("/servers", {"name": f"Manual {client_tag()}", "module": "none"})
    client = http.client()
    order = http.order(client["id"], items=[
        {"kind": "product", "description": "Business Hosting", "amount": "24.00"},
        {"kind": "domain", "description": "Domain registration", "amount": "12.00", "domain": f"{client_tag()}-shop.com"}])
    sign_in(page, stack)
    page.goto(f"/#/orders/{order['id']}")
    # WHEN a username the modules cannot take is given
    page.get_by_label("Username for Business Hosting").fill("1 Bad User")
    page.locator("#accept-submit").click()
    # THEN the API's complaint is shown at that field, and nothing runs
    expect(page.get_by_label("Username for Business Hosting")).to_have_attribute("aria-invalid", "true")
    assert http.get(f"/orders/{order['id']}")["pending_action"] is None
    # WHEN the item fields are filled and the order accepted
    page.get_by_label("Server for Business Hosting").select_option(server["id"])
    page.get_by_label("Username for Business Hosting").fill("rossi1")
    page.get_by_label("Password for Business Hosting").fill("s3cret-Passw0rd")
    page.get_by_label(re.compile("^Registrar for")).select_option("none")
    page.locator("#accept-submit").click()
    # THEN the workflow's steps are shown until it succeeds, and the order and its items are Active
    expect(page.locator("#progress-summary")).to_contain_text("Succeeded", timeout=WORKFLOW_TIMEOUT)
    expect(page.locator(".page-head .badge").first).to_have_text("Active", timeout=WORKFLOW_TIMEOUT)
    expect(page.locator("#items-table tbody tr[data-item-id]").nth(0).locator(".badge").first).to_have_text("Active")
    expect(page.get_by_label("Password for Business Hosting")).to_have_count(0)
    expect(page.locator("#action-steps")).to_contain_text("Provision: Business Hosting")
    expect(page.locator("#action-progress")).not_to_contain_text(re.compile(r"\bnull\b|\bundefined\b"), use_inner_text=True)
    shot(page, "order-accepted")
    saved = http.get(f"/orders/{order['id']}")
    product = saved["items"][0]
    assert (product["server_id"], product["username"], product["has_password"]) == (server["id"], "rossi1", True)
    assert "s3cret-Passw0rd" not in page.content()


def test_accept_pressed_again_after_a_failed_run_starts_a_new_run(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    require(stack, "workflows", "POST /orders/{id}/accept, GET /orders/{id}/actions/{action_id} and the accept workflow")
    from tests.integration.workflow_support import WEBHOOK_SECRET, RemoteStub

    # GIVEN a pending order of a product on a provisioning webhook that refuses its first create (422)
    creates: list[str] = []

    def webhook(request):  # type: ignore[no-untyped-def]
        creates.append(request.json.get("command"))
        return (422, {"error": "plan unknown"}) if len(creates) == 1 else (200, {})

    hook = RemoteStub(webhook, secret=WEBHOOK_SECRET)
    hook.start()
    try:
        server = http.post("/servers", {"name": f"Hook {client_tag()}", "module": "webhook", "url": hook.url,
                                        "credentials": WEBHOOK_SECRET})
        order = http.order(http.client()["id"], items=[
            {"kind": "product", "description": "Business Hosting", "amount": "24.00", "server_id": server["id"]}])
        sign_in(page, stack)
        page.goto(f"/#/orders/{order['id']}")
        # WHEN it is accepted, and the run fails
        page.get_by_label("Username for Business Hosting").fill("retry1")
        page.locator("#accept-submit").click()
        expect(page.locator("#progress-summary")).to_contain_text("Failed", timeout=WORKFLOW_TIMEOUT)
        expect(page.locator("#accept-submit")).to_be_visible(timeout=WORKFLOW_TIMEOUT)
        failed = http.get(f"/orders/{order['id']}")["actions"]
        # AND Accept is pressed again with the very same fields
        page.get_by_label("Username for Business Hosting").fill("retry1")
        page.locator("#accept-submit").click()
        # THEN a new run starts (not the failed one shown again) and succeeds: the order is Active
        expect(page.locator("#progress-summary")).to_contain_text("Succeeded", timeout=WORKFLOW_TIMEOUT)
        expect(page.locator(".page-head .badge").first).to_have_text("Active", timeout=WORKFLOW_TIMEOUT)
        actions = http.get(f"/orders/{order['id']}")["actions"]
        assert [a["status"] for a in failed] == ["FAILED"]
        assert sorted(a["status"] for a in actions) == ["FAILED", "SUCCEEDED"], actions
        assert creates == ["create", "create"]
        shot(page, "accept-retried")
    finally:
        hook.stop()


def test_cancel_and_refund_a_paid_order(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    require(stack, "workflows", "POST /orders/{id}/cancel, GET /orders/{id}/actions/{action_id} and the cancel workflow")
    # GIVEN a paid order
    client = http.client()
    order = http.order(client["id"])
    http.pay(order)
    sign_in(page, stack)
    page.goto(f"/#/orders/{order['id']}")
    # WHEN Cancel & Refund is pressed
    page.get_by_role("button", name="Cancel & Refund").click()
    # THEN a confirmation names what will happen, and the safe choice has focus
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Cancel and refund order #{order['number']}?")
    expect(dialog).to_contain_text("Paid so far: $24.00")
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    shot(page, "confirm-cancel-refund")
    # WHEN it is confirmed
    dialog.get_by_role("button", name="Cancel & refund").click()
    # THEN the steps are shown as they run, and every one finishes (the refund of a payment by hand,
    # which no gateway can pay back, as OWED: someone must still pay it)
    steps = page.locator("#action-steps li")
    expect(steps.first).to_be_visible(timeout=WORKFLOW_TIMEOUT)
    expect(page.locator("#progress-summary")).to_contain_text("Succeeded", timeout=WORKFLOW_TIMEOUT)
    statuses = page.locator("#action-steps li").evaluate_all("els => els.map(e => e.dataset.status.toUpperCase())")
    assert set(statuses) <= {"SUCCEEDED", "SKIPPED", "OWED"} and statuses.count("OWED") == 1, statuses
    expect(page.locator("#action-progress")).not_to_contain_text(re.compile(r"\bnull\b|\bundefined\b"), use_inner_text=True)
    expect(page.locator(".page-head .badge").first).to_have_text("Cancelled", timeout=WORKFLOW_TIMEOUT)
    shot(page, "order-cancelled-refunded")
    # AND the invoice shows the refund
    page.locator("#invoice-link").click()
    expect(page.locator(".page-head .badge")).to_have_text("Refunded")
    expect(page.locator("#transactions tbody tr[data-type=refund]")).to_have_count(1)
    shot(page, "invoice-refunded")


def test_bulk_cancel_three_orders(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    require(stack, "bulk", "the bulk queue and its consumer")
    # GIVEN three pending orders of one client
    client = http.client()
    orders = [http.order(client["id"]) for _ in range(3)]
    sign_in(page, stack)
    open_list(page, f"client_id={client['id']}")
    # WHEN all three are selected and set Cancelled
    page.get_by_label("Select every order on this page").check()
    expect(page.locator("#bulk-count")).to_have_text("3 selected")
    page.get_by_role("button", name="Set Cancelled").click()
    page.get_by_role("dialog").get_by_role("button", name="Set Cancelled").click()
    # THEN the job's progress is shown until done, and the list shows them Cancelled
    expect(page.locator("#bulk-progress")).to_contain_text("Done: 3 succeeded, 0 failed.", timeout=WORKFLOW_TIMEOUT)
    expect(status_cells(page)).to_have_text(["Cancelled"] * 3)
    shot(page, "bulk-cancelled")
    for o in orders:
        assert http.get(f"/orders/{o['id']}")["status"] == "Cancelled"


def test_fraud_check_results(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    require(stack, "fraud_screening", "the fraud screening of new orders and POST /orders/{id}/fraud-check")
    # GIVEN a new order from a disposable email address, screened as it is placed
    client = http.client(email=f"buyer.{client_tag()}@mailinator.com")
    order = http.order(client["id"], skip_fraud_check=False, ip_address="198.51.100.23",
                       items=[{"kind": "product", "description": "Dedicated Server", "amount": "129.00"}])
    sign_in(page, stack)
    # WHEN its details are opened (once screening has stored a result)
    page.goto(f"/#/orders/{order['id']}")
    fraud = page.locator("#fraud")
    for _ in range(30):
        if fraud.locator("#fraud-score").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    # THEN the result shows its provider, score, decision and each signal with its value
    expect(fraud.locator("#fraud-score")).to_have_text(re.compile(r"^\d{1,3} / 100$"))
    signals = fraud.locator("#fraud-signals tbody tr")
    expect(signals.first).to_be_visible()
    expect(fraud.locator("#fraud-signals")).to_contain_text("Triggered")
    shot(page, "fraud-results")
    # WHEN the check is run again
    page.get_by_role("button", name="Run the check again").click()
    # THEN a fresh result is shown
    expect(page.locator("#toasts")).to_contain_text("Fraud check finished.")
    expect(fraud.locator("#fraud-score")).to_be_visible()


def test_set_back_to_pending_then_delete(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    require_route(http, "POST", "/orders/{order_id}/pending")
    require_route(http, "DELETE", "/orders/{order_id}")
    # GIVEN a Cancelled order (demo data)
    cancelled = http.get("/orders?status=Cancelled&limit=1")["orders"][0]
    sign_in(page, stack)
    page.goto(f"/#/orders/{cancelled['id']}")
    expect(page.locator(".actions-list button")).to_have_text(["Set as Fraud", "Set Back to Pending", "Delete Order"])
    # WHEN it is set back to Pending
    page.get_by_role("button", name="Set Back to Pending").click()
    # THEN the order and its items are Pending
    expect(page.locator(".page-head .badge").first).to_have_text("Pending")
    expect(page.locator("#items-table tbody tr[data-item-id] td:nth-child(3) .badge").first).to_have_text("Pending")
    # GIVEN it is then set as fraud... through the API, and the page reloaded
    # WHEN a Cancelled or Fraud order is deleted, after confirming
    other = http.get("/orders?status=Fraud&limit=1")["orders"][0]
    page.goto(f"/#/orders/{other['id']}")
    page.get_by_role("button", name="Delete Order").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This cannot be undone.")
    dialog.get_by_role("button", name="Delete for good").click()
    # THEN the list is shown and the order is gone
    expect(page.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    expect(page.locator("#toasts")).to_contain_text(f"Order #{other['number']} deleted.")
    assert http.call("GET", f"/orders/{other['id']}")["error"]["code"] == "not_found"


def test_a_viewer_sees_but_cannot_change(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN a pending order, and a viewer signed in
    client = http.client()
    order = http.order(client["id"])
    sign_in(page, stack, role="viewer")
    # WHEN the viewer opens the list and the order
    open_list(page, f"client_id={client['id']}")
    # THEN there is nothing to select, add or press
    expect(page.locator("#orders-table tbody tr")).to_have_count(1)
    expect(page.locator("#orders-table input[type=checkbox]")).to_have_count(0)
    expect(page.get_by_role("link", name="Add New Order")).to_have_count(0)
    page.get_by_role("link", name=order["number"]).click()
    expect(page.get_by_text("Your role (viewer) cannot change this order.")).to_be_visible()
    expect(page.locator(".actions-list")).to_have_count(0)
    expect(page.locator("#accept-form")).to_have_count(0)
    expect(page.locator("#note-form")).to_have_count(0)


def test_add_a_new_order(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN a client
    client = http.client()
    sign_in(page, stack)
    open_list(page)
    # WHEN Add New Order is filled in with a product without an amount
    page.locator("#main").get_by_role("link", name="Add New Order").click()
    expect(page.get_by_role("heading", name="Add New Order")).to_be_visible()
    page.get_by_label("Client", exact=True).select_option(client["id"])
    page.get_by_label("Description").fill("Starter Shared Hosting")
    page.get_by_role("button", name="Create order").click()
    # THEN the missing amount is pointed out at its field
    expect(page.locator("[data-field='items.0.amount']")).to_have_attribute("aria-invalid", "true")
    # WHEN the amount and a domain are added, and it is created
    page.get_by_label("Amount").fill("9.99")
    page.get_by_role("button", name="+ Domain").click()
    domain = page.locator("fieldset[data-kind=domain]")
    domain.get_by_label("Amount").fill("12.99")
    domain.get_by_label("Domain", exact=True).fill(f"{client_tag()}-new.com")
    page.get_by_label("Promotion code").fill("WELCOME10")
    shot(page, "add-order")
    page.get_by_role("button", name="Create order").click()
    # THEN the new order's page is shown, Pending, with both items
    expect(page.locator(".page-head .badge").first).to_have_text("Pending")
    expect(page.locator("#items-table tbody tr[data-item-id]")).to_have_count(2)
    expect(page.locator("section", has=page.get_by_role("heading", name="Order information"))).to_contain_text("$22.98")


def client_tag() -> str:
    import uuid

    return uuid.uuid4().hex[:8]


AXE = Path(__file__).resolve().parents[2] / "tools" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    """WCAG 2.1 A and AA checks of the screen as shown (axe-core, injected by the test only)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return r.violations.map(v => `${v.id} (${v.impact}): ${v.help} -- ${v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', ')}`);
    }""")
    return list(result)


def test_every_screen_passes_the_accessibility_checks(page, stack: PortalStack, http: HttpApi):  # type: ignore[no-untyped-def]
    # GIVEN an order with a product and a domain, pending, with a payment
    client = http.client()
    order = http.order(client["id"], items=[
        {"kind": "product", "description": "Business Hosting", "amount": "24.00"},
        {"kind": "domain", "description": "Domain registration", "amount": "12.00", "domain": f"{client_tag()}-a11y.com"}],
        notes="Accessible, please.")
    http.post(f"/invoices/{order['invoice_id']}/payments", {"amount": "10.00", "gateway": "manual", "transaction_id": "A11Y-1"})
    found: dict[str, list[str]] = {}
    # WHEN each screen is checked: sign-in, list with the filter panel, details, invoice, add order
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to OrderDesk")).to_be_visible()
    found["sign-in"] = axe_violations(page)
    sign_in(page, stack)
    page.reload()  # a new document, so that the token is there
    open_list(page)
    # (the first Tab reaches the skip link, which moves focus to the content)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.get_by_role("button", name="Search/Filter").click()
    found["orders"] = axe_violations(page)
    page.goto(f"/#/orders/{order['id']}")
    expect(page.locator("#accept-form")).to_be_visible()
    found["order"] = axe_violations(page)
    # (by keyboard: Enter opens the confirmation on its safe choice, Escape closes it, focus comes back)
    page.get_by_role("button", name="Cancel Order").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("button", name="Keep it")).to_be_focused()
    found["confirm"] = axe_violations(page)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel Order")).to_be_focused()
    assert http.get(f"/orders/{order['id']}")["status"] == "Pending"
    page.goto(f"/#/invoices/{order['invoice_id']}")
    expect(page.locator("#payment-form")).to_be_visible()
    found["invoice"] = axe_violations(page)
    page.goto("/#/orders/new")
    expect(page.get_by_role("heading", name="Add New Order")).to_be_visible()
    found["add-order"] = axe_violations(page)
    # THEN none has a violation
    assert {k: v for k, v in found.items() if v} == {}
