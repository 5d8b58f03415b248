"""What the Clients and Servers screens need beyond adding and listing: editing a client, editing a
server with write-only credentials, a server's connection test through its module's own check
(against loopback stand-ins for a signed webhook and for WHM; in process, and through the
connection-test function as deployed, since only it may decrypt the credentials), and the
registrars a domain item may name. Credentials are stored under a KMS key of moto's (`kms`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from infra.local.moto_server import MotoServer
from infra.local.statemachines import lambda_functions_from_template
from orderdesk.adapters import aws
from orderdesk.config import reset_settings
from orderdesk.domain.errors import ConcurrentUpdate
from orderdesk.domain.model import CreditChange
from orderdesk.services.ports import stores
from tests.integration.workflow_support import WEBHOOK_SECRET

pytestmark = pytest.mark.usefixtures("kms")  # server credentials are encrypted with KMS

CHECK_FUNCTION = "ServerCheckFunction"
ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "company": "Analytical Engines",
       "country": "GB", "address": "12 St James's Square, London", "phone": "+44 20 7946 0000"}


def add_client(api: Any) -> dict[str, Any]:
    r = api.post("/clients", ADA, role="support")
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


# -- clients ---------------------------------------------------------------------------------------


def test_editing_a_client_changes_the_fields_given_and_keeps_the_others(api, table):
    # GIVEN a client with a credit balance
    client = add_client(api)
    from orderdesk.adapters.store.clients import credit_op
    from orderdesk.adapters.store.table import transaction

    with transaction() as tx:
        credit_op(CreditChange(client_id=client["id"], amount=Decimal("12.50"), reason="test"))(tx)
    # WHEN support renames her, changes her email (in capitals) and clears her phone
    r = api.put(f"/clients/{client['id']}", {"last_name": "King", "email": "Ada.King@Example.com", "phone": None},
                role="support")
    # THEN those change, the rest (and the balance) stay, and the list finds her by the new name
    assert r.status_code == 200, r.data
    assert (r.data["last_name"], r.data["email"], r.data["phone"]) == ("King", "ada.king@example.com", None)
    assert (r.data["first_name"], r.data["company"], r.data["address"]) == ("Ada", ADA["company"], ADA["address"])
    assert r.data["credit_balance"] == "12.50"
    assert api.get(f"/clients/{client['id']}").data == r.data
    assert [c["id"] for c in api.get("/clients?q=king").data["clients"]] == [client["id"]]
    assert api.get("/clients?q=lovelace").data["clients"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"first_name": None}, "first_name"), ({"country": "Britain"}, "country"), ({"email": "not-an-email"}, "email"),
    ({}, "body"), ({"credit_balance": "100.00"}, "credit_balance"), ({"phone": "call me"}, "phone"),
])
def test_a_client_edit_it_cannot_take_is_a_400_naming_the_field_and_changes_nothing(api, table, body, field):
    client = add_client(api)
    r = api.put(f"/clients/{client['id']}", body, role="support")
    assert r.status_code == 400 and field in r.data["error"]["fields"], r.data
    assert api.get(f"/clients/{client['id']}").data == client


def test_editing_an_unknown_client_is_404_and_a_viewer_may_not(api, table):
    assert api.put("/clients/nobody", {"first_name": "X"}, role="support").status_code == 404
    client = add_client(api)
    assert api.put(f"/clients/{client['id']}", {"first_name": "X"}, role="viewer").status_code == 403


def test_an_edit_written_over_a_concurrent_one_is_refused_then_merged(api, table):
    # GIVEN a client read by one edit, then changed by another
    client = add_client(api)
    data = stores().clients
    stale = data.get_client(client["id"])
    api.put(f"/clients/{client['id']}", {"company": "Byron & Co"}, role="support")
    # WHEN the first edit writes from what it read
    from dataclasses import replace

    with pytest.raises(ConcurrentUpdate):
        data.update_client(stale, replace(stale, first_name="Augusta"))
    # THEN it is refused (nothing lost), and the route, which reads again, keeps both edits
    r = api.put(f"/clients/{client['id']}", {"first_name": "Augusta"}, role="support")
    assert (r.data["first_name"], r.data["company"]) == ("Augusta", "Byron & Co")


# -- servers ---------------------------------------------------------------------------------------


def add_server(api: Any, **body: Any) -> dict[str, Any]:
    r = api.post("/servers", body, role="admin")
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


def test_a_server_edit_keeps_its_credentials_unless_new_ones_are_given(api, table, remote):
    # GIVEN a webhook server whose receiver checks signatures with its secret
    receiver = remote(secret=WEBHOOK_SECRET)
    server = add_server(api, name="hooks", module="webhook", url=f"{receiver.url}/provision",
                        credentials=WEBHOOK_SECRET)
    # WHEN it is renamed (credentials left out)
    r = api.put(f"/servers/{server['id']}", {"name": "Provisioning hooks"}, role="admin")
    # THEN the name changes, the credentials are never shown and still sign: the test passes
    assert r.status_code == 200 and r.data["name"] == "Provisioning hooks" and r.data["has_credentials"] is True
    assert "credentials" not in r.data and WEBHOOK_SECRET not in json.dumps(api.get("/servers").data)
    assert api.post(f"/servers/{server['id']}/test", role="admin").data["ok"] is True
    # WHEN new credentials are given
    r = api.put(f"/servers/{server['id']}", {"credentials": "another-secret-of-24-chars"}, role="admin")
    # THEN they replace the old: the receiver, still on the old secret, refuses the signature
    assert r.status_code == 200
    check = api.post(f"/servers/{server['id']}/test", role="admin").data
    assert check["ok"] is False and "401" in check["detail"]
    assert "another-secret" not in check["detail"] and WEBHOOK_SECRET not in check["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({"module": "cpanel"}, "hostname"), ({"url": None}, "url"), ({"credentials": "short"}, "credentials"),
    ({"credentials": None}, "credentials"), ({"module": "ftp"}, "module"), ({"url": "http://10.0.0.5/x"}, "url"),
])
def test_a_server_edit_that_leaves_it_unusable_is_a_400_naming_the_field(api, table, body, field):
    server = add_server(api, name="hooks", module="webhook", url="https://hooks.example.com/p",
                        credentials=WEBHOOK_SECRET)
    r = api.put(f"/servers/{server['id']}", body, role="admin")
    assert r.status_code == 400 and field in r.data["error"]["fields"], r.data
    assert api.get("/servers").data["servers"] == [server]


@pytest.mark.parametrize(("body", "field"), [
    ({"credentials": "tökén-of-whm"}, "credentials"), ({"credentials": "two words"}, "credentials"),
    ({"username": "rööt"}, "username"),
])
def test_a_whm_token_or_user_that_cannot_go_in_its_header_is_a_400_naming_it(api, table, body, field):
    # GIVEN a cpanel server (what the fuzzer found: a token with a non-ASCII letter was stored, and
    # its connection test then failed with a 503 from the header's encoding)
    server = add_server(api, name="whm", module="cpanel", hostname="whm.example.com", credentials="TOKEN123")
    # WHEN it is edited, or another is added, with such a token or user name
    edited = api.put(f"/servers/{server['id']}", body, role="admin")
    added = api.post("/servers", {"name": "whm2", "module": "cpanel", "hostname": "whm2.example.com",
                                  "credentials": "TOKEN123", **body}, role="admin")
    # THEN both are a 400 naming the field, and nothing changed
    for r in (edited, added):
        assert r.status_code == 400 and field in r.data["error"]["fields"], r.data
    assert api.get("/servers").data["servers"] == [server]


def test_a_server_becomes_a_webhook_only_with_its_url_and_secret(api, table):
    server = add_server(api, name="manual", module="none")
    r = api.put(f"/servers/{server['id']}", {"module": "webhook", "url": "https://hooks.example.com/p"}, role="admin")
    assert r.status_code == 400 and set(r.data["error"]["fields"]) == {"credentials"}
    r = api.put(f"/servers/{server['id']}", {"module": "webhook", "url": "https://hooks.example.com/p",
                                             "credentials": WEBHOOK_SECRET}, role="admin")
    assert r.status_code == 200 and (r.data["module"], r.data["has_credentials"]) == ("webhook", True)


def test_editing_servers_is_for_admins(api, table):
    server = add_server(api, name="manual", module="none")
    assert api.put(f"/servers/{server['id']}", {"name": "x"}, role="billing").status_code == 403
    assert api.post(f"/servers/{server['id']}/test", role="billing").status_code == 403
    assert api.put("/servers/nothing", {"name": "x"}, role="admin").status_code == 404
    assert api.post("/servers/nothing/test", role="admin").status_code == 404


@pytest.fixture(scope="module")
def moto_lambda() -> Iterator[MotoServer]:
    """moto's server with Lambda's Invoke route, serving the template's connection-test function."""
    server = MotoServer({CHECK_FUNCTION: lambda_functions_from_template()[CHECK_FUNCTION]}, step_functions=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["in process", "through its function"])
