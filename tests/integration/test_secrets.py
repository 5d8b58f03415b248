"""Secrets: a server's credentials and an account's password (Accept with password) never appear
in an API response or a log line, and are not stored in clear — even when the remote system
misbehaves in the worst way for it: answering an error that echoes the request it got, password
included. Logs are captured at DEBUG from every logger (the Powertools logger's JSON lines as it
formats them, the root logger with every record's extra fields, and whatever reaches stdout or
stderr); responses are every answer the API gave during the test; storage is a scan of the
table, the workflow executions' inputs, outputs and histories, and the email outbox."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from tests.integration.workflow_support import wait_for_action

pytestmark = pytest.mark.timeout(180)


class Captured(logging.Handler):
    """Every record, as text: the message, the formatted exception and all extra fields."""

    def __init__(self, formatter: logging.Formatter | None = None) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception as exc:  # noqa: BLE001 - a record that cannot be formatted is still searched
            text = f"unformattable: {exc}"
        self.lines.append(text + " " + repr({k: v for k, v in vars(record).items() if k not in ("args", "msg")}))


@pytest.fixture()
def logs(capfd: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Capture every log line of the test at DEBUG; `logs.text()` is all of it."""
    from orderdesk.observability import logger as powertools_logger

    service = powertools_logger._logger  # the stdlib logger behind Powertools' (it does not propagate)
    formatter = service.handlers[0].formatter if service.handlers else None
    own, everything = Captured(formatter), Captured(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    saved = (root.level, service.level)
    root.setLevel(logging.DEBUG)
    service.setLevel(logging.DEBUG)
    root.addHandler(everything)
    service.addHandler(own)
    for noisy in ("botocore", "urllib3", "moto"):  # kept at DEBUG too: their records are searched as well
        logging.getLogger(noisy).setLevel(logging.DEBUG)

    class Logs:
        def text(self) -> str:
            out, err = capfd.readouterr()
            self.printed = getattr(self, "printed", "") + out + err
            return "\n".join(own.lines + everything.lines) + "\n" + self.printed

        def count(self) -> int:
            return len(own.lines) + len(everything.lines)

    yield Logs()
    root.removeHandler(everything)
    service.removeHandler(own)
    root.setLevel(saved[0])
    service.setLevel(saved[1])
    for noisy in ("botocore", "urllib3", "moto"):
        logging.getLogger(noisy).setLevel(logging.NOTSET)


@pytest.fixture()
def recorded(api: Any) -> Any:
    """The `api` caller, keeping the raw text of every answer."""
    answers: list[str] = []
    original = api.request

    def request(*args: Any, **kwargs: Any) -> Any:
        r = original(*args, **kwargs)
        answers.append(f"{r.status_code} {json.dumps(dict(r.headers))} {r.body.decode(errors='replace')}")
        return r

    api.request = request
    api.answers = answers
    return api


def stored_everywhere(workflows: Any) -> str:
    """The table (raw items), every execution's input, output and history, and the outbox."""
    import os

    ddb = boto3.client("dynamodb")
    items: list[Any] = []
    for page in ddb.get_paginator("scan").paginate(TableName=os.environ["TABLE_NAME"], ConsistentRead=True):
        items += page["Items"]
    parts = [json.dumps(items, default=str)]
    for machine in workflows.arns.values():
        for ex in workflows.sfn.list_executions(stateMachineArn=machine)["executions"]:
            parts.append(json.dumps(workflows.sfn.describe_execution(executionArn=ex["executionArn"]), default=str))
            parts.append(json.dumps(workflows.sfn.get_execution_history(executionArn=ex["executionArn"]),
                                    default=str))
    parts += [p.read_text(errors="replace") for p in workflows.outbox.glob("*")]
    return "\n".join(parts)


def secret(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def new_order(api: Any, server_id: str, products: int, **extra: Any) -> dict[str, Any]:
    client = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                   "country": "GB"}).data
    items = [{"kind": "product", "description": f"Hosting {n}", "amount": "10.00", "server_id": server_id}
             for n in range(products)]
    items += extra.pop("more_items", [])
    r = api.post("/orders", {"client_id": client["id"], "payment_method": "manual", "items": items,
                             "skip_fraud_check": True})
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


