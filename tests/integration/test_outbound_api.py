"""Server URLs and outbound calls through the API (issue 17): what POST /servers refuses (400
naming the field, nothing written), what GET /servers shows a viewer of a URL stored before
credentials were refused, what the errors of a workflow say about such a URL, and the webhook
stand-in refusing a replayed delivery. DynamoDB Local behind the API; the workflow test runs
the real Accept in moto against a closed port on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from orderdesk.adapters import crypto
from orderdesk.adapters.remote import post_signed
from orderdesk.config import reset_settings
from orderdesk.domain.model import Server, iso, new_id, utcnow
from orderdesk.services.ports import stores
from tests.integration.workflow_support import WEBHOOK_SECRET, free_port, wait_for_action

pytestmark = pytest.mark.timeout(120)


def servers(api: Any) -> list[dict[str, Any]]:
    r = api.get("/servers", role="viewer")
    assert r.status_code == 200, r.data
    return r.data["servers"]  # type: ignore[no-any-return]


def refused(api: Any, body: dict[str, Any], field: str, *, not_quoting: str | None = None) -> str:
    r = api.post("/servers", body)
    assert r.status_code == 400, r.data
    message = r.data["error"]["fields"].get(field)
    assert message, r.data
    if not_quoting:
        assert not_quoting not in json.dumps(r.data)
    return str(message)


@pytest.mark.parametrize("url,secret", [
    ("https://admin:hunter2pass@hooks.example.com/p", "hunter2pass"),
    ("https://hooks.example.com/p?token=t0k3nvalue", "t0k3nvalue"),
    ("https://hooks.example.com/p?region=eu&api_key=k3yvalue", "k3yvalue"),
    ("https://hooks.example.com/p?signature=s1gvalue", "s1gvalue"),
])
def test_a_server_url_carrying_credentials_is_a_400_naming_url(api, url, secret):  # type: ignore[no-untyped-def]
    # GIVEN a webhook server whose URL carries a password or a token
    body = {"name": "hook", "module": "webhook", "url": url, "credentials": WEBHOOK_SECRET}
    # WHEN it is saved THEN it is a 400 naming `url`, the secret not quoted back, nothing written
    refused(api, body, "url", not_quoting=secret)
    assert servers(api) == []


@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data", "https://10.0.0.5/hook", "https://172.20.1.1/hook",
    "https://192.168.1.10/hook", "https://100.64.0.9/hook", "https://[fc00::1]/hook", "https://[fe80::1]/hook",
    "https://0.0.0.0/hook", "https://224.0.0.1/hook", "https://[::ffff:169.254.169.254]/hook",
    "https://[::ffff:10.0.0.5]/hook", "https://2852039166/hook", "http://hooks.example.com/hook",
])
def test_a_server_url_at_a_non_public_address_or_over_plain_http_is_a_400_naming_url(api, url):  # type: ignore[no-untyped-def]
    refused(api, {"name": "hook", "module": "webhook", "url": url, "credentials": WEBHOOK_SECRET}, "url")
    assert servers(api) == []


@pytest.mark.parametrize("hostname", ["169.254.169.254", "10.1.2.3", "192.168.0.1:2087", "127.0.0.1"])
def test_a_cpanel_hostname_at_a_non_public_address_is_a_400_naming_hostname(api, monkeypatch, hostname):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ALLOW_LOOPBACK_OUTBOUND", "false")  # as in AWS: 127.0.0.1 refused too
    reset_settings()
    try:
        refused(api, {"name": "whm", "module": "cpanel", "hostname": hostname, "credentials": "WHMTOKEN123"},
                "hostname")
    finally:
        monkeypatch.undo()
        reset_settings()


def test_loopback_urls_are_refused_unless_the_setting_allows_them(api, monkeypatch, kms):  # type: ignore[no-untyped-def]
    body = {"name": "local", "module": "webhook", "url": "http://127.0.0.1:9/provision", "credentials": WEBHOOK_SECRET}
    # GIVEN loopback not allowed (the default, AWS) THEN a loopback URL is a 400 naming `url`
    monkeypatch.setenv("ALLOW_LOOPBACK_OUTBOUND", "false")
    reset_settings()
    try:
        assert "loopback" in refused(api, body, "url")
    finally:
        monkeypatch.undo()
        reset_settings()
    # GIVEN it allowed (the local stack, the tests) THEN the same server is saved
    assert api.post("/servers", body).status_code == 201


@pytest.mark.parametrize("credentials", [None, "short-secret"])
def test_a_webhook_server_without_a_signing_secret_is_a_400_naming_credentials(api, credentials):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"name": "hook", "module": "webhook", "url": "https://hooks.example.com/p"}
    if credentials:
        body["credentials"] = credentials
    assert "signing secret" in refused(api, body, "credentials", not_quoting=credentials)
    assert servers(api) == []


def put_old_server(url: str, credentials: str | None = None) -> Server:
    """A server as data saved before credentials in URLs were refused (straight to the table)."""
    server = Server(id=new_id(), name="old hook", module="webhook", url=url, has_credentials=credentials is not None,
                    created_at=iso(utcnow()))
    encrypted = crypto.encrypt(credentials, crypto.server_context(server.id)) if credentials else None
    stores().directory.put_server(server, encrypted)
    return server


def test_viewers_never_see_userinfo_or_query_secrets_of_a_stored_url(api, kms):  # type: ignore[no-untyped-def]
    # GIVEN a server stored with a password and a token in its URL
    put_old_server("https://admin:hunter2pass@hooks.example.com/p?region=eu&token=T0KENVALUE", WEBHOOK_SECRET)
    # WHEN a viewer lists the servers
    (listed,) = servers(api)
    # THEN the URL shows its host, path and harmless query only
    assert listed["url"] == "https://hooks.example.com/p?region=eu&token=[redacted]"
    assert "hunter2pass" not in json.dumps(listed) and "T0KENVALUE" not in json.dumps(listed)


def test_a_stored_url_with_credentials_never_reaches_step_errors_or_last_error(api, workflows):  # type: ignore[no-untyped-def]
    # GIVEN a webhook server stored with a password and a token in its URL, at a closed port
    # (today's code tries it, is refused the connection, and quotes the URL in every error)
    port = free_port()
    url = f"http://admin:hunter2pass@127.0.0.1:{port}/provision?token=T0KENVALUE"
    server = put_old_server(url, WEBHOOK_SECRET)
    client = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                   "country": "GB"}).data
    order = api.post("/orders", {"client_id": client["id"], "payment_method": "manual", "skip_fraud_check": True,
                                 "items": [{"kind": "product", "description": "Hosting", "amount": "10.00",
                                            "server_id": server.id}]}).data
    # WHEN the order is accepted
    r = api.post(f"/orders/{order['id']}/accept", {}, role="support")
    assert r.status_code == 202, r.data
    action = wait_for_action(api, order["id"], r.data["action"]["id"])
    # THEN the item failed, saying why, by scheme, host and path only
    assert action["status"] == "FAILED", action
    got = api.get(f"/orders/{order['id']}", role="viewer").data
    (item,) = got["items"]
    assert item["status"] == "Pending" and "user name or password" in item["last_error"], item
    assert f"http://127.0.0.1:{port}/provision" in item["last_error"]
    # AND neither the password nor the token is in the action, its steps or the order
    for text in (json.dumps(action), json.dumps(got), json.dumps(api.get(f"/orders/{order['id']}/actions/"
                                                                          f"{action['id']}", role="viewer").data)):
        assert "hunter2pass" not in text and "T0KENVALUE" not in text and "admin:" not in text


def test_the_webhook_stand_in_refuses_a_replayed_or_unsigned_delivery(remote):  # type: ignore[no-untyped-def]
    # GIVEN the webhook stand-in the workflow tests use, checking signatures as a receiver must
    hook = remote()
    # WHEN a command is delivered, then the captured delivery is sent again as is, then unsigned
    assert post_signed(hook.url, {"command": "create"}, WEBHOOK_SECRET, idempotency_key="k1") == {"ok": True}
    (first,) = hook.received
    replay = requests.post(hook.url, data=first.body, headers=first.headers, timeout=5)
    unsigned = requests.post(hook.url, data=first.body, headers={"Idempotency-Key": "k1"}, timeout=5)
    # THEN the first verified, the replay (same nonce, within the window) and the unsigned one are 401
    assert first.verified is True
    assert (replay.status_code, unsigned.status_code) == (401, 401)
    assert [r.verified for r in hook.received] == [True, False, False]
    # AND a retry of the command (a new delivery: new nonce, same key) is taken
    assert post_signed(hook.url, {"command": "create"}, WEBHOOK_SECRET, idempotency_key="k1") == {"ok": True}
    assert hook.received[-1].verified is True
    assert hook.received[-1].headers["idempotency-key"] == first.headers["idempotency-key"]
    assert hook.received[-1].headers["x-orderdesk-nonce"] != first.headers["x-orderdesk-nonce"]
