"""Fraud screening: every rule signal and threshold band on crafted orders, the stream consumer
fed by the DynamoDB Local stream through the template's filter, provider failures retried, the
MaxMind provider against a loopback minFraud server, and auto-fraud through the workflow."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
import threading
from base64 import b64decode
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from functions.fraud_screening import app as fraud_app
from infra.local.event_sources import DynamoDBStreamPoller, template_filter_patterns
from orderdesk.adapters import geoip
from orderdesk.adapters.fraud import ScreeningInput
from orderdesk.adapters.fraud import maxmind as maxmind_adapter
from orderdesk.adapters.fraud.rules import WEIGHTS, RulesProvider
from orderdesk.config import reset_settings
from orderdesk.domain.statuses import ActionStatus, OrderStatus
from orderdesk.services import fraud
from orderdesk.services.ports import stores

pytestmark = pytest.mark.timeout(120)

GB_IP, CN_IP, SE_IP = "81.2.69.160", "175.16.199.1", "89.160.20.112"


@pytest.fixture(scope="session")
def geoip_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small MaxMind DB made here, in GeoLite2-Country's record shape (no GeoLite2 database is
    shipped by a package we may use; GEOIP_DATABASE takes the real one's path in production)."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country",
                        languages=["en"], description={"en": "OrderDesk test countries"})
    for net, code in [("81.2.69.0/24", "GB"), ("175.16.199.0/24", "CN"), ("89.160.20.0/24", "SE")]:
        writer.insert_network(IPSet([net]), {"country": {"iso_code": code}})
    path = tmp_path_factory.mktemp("geoip") / "countries.mmdb"
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture()
def rules_env(geoip_file: str, keypair: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings of the rules (no table needed: the provider only scores what it is given)."""
    monkeypatch.setenv("GEOIP_DATABASE", geoip_file)
    monkeypatch.setenv("FRAUD_PROVIDER", "rules")
    monkeypatch.setenv("FRAUD_EMAIL_BLOCKLIST", "bad.example,mallory@example.net")
    monkeypatch.setenv("FRAUD_COUNTRY_BLOCKLIST", "KP,CN")
    reset_settings()
    yield
    geoip.close()
    reset_settings()


