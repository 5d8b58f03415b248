"""First end-to-end smoke: client → order → list → detail → payment."""


def test_create_and_read_order(api):
    # GIVEN a client
    r = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                              "country": "GB"})
    assert r.status_code == 201, r.data
    client_id = r.data["id"]
    # WHEN an order is added
    r = api.post("/orders", {"client_id": client_id, "payment_method": "stripe",
                             "items": [{"kind": "product", "description": "Hosting", "amount": "10.00"},
                                       {"kind": "domain", "description": "Domain", "amount": "12.50",
                                        "domain": "example.com"}],
                             "discount": "2.50"})
    assert r.status_code == 201, r.data
    order = r.data
    # THEN it is Pending with an Unpaid invoice of lines minus discount
    assert order["status"] == "Pending"
    assert order["total"] == "20.00"
    assert order["invoice"]["status"] == "Unpaid"
    r = api.get(f"/orders/{order['id']}")
    assert r.status_code == 200, r.data
    assert [i["status"] for i in r.data["items"]] == ["Pending", "Pending"]
    r = api.get("/orders?status=Pending")
    assert r.status_code == 200, r.data
    assert [o["id"] for o in r.data["orders"]] == [order["id"]]
    r = api.post(f"/invoices/{order['invoice_id']}/payments",
                 {"amount": "20.00", "gateway": "manual", "transaction_id": "t1"})
    assert r.status_code == 201, r.data
    assert r.data["status"] == "Paid"
    r = api.get("/orders?payment_status=Paid")
    assert [o["id"] for o in r.data["orders"]] == [order["id"]]
    r = api.get("/order-statuses")
    assert {x["status"]: x["count"] for x in r.data}["Pending"] == 1