def check_runs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Where the connection test runs: in the API's process (no function configured), or in the
    connection-test function the API invokes and waits for, as template.yaml deploys it."""
    if request.param == "through its function":
        server = request.getfixturevalue("moto_lambda")
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.endpoint)
        monkeypatch.setenv("SERVER_CHECK_FUNCTION_NAME", CHECK_FUNCTION)
    reset_settings()
    aws.reset_clients()
    yield str(request.param)
    reset_settings()
    aws.reset_clients()


def test_a_webhook_servers_test_is_a_signed_ping(api, table, remote, check_runs):
    # GIVEN a webhook receiver that checks signatures
    receiver = remote(secret=WEBHOOK_SECRET)
    server = add_server(api, name="hooks", module="webhook", url=f"{receiver.url}/provision",
                        credentials=WEBHOOK_SECRET)
    # WHEN the server is tested
    r = api.post(f"/servers/{server['id']}/test", role="admin")
    # THEN the receiver got a ping whose signature checked out, and the test says so
    assert r.status_code == 200 and r.data["ok"] is True and r.data["module"] == "webhook", r.data
    (ping,) = receiver.received
    assert ping.verified is True and ping.json == {"command": "ping", "server_id": server["id"]}
    assert ping.path == "/provision" and ping.headers["idempotency-key"].startswith(f"orderdesk:ping:{server['id']}:")


def test_a_webhook_that_fails_is_a_failed_test_not_an_error(api, table, remote):
    receiver = remote(lambda r: (503, {"error": "down for maintenance"}), secret=WEBHOOK_SECRET)
    server = add_server(api, name="hooks", module="webhook", url=f"{receiver.url}/provision",
                        credentials=WEBHOOK_SECRET)
    r = api.post(f"/servers/{server['id']}/test", role="admin")
    assert r.status_code == 200 and r.data["ok"] is False and "503" in r.data["detail"], r.data
    assert WEBHOOK_SECRET not in r.data["detail"]


def test_a_cpanel_servers_test_asks_whm_its_version_with_the_token(api, table, remote, check_runs):
    # GIVEN a WHM answering `version` to its token
    def whm(r):  # type: ignore[no-untyped-def]
        if r.headers.get("authorization") != "whm root:WHMTOKEN123":
            return 200, {"metadata": {"result": 0, "reason": f"Access denied for {r.headers.get('authorization')}"}}
        return 200, {"metadata": {"result": 1, "reason": "OK", "command": "version"}, "data": {"version": "11.118.0.7"}}

    whm_stub = remote(whm, secret=None)
    server = add_server(api, name="whm1", module="cpanel", hostname="whm1.example.net", url=whm_stub.url,
                        username="root", credentials="WHMTOKEN123")
    # WHEN it is tested
    r = api.post(f"/servers/{server['id']}/test", role="admin")
    # THEN WHM's version call was made with the token, and its version shown
    assert r.data["ok"] is True and "11.118.0.7" in r.data["detail"], r.data
    assert whm_stub.received[0].path == "/json-api/version?api.version=1"
    # WHEN the token is replaced by one WHM refuses (and WHM quotes it back)
    api.put(f"/servers/{server['id']}", {"credentials": "WRONGTOKEN999"}, role="admin")
    r = api.post(f"/servers/{server['id']}/test", role="admin")
    # THEN the test fails with WHM's reason, the token cut out of it
    assert r.data["ok"] is False and "Access denied" in r.data["detail"], r.data
    assert "WRONGTOKEN999" not in r.data["detail"]


def test_with_a_function_configured_the_api_never_runs_the_test_itself(api, table, remote, moto_lambda, monkeypatch):
    # GIVEN a webhook server, and the API pointed at a connection-test function Lambda does not have
    receiver = remote(secret=WEBHOOK_SECRET)
    server = add_server(api, name="hooks", module="webhook", url=f"{receiver.url}/provision",
                        credentials=WEBHOOK_SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", moto_lambda.endpoint)
    monkeypatch.setenv("SERVER_CHECK_FUNCTION_NAME", "NoSuchFunction")
    reset_settings()
    aws.reset_clients()
    # WHEN the server is tested
    r = api.post(f"/servers/{server['id']}/test", role="admin")
    # THEN the answer is an error, not a test run by the API with credentials it decrypted itself:
    # nothing reached the receiver, and no credential is quoted
    assert r.status_code >= 500 and r.data["error"]["code"] != "internal", r.data
    assert receiver.received == [] and WEBHOOK_SECRET not in json.dumps(r.data)
    reset_settings()
    aws.reset_clients()


def test_a_server_with_nothing_to_connect_to_passes_and_one_unreachable_fails(api, table):
    manual = add_server(api, name="manual", module="none")
    assert api.post(f"/servers/{manual['id']}/test", role="admin").data["ok"] is True
    # a port nothing listens on (the demo data's webhook): refused at once, a failed test
    dead = add_server(api, name="hooks", module="webhook", url="http://127.0.0.1:9/provision",
                      credentials=WEBHOOK_SECRET)
    r = api.post(f"/servers/{dead['id']}/test", role="admin")
    assert r.status_code == 200 and r.data["ok"] is False and "unreachable" in r.data["detail"], r.data


# -- registrars ------------------------------------------------------------------------------------


def test_the_registrars_are_the_configured_ones(api, table, monkeypatch):
    # GIVEN no registrar webhook configured THEN only manual registration is offered, as the default
    r = api.get("/registrars", role="viewer")
    assert r.status_code == 200 and r.data == {"registrars": [
        {"name": "none", "label": "None (manual)", "default": True,
         "description": "Register or transfer the domain yourself; it is taken as done."}]}
    # GIVEN a registrar webhook THEN it is offered too
    monkeypatch.setenv("REGISTRAR_WEBHOOK_URL", "https://registrar.example.com/hook")
    reset_settings()
    names = [x["name"] for x in api.get("/registrars", role="viewer").data["registrars"]]
    assert names == ["none", "webhook"]