@pytest.fixture()
def screening(table: str, rules_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    reset_settings()
    yield


def facts(**kw: Any) -> ScreeningInput:
    base: dict[str, Any] = dict(order_id="o1", client_id="c1", email="ada@example.com", client_country="GB",
                                ip_address=GB_IP, total=Decimal("10.00"), currency="USD",
                                placed_at="2026-01-01T00:00:00Z", orders_from_ip_24h=0, orders_of_client_24h=0,
                                first_order=False)
    base.update(kw)
    return ScreeningInput(**base)


# -- each signal of the rules, alone ---------------------------------------------------------------


@pytest.mark.parametrize("signal,changes,value", [
    ("disposable_email", {"email": "x@mailinator.com"}, {"domain": "mailinator.com"}),
    ("free_email", {"email": "ada@gmail.com"}, {"domain": "gmail.com"}),
    ("ip_country_mismatch", {"ip_address": SE_IP},
     {"ip_address": SE_IP, "ip_country": "SE", "client_country": "GB"}),
    ("orders_per_ip_24h", {"orders_from_ip_24h": 3}, {"count": 4, "limit": 3}),
    ("orders_per_client_24h", {"orders_of_client_24h": 3}, {"count": 4, "limit": 3}),
    ("new_client_high_value", {"first_order": True, "total": Decimal("500.01")},
     {"first_order": True, "total": "500.01", "limit": "500.00"}),
    ("email_blocklisted", {"email": "eve@bad.example"}, {"email": "eve@bad.example", "matched": "bad.example"}),
    ("country_blocklisted", {"client_country": "KP", "ip_address": None},
     {"client_country": "KP", "ip_country": None, "matched": ["KP"]}),
])
def test_each_rule_fires_alone_with_its_value(rules_env, signal, changes, value):  # noqa: ARG001
    # GIVEN an order that is clean but for one thing
    # WHEN the rules assess it
    result = RulesProvider().assess(facts(**changes))
    # THEN exactly that signal fires, with what it looked at, and the score is its weight
    fired = [s for s in result.signals if s.triggered]
    assert [s.name for s in fired] == [signal]
    assert fired[0].value == value
    assert result.score == WEIGHTS[signal]
    assert {s.name for s in result.signals} == set(WEIGHTS)  # every signal is reported


def test_a_clean_order_fires_nothing_and_limits_are_not_exceeded_at_the_limit(rules_env):  # noqa: ARG001
    result = RulesProvider().assess(facts(orders_from_ip_24h=2, orders_of_client_24h=2, first_order=True,
                                          total=Decimal("500.00")))
    assert result.score == 0 and not any(s.triggered for s in result.signals)


def test_score_is_capped_at_100(rules_env):  # noqa: ARG001
    result = RulesProvider().assess(facts(email="mallory@example.net", ip_address=CN_IP, orders_from_ip_24h=9))
    assert result.score == 100


@pytest.mark.parametrize("score,decision", [(0, "accept"), (24, "accept"), (25, "review"), (74, "review"),
                                            (75, "reject"), (100, "reject")])
def test_threshold_bands(rules_env, score, decision):  # noqa: ARG001
    assert fraud.decide(score) == decision


def test_thresholds_are_configuration(rules_env, monkeypatch):  # noqa: ARG001
    monkeypatch.setenv("FRAUD_REJECT_THRESHOLD", "40")
    monkeypatch.setenv("FRAUD_REVIEW_THRESHOLD", "5")
    reset_settings()
    assert (fraud.decide(4), fraud.decide(5), fraud.decide(40)) == ("accept", "review", "reject")


def test_no_geoip_database_means_no_country_signal(rules_env, monkeypatch):  # noqa: ARG001
    monkeypatch.delenv("GEOIP_DATABASE")
    reset_settings()
    result = RulesProvider().assess(facts(ip_address=SE_IP))
    mismatch = next(s for s in result.signals if s.name == "ip_country_mismatch")
    assert not mismatch.triggered and mismatch.value["ip_country"] is None


# -- the service and the stream --------------------------------------------------------------------


def _client(api, email: str, country: str = "GB") -> str:  # type: ignore[no-untyped-def]
    first, _, domain = email.partition("@")
    r = api.post("/clients", {"first_name": first.title(), "last_name": "Tester", "email": email,
                              "country": country})
    assert r.status_code == 201, r.data
    return str(r.data["id"])


def _order(api, client_id: str, ip: str | None, amount: str = "10.00", skip: bool = False) -> str:  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"client_id": client_id, "payment_method": "stripe", "skip_fraud_check": skip,
                            "items": [{"kind": "product", "description": "Hosting", "amount": amount}]}
    if ip:
        body["ip_address"] = ip
    r = api.post("/orders", body, role="support")
    assert r.status_code == 201, r.data
    return str(r.data["id"])


def _poller(table: str, **kw: Any) -> DynamoDBStreamPoller:
    return DynamoDBStreamPoller(table, kw.pop("handler", fraud_app.handler),
                                template_filter_patterns("FraudScreeningFunction"), batch_size=25,
                                retry_delay=0, **kw)


