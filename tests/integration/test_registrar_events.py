"""Registrar events (SPEC §7): a registrar tells OrderDesk how a domain it was given ended, by a
signed `POST /registrar/events` (no token), and the `sync_domains` schedule asks it about the
domains still waiting, and notices a domain waiting past DOMAIN_WAIT_HOURS (time is the one input
of the attention list no write carries). Real workflows in moto (Accept, item commands), DynamoDB
Local, a loopback registrar that checks every signature, the clock moved by time-machine."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from orderdesk.adapters.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, event_headers
from orderdesk.adapters.store import keys
from orderdesk.adapters.store import records as m
from orderdesk.config import reset_settings
from orderdesk.domain.errors import CleanupIncomplete
from orderdesk.domain.model import utcnow
from orderdesk.services import cleanup
from orderdesk.services.ports import stores
from tests.integration.events_support import lock
from tests.integration.test_workflows import new_order, order_of, run
from tests.integration.workflow_support import WEBHOOK_SECRET, RemoteStub, wait_for_action

pytestmark = pytest.mark.timeout(120)

SECRET = WEBHOOK_SECRET  # the registrar webhook secret: the stub checks OrderDesk's requests with it, and
#                          OrderDesk checks the registrar's events with it
PATH = "/registrar/events"


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture()
def registrar(remote: Any, monkeypatch: pytest.MonkeyPatch) -> RemoteStub:
    """The `webhook` registrar: answers a register or transfer "pending", a status query with
    `registrar.answers[domain]` (pending unless set); every request's signature checked."""
    answers: dict[str, Any] = {}

    def respond(request: Any) -> tuple[int, Any]:
        data = request.json
        if data["command"] == "status":
            answer = answers.get(data["domain"], {"status": "pending"})
            return answer if isinstance(answer, tuple) else (200, answer)
        return 200, {"status": "pending", "reference": f"R-{data['domain']}"}

    stub = remote(respond)
    stub.answers = answers  # type: ignore[attr-defined]
    monkeypatch.setenv("REGISTRAR_WEBHOOK_URL", stub.url)
    monkeypatch.setenv("REGISTRAR_WEBHOOK_SECRET", SECRET)
    reset_settings()
    return stub  # type: ignore[no-any-return]


def send(client: Any, body: Any, *, secret: str = SECRET, now: float | None = None,
         headers: dict[str, str] | None = None, raw: bytes | None = None) -> Any:
    """POST an event as a registrar does: no token, signed over `<timestamp>.<body>`."""
    data = raw if raw is not None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json",
            **(headers if headers is not None else event_headers(secret, data, now=now))}
    r = client.http.request("POST", PATH, headers=sent, body=data)
    r.data = json.loads(r.body) if r.body else None
    return r


def event(event_id: str, domain: str, status: str, detail: str | None = None) -> dict[str, Any]:
    return {"event_id": event_id, "domain": domain, "status": status, "detail": detail}


def waiting_order(api: Any, domain: str, registration_type: str = "register") -> dict[str, Any]:
    """An order accepted with its domain sent to the `webhook` registrar, which said "pending"."""
    order = new_order(api, [
        {"kind": "domain", "description": "Domain", "amount": "12.00", "domain": domain, "registrar": "webhook",
         "registration_type": registration_type},
        {"kind": "addon", "description": "DNS", "amount": "1.00"}])
    assert run(api, order["id"], "accept", {}, role="support")["status"] == "SUCCEEDED"
    got = order_of(api, order["id"])
    assert got["items"][0]["status"] == "Pending " + ("Transfer" if registration_type == "transfer" else "Registration")
    assert got["items"][0]["registration"]["state"] == "pending"
    return got


def domain_item(order: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in order["items"] if i["domain"])


def codes(order: dict[str, Any]) -> list[str]:
    return [a["code"] for a in order["attention"]]


def attention_ids(api: Any) -> list[str]:
    return [o["id"] for o in api.get("/orders?attention=true").data["orders"]]


def waiting_ids() -> list[tuple[str, str]]:
    return list(stores().domains.waiting())


def sync() -> cleanup.RuleReport:
    return cleanup.run("sync_domains")


# -- events ----------------------------------------------------------------------------------------


