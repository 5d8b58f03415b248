"""Limits: what an oversized, over-long, deeply nested or otherwise hostile body gets — a 413 or a
400 naming the problem, quickly, never a 500 — on every route that takes a body (from the app's
route table, so a new route cannot be missed)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from orderdesk.config import get_settings

# CPU seconds the request's thread may spend: the work is milliseconds; a parser gone quadratic or
# deep would take many seconds. CPU time, not wall time, so a busy machine does not fail it.
QUICK_SECONDS = 2.0


def body_routes() -> list[tuple[str, str, str]]:
    import app as app_module

    return [(s.method, s.path, s.role.value if s.role else "admin") for s in app_module.api.specs
            if s.body is not None]


def concrete(path: str) -> str:
    return path.replace("{order_id}", "o1").replace("{invoice_id}", "i1").replace("{action_id}", "a1")


def timed(api: Any, method: str, path: str, raw: bytes, role: str = "admin") -> tuple[Any, float]:
    started = time.thread_time()  # chalice's test client runs the handler on this thread
    r = api.request(method, path, raw, role=role)
    return r, time.thread_time() - started


@pytest.mark.parametrize("method,path,role", body_routes())
def test_a_body_over_the_limit_is_413_on_every_route(api, method, path, role):
    # GIVEN a JSON body one byte over the limit, sent with the route's own role
    limit = get_settings().max_body_bytes
    head = b'{"x": "'
    raw = head + b"a" * (limit + 1 - len(head) - 2) + b'"}'
    assert len(raw) == limit + 1
    # WHEN it is sent
    r, took = timed(api, method, concrete(path), raw, role)
    # THEN 413 payload_too_large, quickly, with nothing done
    assert r.status_code == 413, (method, path, r.status_code, r.data)
    assert r.data["error"]["code"] == "payload_too_large"
    assert took < QUICK_SECONDS


def test_a_body_at_the_limit_is_read_not_refused_for_size(api):
    # GIVEN a body of exactly the limit (a valid client with a long, too-long address)
    limit = get_settings().max_body_bytes
    body = {"first_name": "A", "last_name": "B", "email": "a@example.com", "country": "GB", "address": ""}
    base = len(json.dumps(body).encode())
    body["address"] = "x" * (limit - base)
    raw = json.dumps(body).encode()
    assert len(raw) == limit
    # WHEN it is sent THEN it is validated (400 on the address), not refused for its size
    r = api.request("POST", "/clients", raw)
    assert r.status_code == 400 and set(r.data["error"]["fields"]) == {"address"}, r.data


def test_bulk_of_1001_ids_is_400_naming_order_ids(api):
    # GIVEN 1,001 well-formed order ids (one over the limit)
    ids = [f"o{n:05d}" for n in range(1001)]
    # WHEN a bulk change is asked for them THEN 400 naming order_ids, quickly, and no job exists
    r, took = timed(api, "POST", "/orders/bulk", json.dumps({"order_ids": ids, "status": "Cancelled"}).encode())
    assert r.status_code == 400, r.data
    assert "order_ids" in r.data["error"]["fields"]
    assert "1000" in r.data["error"]["fields"]["order_ids"]
    assert took < QUICK_SECONDS


def test_bulk_of_1000_ids_passes_validation(api):
    # GIVEN exactly 1,000 ids (the limit), no queue configured in this test
    ids = [f"o{n:05d}" for n in range(1000)]
    # WHEN submitted THEN validation lets them through (the answer is about the queue, not the body)
    r = api.post("/orders/bulk", {"order_ids": ids, "status": "Cancelled"})
    assert r.status_code != 400, r.data


def test_bulk_with_an_empty_list_or_a_bad_id_names_the_field(api):
    r = api.post("/orders/bulk", {"order_ids": [], "delete": True})
    assert r.status_code == 400 and "order_ids" in r.data["error"]["fields"]
    r = api.post("/orders/bulk", {"order_ids": ["ok", "not ok/../x"], "delete": True})
    assert r.status_code == 400 and "order_ids.1" in r.data["error"]["fields"], r.data


HOSTILE: dict[str, bytes] = {
    "arrays nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "objects nested 40,000 deep": b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
    "nesting inside a field": b'{"first_name": ' + b"[" * 60_000 + b"]" * 60_000 + b"}",
    "a 250 KB string": b'{"first_name": "' + b"a" * 250_000 + b'"}',
    "a 250 KB number": b'{"first_name": ' + b"9" * 250_000 + b"}",
    "an exponent of a million digits' size": b'{"first_name": 1e999999999}',
    "NaN and Infinity literals": b'{"first_name": NaN, "last_name": Infinity}',
    "60,000 keys": b"{" + b",".join(b'"k%d":1' % n for n in range(60_000))[:250_000].rsplit(b",", 1)[0] + b"}",
    "an array of 100,000 items": b'{"first_name": [' + b",".join([b"1"] * 100_000) + b"]}",
    "a lone surrogate escape": b'{"first_name": "\\ud800", "last_name": "B", "email": "a@example.com", "country": "GB"}',
    "invalid UTF-8": b'{"first_name": "\xff\xfe", "last_name": "B", "email": "a@example.com", "country": "GB"}',
    "duplicate keys": b'{"first_name": "A", "first_name": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "a truncated document": b'{"first_name": "A", "last_name": ',
    "trailing garbage": b'{"first_name": "A"} {"x": 1}',
    "a BOM then JSON": b'\xef\xbb\xbf{"first_name": "A"}',
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_json_is_a_quick_400(api, name):
    # GIVEN a hostile body under the size limit
    raw = HOSTILE[name]
    assert len(raw) <= get_settings().max_body_bytes, (name, len(raw))
    # WHEN it is posted THEN 400 with the error shape, quickly
    r, took = timed(api, "POST", "/clients", raw)
    assert r.status_code == 400, (name, r.status_code, r.data)
    assert r.data["error"]["code"] == "bad_request" and r.data["error"]["fields"], r.data
    assert took < QUICK_SECONDS, (name, took)


def test_odd_but_legal_text_round_trips_exactly(api):
    # GIVEN names with a NUL, an astral character and right-to-left text (legal JSON strings)
    for first in ("A\u0000B", "\U0001F600 Ada", "\u202eevil", "O'Brien \"quoted\" \\ back"):
        # WHEN a client is added THEN it is stored and read back exactly (no 5xx, no mangling)
        r = api.post("/clients", {"first_name": first, "last_name": "B", "email": "a@example.com", "country": "GB"})
        assert r.status_code == 201, (first, r.data)
        assert api.get(f"/clients/{r.data['id']}").data["first_name"] == first


def test_hostile_json_on_every_body_route_is_never_a_500(api):
    # GIVEN the deep and the wide documents WHEN sent to every body route THEN 4xx, never 5xx
    for method, path, role in body_routes():
        for name in ("arrays nested 100,000 deep", "60,000 keys", "a lone surrogate escape"):
            r, took = timed(api, method, concrete(path), HOSTILE[name], role)
            assert 400 <= r.status_code < 500, (method, path, name, r.status_code, r.data)
            assert took < QUICK_SECONDS, (method, path, name, took)


def test_a_long_query_string_is_a_400_not_a_500(api):
    for query in ("q=" + "a" * 5000, "cursor=" + "A" * 20_000, "status=" + "%00" * 100, "limit=" + "9" * 5000,
                  "placed_from=" + "2026-01-01" * 200, "min_total=1e999999", "limit=0x10"):
        r = api.get(f"/orders?{query}")
        assert r.status_code == 400, (query[:40], r.status_code, r.data)
    for query in ("q=%ud800", "q=%ff%fe", "q=%00", "q=" + "%F0%9F%98%80" * 20):
        r = api.get(f"/orders?{query}")  # odd, but a search like any other
        assert r.status_code in (200, 400), (query[:40], r.status_code, r.data)