def test_stream_screens_new_orders_once_and_only_orders(api, table, screening):  # noqa: ARG001
    # GIVEN a clean order, a free-mail order from another country's IP, a 600.00 first order,
    # and an order placed with skip_fraud_check; and the stream as the template filters it
    poller = _poller(table)
    clean = _order(api, _client(api, "ada@example.com"), GB_IP)
    review = _order(api, _client(api, "bob@gmail.com"), SE_IP)  # free 10 + mismatch 25 = 35
    big = _order(api, _client(api, "cy@example.org"), GB_IP, amount="600.00")  # new client high value 30
    skipped = _order(api, _client(api, "dee@mailinator.com"), SE_IP, skip=True)
    # WHEN the stream is read (client records, items, invoices and history go by too)
    calls: list[int] = []

    def counting(event, context):  # type: ignore[no-untyped-def]
        calls.append(len(event["Records"]))
        return fraud_app.handler(event, context)

    poller.handler = counting
    poller.run_once()
    # THEN only the order inserts reached the function (the skipped one filtered out by the template)
    assert sum(calls) == 3
    repo = stores()
    got = {oid: repo.orders.get_order(oid) for oid in (clean, review, big, skipped)}
    assert got[clean].fraud_check.decision == "accept" and got[clean].fraud_check.score == 0
    assert not got[clean].flagged_for_review
    assert (got[review].fraud_check.decision, got[review].fraud_check.score) == ("review", 35)
    assert got[review].flagged_for_review and got[review].status is OrderStatus.PENDING
    fired = {s.name: s.value for s in got[review].fraud_check.signals if s.triggered}
    assert fired == {"free_email": {"domain": "gmail.com"},
                     "ip_country_mismatch": {"ip_address": SE_IP, "ip_country": "SE", "client_country": "GB"}}
    assert (got[big].fraud_check.decision, got[big].fraud_check.score) == ("review", 30)
    assert got[skipped].fraud_check is None
    assert [h.action for h in got[review].history].count("fraud check") == 1
    # AND the result is in the API, every signal with its value
    body = api.get(f"/orders/{review}", role="viewer").data
    assert body["fraud_check"]["provider"] == "rules" and len(body["fraud_check"]["signals"]) == len(WEIGHTS)
    # AND reading the stream again screens nothing twice
    poller.run_once()
    assert sum(calls) == 3
    assert [h.action for h in repo.orders.get_order(review).history].count("fraud check") == 1


def test_velocity_is_counted_from_the_store(api, table, screening):  # noqa: ARG001
    # GIVEN three orders from one IP by three clients, and three orders of one client (no IP)
    for n in range(3):
        _order(api, _client(api, f"ip{n}@example.com"), GB_IP)
    repeat = _client(api, "rita@example.com")
    for _ in range(3):
        _order(api, repeat, None)
    # WHEN a fourth order of each kind is screened
    fourth_ip = _order(api, _client(api, "ip3@example.com"), GB_IP)
    fourth_client = _order(api, repeat, None)
    a = fraud.recheck_order(fourth_ip, "support@example.com")
    b = fraud.recheck_order(fourth_client, "support@example.com")
    # THEN each velocity rule fires on its own count
    assert {s.name: s.value for s in a.signals if s.triggered} == {"orders_per_ip_24h": {"count": 4, "limit": 3}}
    assert {s.name: s.value for s in b.signals if s.triggered} == {
        "orders_per_client_24h": {"count": 4, "limit": 3}}
    assert (a.decision, b.decision) == ("review", "accept")


def test_only_a_new_clients_big_order_is_a_new_client_high_value(api, table, screening):  # noqa: ARG001
    # GIVEN a client with two earlier orders and one without any
    returning = _client(api, "old@example.com")
    for _ in range(2):
        _order(api, returning, None)
    # WHEN each places a 600.00 order and it is screened
    again = fraud.recheck_order(_order(api, returning, None, amount="600.00"), "support@example.com")
    first = fraud.recheck_order(_order(api, _client(api, "new@example.com"), None, amount="600.00"),
                                "support@example.com")
    # THEN the rule fires for the new client's only
    def fired(check):  # type: ignore[no-untyped-def]
        return {s.name: s.value for s in check.signals}["new_client_high_value"]

    assert fired(again)["first_order"] is False and fired(first)["first_order"] is True
    assert {s.name for s in first.signals if s.triggered} == {"new_client_high_value"}
    assert not [s.name for s in again.signals if s.triggered]