def assert_nowhere(secrets: dict[str, str], **places: str) -> None:
    for where, text in places.items():
        for name, value in secrets.items():
            assert value not in text, f"the {name} appears in {where}: ...{text[max(0, text.find(value) - 300):][:600]}"


def test_webhook_credentials_and_passwords_stay_secret_even_when_the_webhook_echoes_them(
        recorded, workflows, remote, logs):  # type: ignore[no-untyped-def]
    api = recorded
    secrets = {"server credentials": secret("srvcred"), "password one": secret("Pw1"), "password two": secret("Pw2")}
    # GIVEN a webhook that refuses the first create (422) and fails the second once (500), each
    # time echoing the whole request it got back in its error body, passwords included
    seen: dict[str, int] = {}

    def echo(r: Any) -> tuple[int, Any]:
        item = r.json["account"]["item_id"]
        seen[item] = seen.get(item, 0) + 1
        if r.json["command"] == "create" and seen[item] == 1:
            return (422 if item == first else 500), {"error": f"password {r.json['account'].get('password')} refused",
                                                     "request": r.json, "headers": dict(r.headers)}
        return 200, {"ok": True, "echo": r.json}

    hook = remote(echo, secret=secrets["server credentials"])
    server = api.post("/servers", {"name": "web1", "module": "webhook", "url": hook.url,
                                   "credentials": secrets["server credentials"]})
    assert server.status_code == 201, server.data
    order = new_order(api, server.data["id"], products=2)
    first, second = (i["id"] for i in order["items"])

    # WHEN it is accepted with a password per product (the first fails for good, the second after a retry)
    body = {"items": {first: {"username": "adaone", "password": secrets["password one"]},
                      second: {"username": "adatwo", "password": secrets["password two"]}}}
    r = api.post(f"/orders/{order['id']}/accept", body, role="support")
    assert r.status_code == 202, r.data
    failed = wait_for_action(api, order["id"], r.data["action"]["id"], timeout=90)
    # AND accepted again (the webhook takes it now), listed, read, cancelled
    r = api.post(f"/orders/{order['id']}/accept", {}, role="support")
    done = wait_for_action(api, order["id"], r.data["action"]["id"], timeout=90)
    api.get(f"/orders/{order['id']}")
    api.get("/orders?limit=5")
    api.get("/servers")
    api.get(f"/orders/{order['id']}/actions/{failed['id']}")
    r = api.post(f"/orders/{order['id']}/cancel", {"refund": False}, role="billing")
    wait_for_action(api, order["id"], r.data["action"]["id"], timeout=90)

    # THEN the flow really went through the echoing webhook, and the errors were shown
    assert failed["status"] == "FAILED" and done["status"] == "SUCCEEDED", (failed, done)
    assert any(c.json.get("account", {}).get("password") == secrets["password one"] for c in hook.received)
    step = {s["name"]: s for s in failed["steps"]}[f"provision:{first}"]
    assert "422" in step["error"] and "[redacted]" in step["error"], step
    assert logs.count() > 0 and "action started" in logs.text()
    # AND no secret is in any answer, any log line, the table or the workflows' records
    assert_nowhere(secrets, responses="\n".join(api.answers), logs=logs.text(), storage=stored_everywhere(workflows))