def test_a_signed_active_event_makes_a_domain_that_waited_too_long_active_and_its_attention_goes(
        api, client, workflows, registrar, order_stream):
    # GIVEN a domain sent to the registrar, which answered "pending", and 25 hours later still waiting
    order = waiting_order(api, "ada-lovelace.example")
    item = domain_item(order)
    assert waiting_ids() == [(order["id"], item["id"])]
    with time_machine.travel(utcnow() + timedelta(hours=25)):
        sync()
        assert codes(order_of(api, order["id"])) == ["domain_waiting"]
        order_stream.settle()
        assert {s["status"]: s["count"] for s in api.get("/order-statuses").data}["Attention"] == 1
        # WHEN the registrar signs and sends that the domain is active
        r = send(client, event("evt-1", "ada-lovelace.example", "active", "registered until 2027"))
        # THEN 204; the item is Active, its registration too; nothing needs attention any more
        assert r.status_code == 204, r.data
        got = order_of(api, order["id"])
        done = domain_item(got)
        assert done["status"] == "Active" and done["last_error"] is None
        assert (done["registration"]["state"], done["registration"]["detail"]) == ("active", "registered until 2027")
        assert done["registration"]["reference"] == "R-ada-lovelace.example"
        assert got["attention"] == [] and attention_ids(api) == []
        order_stream.settle()
        assert {s["status"]: s["count"] for s in api.get("/order-statuses").data}["Attention"] == 0
    # AND the registrar is named in the history, the domain is no longer waiting, the event is kept
    (entry,) = [h for h in got["history"] if h["action"] == "domain registration done"]
    assert entry["actor"] == "registrar" and (entry["from"], entry["to"]) == ("Pending Registration", "Active")
    assert "evt-1" in entry["detail"]
    assert waiting_ids() == [] and stores().domains.event_seen("evt-1")


def test_a_failed_event_shows_the_failure_and_a_later_active_event_fixes_it(api, client, workflows, registrar):
    # GIVEN a transfer waiting at the registrar
    order = waiting_order(api, "grace-hopper.example", registration_type="transfer")
    item = domain_item(order)
    # WHEN the registrar says it failed
    r = send(client, event("evt-f", "grace-hopper.example", "failed", "the losing registrar refused: bad auth code"))
    # THEN the item still waits (the order says what is real: no transfer), its registration
    # failed with the detail, and the failure needs attention
    assert r.status_code == 204, r.data
    got = order_of(api, order["id"])
    failed = domain_item(got)
    assert failed["status"] == "Pending Transfer"
    assert (failed["registration"]["state"], failed["registration"]["detail"]) == (
        "failed", "the losing registrar refused: bad auth code")
    assert failed["last_error"] == "registrar: the losing registrar refused: bad auth code"
    assert [(a["code"], a["item_id"]) for a in got["attention"]] == [("failed_item", item["id"])]
    assert attention_ids(api) == [order["id"]]
    assert waiting_ids() == []  # failed is not waiting: the sync does not ask about it
    # WHEN a later event says the transfer went through after all
    r = send(client, event("evt-a", "grace-hopper.example", "active"))
    # THEN the item is Active, its error cleared, nothing needs attention
    assert r.status_code == 204, r.data
    got = order_of(api, order["id"])
    assert domain_item(got)["status"] == "Active" and domain_item(got)["last_error"] is None
    assert domain_item(got)["registration"]["state"] == "active"
    assert got["attention"] == [] and attention_ids(api) == []
    assert [h["action"] for h in got["history"] if h["actor"] == "registrar"] == [
        "domain transfer failed", "domain transfer done"]


def table_of_events() -> list[str]:
    return sorted(rec.pk for rec in m.RegistrarEventRecord.scan()
                  if rec.pk.startswith(keys.registrar_event_pk("")))