def test_provider_failure_leaves_pending_with_error_and_the_stream_retries(api, table, screening, monkeypatch):  # noqa: ARG001
    # GIVEN a provider that is down, then comes back
    order_id = _order(api, _client(api, "ann@example.com"), GB_IP)
    down = {"on": True}
    real = RulesProvider.assess

    def flaky(self, facts):  # type: ignore[no-untyped-def]
        if down["on"]:
            raise fraud.FraudProviderError("provider timed out")
        return real(self, facts)

    monkeypatch.setattr(RulesProvider, "assess", flaky)
    failures: list[tuple[int, str]] = []
    poller = _poller(table, max_retries=2, on_failure=lambda batch, err: failures.append((len(batch), err)))
    # WHEN the stream delivers the order while the provider is down
    poller.run_once()
    # THEN the order stays Pending with the error recorded, and the batch was retried then given up
    order = stores().orders.get_order(order_id)
    assert order.status is OrderStatus.PENDING
    assert (order.fraud_check.decision, order.fraud_check.error) == ("error", "provider timed out")
    assert len(failures) == 1 and failures[0][0] == 1
    assert [h.action for h in order.history].count("fraud check") == 3  # first try and two retries
    # AND a later delivery, with the provider back, screens it
    down["on"] = False
    fraud_app.handler({"Records": poller.failed_batches[0]}, _ctx())
    assert stores().orders.get_order(order_id).fraud_check.decision == "accept"


def test_recheck_route_runs_again_and_needs_support(api, table, screening):  # noqa: ARG001
    order_id = _order(api, _client(api, "ed@mailinator.com"), GB_IP)
    assert api.post(f"/orders/{order_id}/fraud-check", role="viewer").status_code == 403
    r = api.post(f"/orders/{order_id}/fraud-check", role="support")
    assert r.status_code == 200, r.data
    assert (r.data["decision"], r.data["score"], r.data["provider"]) == ("review", 40, "rules")
    assert {s["name"] for s in r.data["signals"] if s["triggered"]} == {"disposable_email"}
    assert api.post("/orders/nosuchorder/fraud-check", role="support").status_code == 404


def test_reject_starts_set_as_fraud_as_fraud_screening(api, table, screening, monkeypatch):  # noqa: ARG001
    # GIVEN an order from a blocklisted email domain, and the single-order actions recording starts
    from orderdesk.services import actions

    started: list[tuple[str, str, str]] = []
    monkeypatch.setattr(actions, "start_action",
                        lambda order_id, action_type, params, actor: started.append((order_id, action_type, actor)))
    order_id = _order(api, _client(api, "eve@bad.example"), GB_IP)
    # WHEN the stream screens it
    _poller(table).run_once()
    # THEN it is rejected, and Set as Fraud is started once by fraud-screening
    check = stores().orders.get_order(order_id).fraud_check
    assert (check.decision, check.score) == ("reject", 100)
    assert started == [(order_id, "fraud", "fraud-screening")]


def _ctx():  # type: ignore[no-untyped-def]
    from infra.local.event_sources import _context

    return _context("fraud-screening", "us-east-1", 30)


# -- MaxMind minFraud against a loopback server ----------------------------------------------------