def test_whm_token_and_password_stay_secret_when_whm_quotes_them(recorded, workflows, remote, logs):  # type: ignore[no-untyped-def]
    api = recorded
    secrets = {"WHM token": secret("whmtoken"), "password": secret("CpPw")}
    # GIVEN a WHM whose first createacct fails with a reason quoting the password and the token
    calls: list[Any] = []

    def whm(r: Any) -> tuple[int, Any]:
        calls.append(r)
        form = {k: v[0] for k, v in parse_qs(r.body.decode()).items()}
        if "createacct" in r.path and len(calls) == 1:
            return 200, {"metadata": {"result": 0, "reason": f"password {form.get('password')} refused for "
                                                             f"{r.headers.get('authorization')}"}}
        return 200, {"metadata": {"result": 1, "reason": "OK"}}

    hook = remote(whm, secret=None)  # WHM: a token, no signature
    server = api.post("/servers", {"name": "whm1", "module": "cpanel", "hostname": "whm1.example.net",
                                   "url": hook.url, "username": "root", "credentials": secrets["WHM token"]})
    assert server.status_code == 201, server.data
    order = new_order(api, server.data["id"], products=1, more_items=[
        {"kind": "domain", "description": "Domain", "amount": "12.00", "domain": "ada.example", "registrar": "none"}])
    product = order["items"][0]["id"]

    # WHEN it is accepted with a password (refused with that reason), then again (works)
    r = api.post(f"/orders/{order['id']}/accept",
                 {"items": {product: {"username": "ada", "password": secrets["password"]}}}, role="support")
    failed = wait_for_action(api, order["id"], r.data["action"]["id"], timeout=90)
    r = api.post(f"/orders/{order['id']}/accept", {}, role="support")
    done = wait_for_action(api, order["id"], r.data["action"]["id"], timeout=90)
    api.get(f"/orders/{order['id']}")

    # THEN WHM did get both, the refusal is shown without them, and they are nowhere else
    assert failed["status"] == "FAILED" and done["status"] == "SUCCEEDED", (failed, done)
    assert secrets["WHM token"] in calls[0].headers["authorization"]
    assert parse_qs(calls[0].body.decode())["password"] == [secrets["password"]]
    step = {s["name"]: s for s in failed["steps"]}[f"provision:{product}"]
    assert "refused" in step["error"] and "[redacted]" in step["error"], step
    assert_nowhere(secrets, responses="\n".join(api.answers), logs=logs.text(), storage=stored_everywhere(workflows))


def test_rejected_secrets_are_not_quoted_back(recorded, workflows, logs):  # type: ignore[no-untyped-def]
    api = recorded
    short, long_, typed = "Sh0rt!x", "L0ng-" + "q" * 130, "Typ3d-" + uuid.uuid4().hex
    # GIVEN an order with a product and a domain
    server = api.post("/servers", {"name": "none1", "module": "none", "credentials": "cred-" + uuid.uuid4().hex})
    order = new_order(api, server.data["id"], products=1, more_items=[
        {"kind": "domain", "description": "Domain", "amount": "12.00", "domain": "ada.example", "registrar": "none"}])
    product, domain = (i["id"] for i in order["items"])
    # WHEN passwords and credentials are refused (too short, too long, on a domain, the wrong type)
    answers = [
        api.post(f"/orders/{order['id']}/accept", {"items": {product: {"password": short}}}, role="support"),
        api.post(f"/orders/{order['id']}/accept", {"items": {product: {"password": long_}}}, role="support"),
        api.post(f"/orders/{order['id']}/accept", {"items": {domain: {"password": typed}}}, role="support"),
        api.post(f"/orders/{order['id']}/accept", {"items": {product: {"password": [typed]}}}, role="support"),
        api.post("/servers", {"name": "x", "module": "none", "credentials": long_ * 40}),
        api.post("/servers", {"name": "x", "module": "bogus", "credentials": typed}),
    ]
    # THEN each is a 400 naming the field, and none quotes the secret back or logs it
    assert [a.status_code for a in answers] == [400] * 6, [a.data for a in answers]
    assert "items." + product + ".password" in answers[0].data["error"]["fields"]
    assert_nowhere({"short": short, "long": long_, "typed": typed}, responses="\n".join(api.answers),
                   logs=logs.text())


# -- KMS: each value is an envelope bound to its record (issue 17) ------------------------------------


def raw_secrets() -> dict[str, str]:
    """Every stored password and credential, straight from the table: {pk|sk: value}."""
    import os

    ddb = boto3.client("dynamodb")
    found: dict[str, str] = {}
    for page in ddb.get_paginator("scan").paginate(TableName=os.environ["TABLE_NAME"], ConsistentRead=True):
        for item in page["Items"]:
            for name in ("password_enc", "credentials_enc"):
                if name in item:
                    found[f"{item['pk']['S']}|{item['sk']['S']}|{name}"] = item[name]["S"]
    return found