def test_unsigned_forged_stale_and_malformed_events_are_refused_and_change_nothing(api, client, workflows,
                                                                                  registrar):
    # GIVEN a domain waiting at the registrar
    order = waiting_order(api, "turing.example")
    before = order_of(api, order["id"])
    body = event("evt-x", "turing.example", "active")
    raw = json.dumps(body).encode()
    now = time.time()
    good = event_headers(SECRET, raw)
    cases: dict[str, Any] = {
        "unsigned": {"headers": {}},
        "no timestamp": {"headers": {SIGNATURE_HEADER: good[SIGNATURE_HEADER]}},
        "signed with another secret": {"secret": "not-the-registrar-secret"},
        "a signature of another body": {"headers": event_headers(SECRET, raw.replace(b"active", b"failed"))},
        "a body changed after signing": {"headers": good, "raw": raw.replace(b"turing", b"turink")},
        "stale: signed 6 minutes ago": {"now": now - 360},
        "from the future: 6 minutes ahead": {"now": now + 360},
        "a timestamp that is not Unix seconds": {"headers": {**good, TIMESTAMP_HEADER: "2026-01-01T00:00:00Z"}},
        "a bare hex signature": {"headers": {**good, SIGNATURE_HEADER: good[SIGNATURE_HEADER].removeprefix(
            "sha256=")}},
    }
    for name, how in cases.items():
        # WHEN each is sent
        r = send(client, body, **how)
        # THEN 401 saying why (never which secret), and nothing changed or recorded
        assert r.status_code == 401, (name, r.status_code, r.data)
        assert r.data["error"]["code"] == "unauthorized", (name, r.data)
        assert SECRET not in json.dumps(r.data)
    assert order_of(api, order["id"]) == before and table_of_events() == []
    # AND a signed body that is not an event is a 400 naming the field, nothing done either
    for bad, field in ((dict(body, status="done"), "status"), ({k: v for k, v in body.items() if k != "event_id"},
                       "event_id"), (dict(body, domain="not a domain"), "domain"), (dict(body, extra=1), "extra")):
        r = send(client, bad)
        assert r.status_code == 400 and field in r.data["error"]["fields"], (field, r.data)
    r = send(client, None, raw=b'{"event_id": "evt-x", "domain": ')
    assert r.status_code == 400 and r.data["error"]["fields"] == {"body": "is not valid JSON (or nests too deeply)"}
    assert order_of(api, order["id"]) == before and table_of_events() == []
    # AND the same event signed right is taken
    assert send(client, body).status_code == 204
    assert domain_item(order_of(api, order["id"]))["status"] == "Active"


def test_a_replayed_event_id_is_refused_and_changes_nothing(api, client, workflows, registrar):
    # GIVEN a registration that failed by an event, then was sent again by the register command
    order = waiting_order(api, "lamarr.example")
    item = domain_item(order)
    failed = event("evt-1", "lamarr.example", "failed", "the registry was down")
    captured = json.dumps(failed).encode()
    captured_headers = event_headers(SECRET, captured)
    assert send(client, failed, headers=captured_headers, raw=captured).status_code == 204
    r = api.post(f"/orders/{order['id']}/item-commands", {"command": "register", "item_ids": [item["id"]]},
                 role="support")
    assert wait_for_action(api, order["id"], r.data["action"]["id"])["status"] == "SUCCEEDED"
    before = order_of(api, order["id"])
    assert domain_item(before)["registration"]["state"] == "pending" and before["attention"] == []
    # WHEN the failure is sent again: the captured request as it was, and the same id signed anew
    again = send(client, failed, headers=captured_headers, raw=captured)
    resigned = send(client, failed)
    # THEN each is a 409 duplicate_event, and the new registration is still waiting
    for r in (again, resigned):
        assert r.status_code == 409 and r.data["error"]["code"] == "duplicate_event", r.data
    assert order_of(api, order["id"]) == before
    assert waiting_ids() == [(order["id"], item["id"])]


def test_an_event_for_an_unknown_domain_is_404_and_one_not_waiting_changes_nothing(api, client, workflows,
                                                                                   registrar):
    # GIVEN no order with nowhere.example, and an order whose domain was registered by hand (Active)
    manual = new_order(api, [{"kind": "domain", "description": "Domain", "amount": "12.00",
                              "domain": "by-hand.example", "registrar": "none"}])
    assert run(api, manual["id"], "accept", {}, role="support")["status"] == "SUCCEEDED"
    before = order_of(api, manual["id"])
    # WHEN a registrar sends an event for each
    unknown = send(client, event("evt-u", "nowhere.example", "active"))
    known = send(client, event("evt-k", "by-hand.example", "failed", "not ours"))
    # THEN the unknown domain is a 404 naming it, and nothing is recorded (it may be sent again)
    assert unknown.status_code == 404 and "nowhere.example" in unknown.data["error"]["message"], unknown.data
    assert not stores().domains.event_seen("evt-u")
    # AND an event for a domain no item waits for is taken (204) and changes nothing
    assert known.status_code == 204, known.data
    assert order_of(api, manual["id"]) == before