class MinFraudStub(BaseHTTPRequestHandler):
    """Answers POST /minfraud/v2.0/score as minFraud does (HTTP basic auth: account id, licence key)."""

    requests: list[dict[str, Any]] = []
    risk = 82.5
    status = 200

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        auth = b64decode(self.headers.get("Authorization", "Basic ").split(" ", 1)[1] or b"").decode()
        MinFraudStub.requests.append({"path": self.path, "auth": auth, "body": body})
        if self.path != "/minfraud/v2.0/score" or auth != "42:test-licence":
            return self._send(401, {"code": "AUTHORIZATION_INVALID", "error": "bad account id or licence key"})
        if MinFraudStub.status != 200:
            return self._send(MinFraudStub.status, {"code": "SERVER_ERROR", "error": "stub failure"})
        return self._send(200, {"id": "5bc5d6c2-b2c8-40af-87f4-6d61af86b6ae", "risk_score": MinFraudStub.risk,
                                "funds_remaining": 10.5, "queries_remaining": 1000, "ip_address": {"risk": 12.5},
                                "warnings": [{"code": "BILLING_POSTAL_NOT_FOUND", "warning": "test warning"}]})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.maxmind.com-minfraud-score+json; charset=UTF-8; version=2.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _self_signed(tmp: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture()
def minfraud_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """minFraud's client speaks HTTPS only: a loopback HTTPS server with a certificate made here,
    trusted through requests' REQUESTS_CA_BUNDLE."""
    cert, key = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), MinFraudStub)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    MinFraudStub.requests, MinFraudStub.risk, MinFraudStub.status = [], 82.5, 200
    host = f"127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    monkeypatch.setenv("FRAUD_PROVIDER", "maxmind")
    monkeypatch.setenv("MAXMIND_ACCOUNT_ID", "42")
    monkeypatch.setenv("MAXMIND_LICENSE_KEY", "test-licence")
    monkeypatch.setenv("MAXMIND_HOST", host)
    monkeypatch.setenv("MAXMIND_TIMEOUT_SECONDS", "5")
    reset_settings()
    yield host
    server.shutdown()
    server.server_close()
    reset_settings()


def test_maxmind_scores_through_minfraud(api, table, screening, minfraud_server, monkeypatch):  # noqa: ARG001
    # GIVEN minFraud answering a risk score of 30.4 for an order
    MinFraudStub.risk = 30.4
    order_id = _order(api, _client(api, "fay@example.com"), GB_IP, amount="49.90")
    # WHEN the order is screened with the maxmind provider
    check = fraud.recheck_order(order_id, "support@example.com")
    # THEN the score is minFraud's, every value it gave is kept, and the request carried the order
    assert (check.provider, check.score, check.decision) == ("maxmind", 30, "review")
    values = {s.name: s.value for s in check.signals}
    assert values["minfraud_risk_score"] == 30.4 and values["minfraud_ip_risk"] == 12.5
    assert values["minfraud_warning"] == {"code": "BILLING_POSTAL_NOT_FOUND", "warning": "test warning"}
    sent = MinFraudStub.requests[-1]
    assert sent["auth"] == "42:test-licence"
    assert sent["body"]["device"] == {"ip_address": GB_IP}
    assert sent["body"]["order"] == {"amount": 49.9, "currency": "USD"}
    assert sent["body"]["billing"] == {"country": "GB"}
    assert sent["body"]["event"]["transaction_id"] == order_id
    assert "address" in sent["body"]["email"] and "fay@" not in json.dumps(sent["body"])  # hashed
    assert stores().orders.get_order(order_id).flagged_for_review


def test_maxmind_failure_is_recorded_and_raised_for_the_stream(api, table, screening, minfraud_server):  # noqa: ARG001
    # GIVEN minFraud failing with a server error
    MinFraudStub.status = 503
    order_id = _order(api, _client(api, "gus@example.com"), GB_IP)
    # WHEN the stream consumer screens the order
    event = {"Records": [{"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                          "dynamodb": {"SequenceNumber": "100", "NewImage": {
                              "kind": {"S": "order"}, "id": {"S": order_id}, "skip_fraud_check": {"BOOL": False}}}}]}
    with pytest.raises(Exception, match="All records failed"):
        fraud_app.handler(event, _ctx())
    # THEN the order stays Pending with the provider's error kept
    order = stores().orders.get_order(order_id)
    assert order.status is OrderStatus.PENDING
    assert order.fraud_check.decision == "error" and "minFraud" in order.fraud_check.error