def overwrite(key: str, value: str) -> None:
    """Put `value` into the attribute `key` names (pk|sk|attribute), straight into the table: what
    someone with write access to it could do."""
    import os

    pk, sk, name = key.split("|")
    boto3.client("dynamodb").update_item(TableName=os.environ["TABLE_NAME"], Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                         UpdateExpression="SET #v = :v", ExpressionAttributeNames={"#v": name},
                                         ExpressionAttributeValues={":v": {"S": value}})


def test_a_password_copied_onto_another_item_is_never_sent(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN an order of two products on a webhook that refuses the second one's create for now,
    # accepted with a password for each: the first is created with its password, the second fails
    refusing = [True]
    hook = remote(lambda r: (422, {"error": "no"}) if refusing[0] and r.json["account"]["item_id"] == second
                  else (200, {}))
    server = api.post("/servers", {"name": "web1", "module": "webhook", "url": hook.url,
                                   "credentials": "whsec-test-0123456789"}).data
    order = new_order(api, server["id"], products=2)
    first, second = (i["id"] for i in order["items"])
    passwords = {first: secret("PwOne"), second: secret("PwTwo")}
    r = api.post(f"/orders/{order['id']}/accept", {"items": {i: {"username": f"u{n}", "password": passwords[i]}
                                                             for n, i in enumerate((first, second))}}, role="support")
    assert wait_for_action(api, order["id"], r.data["action"]["id"], timeout=90)["status"] == "FAILED"
    # THEN what is stored is a KMS envelope per password, neither password in it
    envelopes = raw_secrets()
    (mine,) = [k for k in envelopes if f"ITEM#{first}" in k]
    (theirs,) = [k for k in envelopes if f"ITEM#{second}" in k]
    assert all(v.startswith("kms1:") for v in envelopes.values()), envelopes
    assert not any(p in v for p in passwords.values() for v in envelopes.values())

    # WHEN the first item's ciphertext is copied onto the second (someone with write access to the
    # table), the webhook takes every create again, and the order is accepted again
    overwrite(theirs, envelopes[mine])
    refusing[0] = False
    hook.received.clear()
    r = api.post(f"/orders/{order['id']}/accept", {}, role="support")
    failed = wait_for_action(api, order["id"], r.data["action"]["id"], timeout=90)

    # THEN the second item fails for good (KMS refuses the context), saying so, and nothing is sent:
    # the first item's password never reaches the webhook as the second's
    assert failed["status"] == "FAILED", failed
    step = {s["name"]: s for s in failed["steps"]}[f"provision:{second}"]
    assert step["status"] == "FAILED" and "encrypted for another record" in step["error"], step
    assert hook.received == [] and passwords[first] not in json.dumps(failed)


def test_credentials_copied_onto_another_server_are_never_used(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN two webhook servers, each with its own signing secret, and an order on the second
    one_secret, two_secret = secret("whsec-one-01234"), secret("whsec-two-01234")
    one_hook, two_hook = remote(secret=one_secret), remote(secret=None)  # the second records whatever arrives
    one = api.post("/servers", {"name": "one", "module": "webhook", "url": one_hook.url, "credentials": one_secret}).data
    two = api.post("/servers", {"name": "two", "module": "webhook", "url": two_hook.url, "credentials": two_secret}).data
    order = new_order(api, two["id"], products=1)

    # WHEN the first server's stored credentials are copied onto the second, and the order accepted
    stored = raw_secrets()
    (ones,) = [k for k in stored if k.startswith(f"SERVER#{one['id']}|")]
    (twos,) = [k for k in stored if k.startswith(f"SERVER#{two['id']}|")]
    overwrite(twos, stored[ones])
    r = api.post(f"/orders/{order['id']}/accept", {}, role="support")
    failed = wait_for_action(api, order["id"], r.data["action"]["id"], timeout=90)

    # THEN nothing is sent to the second server, signed with the first one's secret or at all
    assert failed["status"] == "FAILED", failed
    (step,) = [s for s in failed["steps"] if s["name"].startswith("provision:")]
    assert "credentials: encrypted for another record" in step["error"], step
    assert two_hook.received == [] and one_hook.received == []