def test_a_domain_ordered_again_after_a_cancel_the_event_applies_to_the_item_still_waiting(
        api, client, workflows, registrar):
    # GIVEN a domain accepted then cancelled while pending (its item Cancelled), then ordered again
    first = waiting_order(api, "babbage.example")
    assert run(api, first["id"], "cancel", {"refund": False})["status"] == "SUCCEEDED"
    assert domain_item(order_of(api, first["id"]))["status"] == "Cancelled"
    second = waiting_order(api, "babbage.example")
    # WHEN the registrar says the domain is active
    assert send(client, event("evt-b", "babbage.example", "active")).status_code == 204
    # THEN the new order's item is Active; the cancelled order's item stays Cancelled (its
    # registration recorded as the registrar says), and neither needs attention
    new, old = order_of(api, second["id"]), order_of(api, first["id"])
    assert domain_item(new)["status"] == "Active" and new["attention"] == []
    assert domain_item(old)["status"] == "Cancelled" and old["status"] == "Cancelled" and old["attention"] == []
    assert domain_item(old)["registration"]["state"] == "active"
    assert waiting_ids() == []


def test_an_event_while_an_action_holds_the_order_is_503_and_taken_when_sent_again(api, client, workflows,
                                                                                  registrar):
    # GIVEN a waiting domain whose order an action holds
    order = waiting_order(api, "hamilton.example")
    repo = stores()
    action = lock(repo, repo.orders.get_order(order["id"]), "item_command")
    body = event("evt-h", "hamilton.example", "active")
    # WHEN the registrar sends its event
    r = send(client, body)
    # THEN 503 with Retry-After (a registrar sends it again later), nothing recorded or changed
    assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.data
    assert "send the event again later" in r.data["error"]["message"]
    assert not repo.domains.event_seen("evt-h")
    assert domain_item(order_of(api, order["id"]))["status"] == "Pending Registration"
    # WHEN the action has ended and the event comes again
    from orderdesk.domain.changes import OrderChange

    repo.writes.apply(repo.orders.get_order(order["id"]), OrderChange(clear_lock=True), holder=action.id)
    assert send(client, body).status_code == 204
    assert domain_item(order_of(api, order["id"]))["status"] == "Active"


def test_an_order_deleted_takes_its_domain_lookup_and_waiting_entry_with_it(api, client, workflows, registrar):
    # GIVEN a waiting domain, its order then set as Fraud and deleted
    order = waiting_order(api, "noether.example")
    assert stores().domains.items_of("noether.example") == [(order["id"], domain_item(order)["id"])]
    assert run(api, order["id"], "fraud")["status"] == "SUCCEEDED"
    assert api.delete(f"/orders/{order['id']}").status_code == 204
    # THEN neither its lookup nor its waiting entry is left, and an event for it is a 404
    assert stores().domains.items_of("noether.example") == [] and waiting_ids() == []
    assert send(client, event("evt-n", "noether.example", "active")).status_code == 404


def test_the_openapi_document_shows_the_route_signed_without_a_token(client):
    doc = json.loads(client.http.get("/openapi.json").body)
    op = doc["paths"][PATH]["post"]
    assert op["security"] == [{"signature": []}] and "x-required-role" not in op
    assert {"204", "400", "401", "404", "409", "503"} <= set(op["responses"])
    assert doc["components"]["securitySchemes"]["signature"]["name"] == SIGNATURE_HEADER
    assert not any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))


# -- the sync_domains schedule ---------------------------------------------------------------------