def test_maxmind_bad_licence_is_an_error_not_a_score(api, table, screening, minfraud_server, monkeypatch):  # noqa: ARG001
    monkeypatch.setenv("MAXMIND_LICENSE_KEY", "wrong")
    reset_settings()
    maxmind_adapter._client = None
    order_id = _order(api, _client(api, "hal@example.com"), GB_IP)
    check = fraud.recheck_order(order_id, "support@example.com")
    assert check.decision == "error" and check.score == 0


def test_auto_fraud_runs_the_set_as_fraud_workflow(api, table, screening, workflows):  # noqa: ARG001
    from tests.integration.events_support import wait_for_action

    # GIVEN a new order whose score reaches the reject threshold (blocklisted email domain)
    order_id = _order(api, _client(api, "eve@bad.example"), GB_IP)
    # WHEN the stream screens it
    _poller(table).run_once()
    # THEN the Set as Fraud workflow (the manual action's own) ran, started by fraud-screening
    order = stores().orders.get_order(order_id)
    action = next(a for a in order.actions if a.type == "fraud")
    assert action.actor == "fraud-screening"
    assert wait_for_action(order_id, action.id).status is ActionStatus.SUCCEEDED
    order = stores().orders.get_order(order_id)
    assert order.status is OrderStatus.FRAUD
    assert {i.status.value for i in order.items} == {"Fraud"}
    assert order.invoice.status.value == "Cancelled"
    assert order.fraud_check.decision == "reject" and order.pending_action is None
    assert any(h.actor == "fraud-screening" and h.action == "fraud check" for h in order.history)


def test_an_order_gone_before_screening_is_no_error(table, screening):  # noqa: ARG001
    event = {"Records": [{"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                          "dynamodb": {"SequenceNumber": "7", "NewImage": {
                              "kind": {"S": "order"}, "id": {"S": "deletedorder"}, "skip_fraud_check": {"BOOL": False}}}}]}
    assert fraud_app.handler(event, _ctx()) == {"batchItemFailures": []}


def test_supports_recheck_stores_and_flags_but_never_sets_as_fraud(api, table, screening, workflows):  # noqa: ARG001
    # GIVEN a Pending order that scores at the reject threshold (a blocklisted email domain)
    order_id = _order(api, _client(api, "eve@bad.example"), GB_IP, skip=True)
    # WHEN support runs the screening again
    r = api.post(f"/orders/{order_id}/fraud-check", role="support")
    # THEN the reject result is stored and the order flagged, and it stays Pending with no action:
    # setting an order as Fraud is billing's (or the new order's automatic screening's)
    assert r.status_code == 200 and r.data["decision"] == "reject", r.data
    order = stores().orders.get_order(order_id)
    assert order.status is OrderStatus.PENDING and order.pending_action is None and order.actions == []
    assert order.flagged_for_review and order.fraud_check.decision == "reject"


def test_a_recheck_of_an_old_order_counts_what_was_known_when_it_was_placed(api, table, screening):  # noqa: ARG001
    import time_machine

    from orderdesk.domain.model import utcnow

    # GIVEN an order placed from an IP an hour ago, then three more from that IP since
    with time_machine.travel(utcnow() - dt.timedelta(hours=1), tick=True):
        old = _order(api, _client(api, "first@example.com"), GB_IP)
    later = [_order(api, _client(api, f"later{n}@example.com"), GB_IP) for n in range(3)]
    # WHEN the old order is screened again, and the newest
    again = fraud.recheck_order(old, "support@example.com")
    newest = fraud.recheck_order(later[-1], "support@example.com")
    # THEN the old one counts only the orders up to its own placing (none but itself), while the
    # newest counts all four: a re-check scores what was known when the order was placed
    assert {s.name: s.value for s in again.signals}["orders_per_ip_24h"] == {"count": 1, "limit": 3}
    assert {s.name: s.value for s in newest.signals}["orders_per_ip_24h"] == {"count": 4, "limit": 3}