def test_sync_domains_asks_the_registrar_and_applies_active_pending_and_failed(api, workflows, registrar):
    # GIVEN three domains waiting at the registrar, which now answers active, pending and failed
    orders = {name: waiting_order(api, f"{name}.example") for name in ("done", "slow", "refused")}
    registrar.answers.update({"done.example": {"status": "active", "reference": "R-9"},  # type: ignore[attr-defined]
                              "refused.example": {"status": "failed", "detail": "name reserved by the registry"}})
    sent_before = len(registrar.received)
    # WHEN the schedule runs
    report = sync()
    # THEN it asked about each, with signed status queries, each with its own Idempotency-Key
    queries = registrar.received[sent_before:]
    assert sorted(q.json["domain"] for q in queries) == ["done.example", "refused.example", "slow.example"]
    assert all(q.json["command"] == "status" and q.verified for q in queries)
    assert len({q.headers["idempotency-key"] for q in queries}) == 3
    assert queries[0].json["reference"] == f"R-{queries[0].json['domain']}"
    # AND applied the answers as events: active → Active; failed → the failure shown; pending → as it was
    got = {name: order_of(api, o["id"]) for name, o in orders.items()}
    assert domain_item(got["done"])["status"] == "Active" and got["done"]["attention"] == []
    assert domain_item(got["done"])["registration"]["reference"] == "R-9"
    assert domain_item(got["refused"])["registration"]["state"] == "failed"
    assert codes(got["refused"]) == ["failed_item"]
    assert "name reserved by the registry" in got["refused"]["attention"][0]["message"]
    assert domain_item(got["slow"])["status"] == "Pending Registration" and got["slow"]["attention"] == []
    assert got["slow"] == orders["slow"]  # not written at all
    assert (report.examined, sorted(report.changed), report.skipped, report.errors) == (
        3, sorted([orders["done"]["id"], orders["refused"]["id"]]), [orders["slow"]["id"]], {})
    assert waiting_ids() == [(orders["slow"]["id"], domain_item(orders["slow"])["id"])]
    assert [h["action"] for h in got["done"]["history"] if h["actor"] == "registrar"] == ["domain registration done"]


def test_domain_waiting_appears_after_domain_wait_hours_and_goes_when_the_domain_is_active(
        api, workflows, registrar, monkeypatch):
    # GIVEN a domain sent to the registrar now, and a wait of 24 hours allowed
    monkeypatch.setenv("DOMAIN_WAIT_HOURS", "24")
    reset_settings()
    order = waiting_order(api, "lovelace.example")
    start = utcnow()
    # WHEN the schedule runs 23 hours later THEN nothing needs attention, nothing is written
    with time_machine.travel(start + timedelta(hours=23)):
        assert sync().changed == []
        assert order_of(api, order["id"])["attention"] == [] and attention_ids(api) == []
    # WHEN it runs 25 hours later THEN the domain is waiting too long: attention, listed, in the history
    with time_machine.travel(start + timedelta(hours=25)):
        assert sync().changed == [order["id"]]
        got = order_of(api, order["id"])
        assert codes(got) == ["domain_waiting"] and "over 24 h" in got["attention"][0]["message"]
        assert attention_ids(api) == [order["id"]]
        assert [h["action"] for h in got["history"]].count("domain waiting too long") == 1
    # WHEN it runs again an hour later THEN nothing new is written
    with time_machine.travel(start + timedelta(hours=26)):
        assert sync().changed == [] and order_of(api, order["id"]) == got
    # WHEN the registrar has the domain active at the next run THEN it is Active and the attention goes
    registrar.answers["lovelace.example"] = {"status": "active"}  # type: ignore[attr-defined]
    with time_machine.travel(start + timedelta(hours=27)):
        assert sync().changed == [order["id"]]
        got = order_of(api, order["id"])
        assert domain_item(got)["status"] == "Active" and got["attention"] == [] and attention_ids(api) == []


def test_a_registrar_that_cannot_be_asked_fails_the_run_after_the_time_is_noticed(api, workflows, registrar):
    # GIVEN a waiting domain and a registrar that answers its status queries with 503
    order = waiting_order(api, "kare.example")
    registrar.answers["kare.example"] = (503, {"error": "maintenance"})  # type: ignore[attr-defined]
    # WHEN the scheduled run goes 25 hours later
    with time_machine.travel(utcnow() + timedelta(hours=25)):
        with pytest.raises(CleanupIncomplete, match="kare|RemoteUnavailable"):
            cleanup.run_rules(["sync_domains"])
        # THEN the wait was noticed anyway, and the domain still waits for the next run
        got = order_of(api, order["id"])
    assert codes(got) == ["domain_waiting"] and domain_item(got)["status"] == "Pending Registration"
    assert waiting_ids() == [(order["id"], domain_item(order)["id"])]
