"""The local stack as a user meets it: `make run` (infra.local.stack) serving the API over real
HTTP, tokens from `.local/`, Ctrl-C stopping everything, data kept across restarts, and the
asynchronous parts (bulk queue, stream, workflows) wired to their handlers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from infra.local.stack import AUTH_AUDIENCE, AUTH_ISSUER, LocalStack, StackError, dynamodb_pids
from tests.e2e.stack_fixture import (
    REPO_ROOT,
    RunningStack,
    stack_environment,
    start_stack_process,
    stop_stack_process,
    wait_for,
)
from tests.listening import descendants, listening_sockets

# `local_stack` (session): tests/e2e/conftest.py, from tests/e2e/stack_fixture.py


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def all_orders(url: str, token: str) -> list[dict[str, Any]]:
    orders, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{url}/orders", params=params, headers=bearer(token), timeout=30)
        assert page.status_code == 200, page.text
        orders += page.json()["orders"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return orders


def port_is_closed(url: str) -> bool:
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) != 0




# LocalStack in this process (what a test fixture or the benchmarks can use) ---------------------


def test_local_stack_serves_the_api_and_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    # GIVEN a stack on a free port with a fresh data directory and 20 demo orders
    env_before = {k: os.environ.get(k) for k in ("TABLE_NAME", "AUTH_PUBLIC_KEY_FILE", "AWS_ENDPOINT_URL_DYNAMODB")}
    stack = LocalStack(port=0, data_dir=tmp_path, seed=True, seed_orders=20, seed_clients=8,
                       retry_sleep_scale=0.01)
    with stack:
        assert stack.url is not None and stack.seeded_now
        url = stack.url
        public_key = (tmp_path / "jwt-public.pem").read_bytes()

        # WHEN the API is called over HTTP
        health = requests.get(f"{stack.url}/health", timeout=10)
        anonymous = requests.get(f"{stack.url}/orders", timeout=10)
        forged = requests.get(f"{stack.url}/orders", headers=bearer(stack.admin_token[:-4] + "AAAA"), timeout=10)
        as_viewer = all_orders(stack.url, stack.token("viewer"))
        written_admin_token = (tmp_path / "admin.token").read_text().strip()
        viewer_may_not_write = requests.post(f"{stack.url}/clients", json={}, headers=bearer(stack.token("viewer")),
                                             timeout=10)
        client = requests.post(f"{stack.url}/clients", headers=bearer(written_admin_token), timeout=10, json={
            "first_name": "Rita", "last_name": "Restart", "email": "rita@example.com", "country": "DE"})

        # THEN health is open, orders need a valid token, roles hold, and admin.token works
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
        assert forged.status_code == 401
        assert len(as_viewer) == 20 and len({o["id"] for o in as_viewer}) == 20
        assert viewer_may_not_write.status_code == 403
        assert client.status_code == 201, client.text
        assert written_admin_token == stack.admin_token

    # WHEN it is stopped: the port is closed, DynamoDB Local is gone, the environment is back
    assert port_is_closed(url)
    assert dynamodb_pids(tmp_path / "dynamodb") == []
    assert {k: os.environ.get(k) for k in env_before} == env_before
    assert not (tmp_path / "stack.json").exists()

    # AND started again on the same directory
    with stack:
        # THEN the data is still there, not seeded twice, and the keys are the same
        assert not stack.seeded_now
        assert (tmp_path / "jwt-public.pem").read_bytes() == public_key
        assert stack.url == url  # the same port again: clients that cached the endpoint keep working
        again = all_orders(url, stack.token("viewer"))
        assert sorted(o["id"] for o in again) == sorted(o["id"] for o in as_viewer)
        kept = requests.get(f"{url}/clients/{client.json()['id']}", headers=bearer(stack.admin_token),
                            timeout=10)
        assert kept.status_code == 200 and kept.json()["last_name"] == "Restart"
    assert dynamodb_pids(tmp_path / "dynamodb") == []


def test_secrets_of_a_data_directory_of_before_kms_are_migrated_and_kms_ones_survive_a_restart(
        tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    from infra.local.files import write_private
    from orderdesk.adapters import crypto
    from orderdesk.domain.model import Server, iso, new_id, utcnow
    from orderdesk.services.ports import stores

    # GIVEN a data directory of before KMS: its Fernet key, as the stacks of before made it
    fernet = Fernet.generate_key()
    write_private(tmp_path / "secrets.key", fernet)
    stack = LocalStack(port=0, data_dir=tmp_path, seed=False, retry_sleep_scale=0.01)
    with stack:
        # AND a server stored now, through the API (KMS), and one as those stacks stored it (Fernet)
        made = requests.post(f"{stack.url}/servers", headers=bearer(stack.admin_token), timeout=10, json={
            "name": "new", "module": "cpanel", "hostname": "whm.example.net", "credentials": "WHMTOKEN-NEW"})
        assert made.status_code == 201, made.text
        new = made.json()["id"]
        old = Server(id=new_id(), name="old", module="cpanel", hostname="whm.example.net", has_credentials=True,
                     created_at=iso(utcnow()))
        stores().directory.put_server(old, Fernet(fernet).encrypt(b"WHMTOKEN-OLD").decode())
        key_arn = os.environ["SECRETS_KMS_KEY_ID"]
    (tmp_path / "secrets.migrated").unlink()  # a directory of before has not been migrated

    # WHEN the stack starts again on it
    with stack:
        directory = stores().directory
        stored_old, stored_new = directory.server_credentials(old.id), directory.server_credentials(new)
        # THEN the old value was re-encrypted with KMS at the start, bound to its server ...
        assert stored_old is not None and crypto.is_kms(stored_old)
        assert crypto.decrypt(stored_old, crypto.server_context(old.id)) == "WHMTOKEN-OLD"
        # ... and what the first run encrypted with moto's KMS still decrypts: the same key again
        assert stored_new is not None and crypto.is_kms(stored_new)
        assert crypto.decrypt(stored_new, crypto.server_context(new)) == "WHMTOKEN-NEW"
        assert os.environ["SECRETS_KMS_KEY_ID"] == key_arn and stack.problems == []
    assert (tmp_path / "kms-SecretsKmsKey.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets.migrated").read_text().startswith("0 item password(s), 1 server credential(s)")


def test_one_stack_per_data_directory(tmp_path: Path) -> None:
    # GIVEN a stack running on a directory
    with LocalStack(port=0, data_dir=tmp_path, seed=False):
        # WHEN a second one is started on the same directory (from another process)
        second = subprocess.run(
            [sys.executable, "-m", "infra.local.stack", "--port", "0", "--data-dir", str(tmp_path), "--no-seed"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    # THEN it refuses, saying where the first one runs, and leaves it alone
    assert second.returncode == 1
    assert "already running" in second.stderr and "http://127.0.0.1:" in second.stderr


# `make run` and `make token`: the command as a user runs it -------------------------------------


def test_make_run_stops_on_ctrl_c_leaves_no_process_and_keeps_data(tmp_path: Path) -> None:
    # GIVEN the stack started as `make run` does, with 5 demo orders, then killed outright
    first = start_stack_process(tmp_path, seed_orders=5, seed_clients=3)
    jvm = first.state["dynamodb_pids"]
    assert len(jvm) == 1
    first_ids = sorted(o["id"] for o in all_orders(first.url, first.admin_token))
    first.process.kill()
    first.process.wait()
    # the JVM runs in its own session, so it outlives a SIGKILL of the stack...
    assert dynamodb_pids(tmp_path / "dynamodb") == jvm

    # WHEN it is started again
    second = start_stack_process(tmp_path, seed_orders=5, seed_clients=3)
    try:
        # THEN ...and the next start stops that orphan, and the data is kept, not seeded again
        assert not Path(f"/proc/{jvm[0]}").exists() or jvm[0] not in dynamodb_pids(tmp_path / "dynamodb")
        # (the whole log of both starts: the banner alone outgrows a tail)
        log = second.log.read_text(errors="replace")
        assert "left running by an earlier stack" in log
        assert sorted(o["id"] for o in all_orders(second.url, second.admin_token)) == first_ids
        assert log.count("first start: adding demo data") == 1
    finally:
        # WHEN Ctrl-C
        code = stop_stack_process(second.process)

    # THEN it exits 0, closes its port, and no DynamoDB Local is left
    assert code == 0, second.log_tail()
    assert port_is_closed(second.url)
    assert dynamodb_pids(tmp_path / "dynamodb") == []
    assert not (tmp_path / "stack.json").exists()
    assert "Stopped. Data kept in" in second.log_tail()


def test_a_stack_whose_starter_is_killed_stops_itself(tmp_path: Path) -> None:
    # GIVEN a stack started with --exit-with-parent (as the test fixture starts it) by a shell
    shell = subprocess.Popen(
        ["sh", "-c", f'"{sys.executable}" -m infra.local.stack --port 0 --data-dir "{tmp_path}" --no-seed --quiet '
                     "--exit-with-parent & wait"],
        cwd=REPO_ROOT, env=stack_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = wait_for(lambda: (tmp_path / "stack.json").exists() and json.loads((tmp_path / "stack.json").read_text()),
                     timeout=120, what="stack up")
    assert requests.get(f"{state['url']}/health", timeout=10).status_code == 200

    # WHEN the shell is killed outright (as a CI timeout kills a test run)
    shell.kill()
    shell.wait()

    # THEN the stack notices, stops, and leaves no DynamoDB Local behind
    wait_for(lambda: not Path(f"/proc/{state['pid']}").exists() or _is_zombie(state["pid"]), timeout=60,
             what="stack process gone")
    assert dynamodb_pids(tmp_path / "dynamodb") == []
    assert not (tmp_path / "stack.json").exists()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


def test_make_token_prints_a_token_for_the_role_signed_with_the_stack_key(local_stack: RunningStack) -> None:
    # WHEN `make token ROLE=viewer` runs (its module, on the stack's data directory)
    result = subprocess.run([sys.executable, "-m", "infra.local.token", "--role", "viewer", "--data-dir",
                             str(local_stack.data_dir)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    token = result.stdout.strip()

    # THEN stdout is one token, for that role, which the running stack accepts for reads only
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    public_key = (local_stack.data_dir / "jwt-public.pem").read_text()
    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience=AUTH_AUDIENCE, issuer=AUTH_ISSUER)
    assert claims["cognito:groups"] == ["viewer"]
    assert requests.get(f"{local_stack.url}/orders", headers=bearer(token), timeout=10).status_code == 200
    assert requests.post(f"{local_stack.url}/clients", json={}, headers=bearer(token), timeout=10).status_code == 403


def test_make_token_for_a_machine_client_is_taken_by_the_running_stack(local_stack: RunningStack) -> None:
    # WHEN `make token CLIENT=storefront SCOPE=orderdesk/support` runs (its module, on the stack's data)
    result = subprocess.run([sys.executable, "-m", "infra.local.token", "--client", "storefront", "--scope",
                             "orderdesk/support", "--data-dir", str(local_stack.data_dir)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    token = result.stdout.strip()
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 1, result.stderr

    # THEN the running stack lets the storefront add a client and place an order, recorded as the
    # client, and refuses it a cancel
    new_client = requests.post(f"{local_stack.url}/clients", headers=bearer(token), timeout=10, json={
        "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "country": "US"})
    assert new_client.status_code == 201, new_client.text
    order = requests.post(f"{local_stack.url}/orders", headers=bearer(token), timeout=10, json={
        "client_id": new_client.json()["id"], "payment_method": "banktransfer", "skip_fraud_check": True,
        "items": [{"kind": "product", "description": "VPS 2GB", "amount": "15.00"}]})
    assert order.status_code == 201, order.text
    assert {h["actor"] for h in order.json()["history"]} == {"client:storefront"}
    cancel = requests.post(f"{local_stack.url}/orders/{order.json()['id']}/cancel", headers=bearer(token),
                           json={"refund": False}, timeout=10)
    assert cancel.status_code == 403


def test_make_token_before_any_run_says_what_to_do(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "infra.local.token", "--data-dir", str(tmp_path / "never")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1 and result.stdout == ""
    assert "make run" in result.stderr


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=f"cannot listen on 127.0.0.1:{port}.*PORT="):
            LocalStack(port=port, data_dir=tmp_path, seed=False).start()
    assert dynamodb_pids(tmp_path / "dynamodb") == []


# the asynchronous parts, wired as template.yaml says ---------------------------------------------


def new_order(stack: RunningStack, **overrides: Any) -> dict[str, Any]:
    token = stack.admin_token
    tag = uuid.uuid4().hex[:6]
    client = requests.post(f"{stack.url}/clients", headers=bearer(token), timeout=10, json={
        "first_name": "Eve", "last_name": f"Async{tag}", "email": f"eve.{tag}@example.com", "country": "GB"})
    assert client.status_code == 201, client.text
    body = {"client_id": client.json()["id"], "payment_method": "banktransfer", "skip_fraud_check": True,
            "items": [{"kind": "product", "description": "VPS 2GB", "amount": "15.00"}], **overrides}
    order = requests.post(f"{stack.url}/orders", headers=bearer(token), json=body, timeout=10)
    assert order.status_code == 201, order.text
    result: dict[str, Any] = order.json()
    return result


def get_order(stack: RunningStack, order_id: str) -> dict[str, Any]:
    resp = requests.get(f"{stack.url}/orders/{order_id}", headers=bearer(stack.admin_token), timeout=10)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


def test_bulk_status_change_runs_through_the_queue(local_stack: RunningStack) -> None:
    assert local_stack.bulk, local_stack.state["problems"]
    # GIVEN two pending orders
    orders = [new_order(local_stack), new_order(local_stack)]

    # WHEN an admin cancels both in bulk
    resp = requests.post(f"{local_stack.url}/orders/bulk", headers=bearer(local_stack.admin_token), timeout=10,
                         json={"order_ids": [o["id"] for o in orders], "status": "Cancelled"})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job"]["id"]

    # THEN the queue's consumer does it: the job ends DONE with both counted
    def done() -> dict[str, Any] | None:
        job = requests.get(f"{local_stack.url}/bulk-jobs/{job_id}", headers=bearer(local_stack.admin_token),
                           timeout=10).json()
        return job if job["status"] == "DONE" else None

    job = wait_for(done, what="bulk job DONE")
    assert (job["total"], job["succeeded"], job["failed"]) == (2, 2, 0)
    assert {get_order(local_stack, o["id"])["status"] for o in orders} == {"Cancelled"}


def test_new_orders_are_screened_from_the_table_stream(local_stack: RunningStack) -> None:
    assert local_stack.fraud_screening, local_stack.state["problems"]
    # GIVEN a new order placed without skip_fraud_check
    order = new_order(local_stack, skip_fraud_check=False)

    # THEN the stream consumer screens it and stores the result on the order
    screened = wait_for(lambda: get_order(local_stack, order["id"]).get("fraud_check"), what="fraud check stored")
    assert 0 <= screened["score"] <= 100


def test_accept_runs_the_step_functions_workflow(local_stack: RunningStack) -> None:
    assert local_stack.workflows, local_stack.state["problems"]
    # GIVEN a pending order
    order = new_order(local_stack)

    # WHEN it is accepted
    resp = requests.post(f"{local_stack.url}/orders/{order['id']}/accept", headers=bearer(local_stack.admin_token),
                         json={"send_welcome_email": False}, timeout=10)
    assert resp.status_code == 202, resp.text
    action = resp.json()["action"]

    # THEN the workflow runs to the end and the order is Active
    def finished() -> dict[str, Any] | None:
        got = requests.get(f"{local_stack.url}/orders/{order['id']}/actions/{action['id']}",
                           headers=bearer(local_stack.admin_token), timeout=10).json()
        return got if got["status"] != "RUNNING" else None

    assert wait_for(finished, what="accept workflow finished")["status"] == "SUCCEEDED"
    assert get_order(local_stack, order["id"])["status"] == "Active"


def test_stack_json_reports_what_is_wired(local_stack: RunningStack) -> None:
    state = json.loads((local_stack.data_dir / "stack.json").read_text())

    assert state["url"] == local_stack.url and state["pid"] == local_stack.process.pid
    assert state["schedules"], state["problems"]
    assert state["workflows"] and state["bulk"] and state["fraud_screening"], state["problems"]
    assert state["problems"] == []


def test_every_socket_the_stack_listens_on_is_bound_to_127_0_0_1(local_stack: RunningStack) -> None:
    # GIVEN the running stack: its process and every process it started (DynamoDB Local's JVM)
    state = json.loads((local_stack.data_dir / "stack.json").read_text())
    pids = descendants(local_stack.process.pid) | set(state["dynamodb_pids"])
    # WHEN the sockets they listen on are read from /proc/net/tcp{,6}, and from `ss -ltn`
    sockets = listening_sockets(pids)
    ss = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout.splitlines()
    # THEN the API, DynamoDB Local and moto are among them (the list is not empty by mistake) ...
    ports = {s.port for s in sockets}
    wanted = {int(url.rsplit(":", 1)[1]) for url in (local_stack.url, state["dynamodb"], state["moto"])}
    assert wanted <= ports, (wanted, sockets)
    # ... and every one is bound to 127.0.0.1 alone: none to 0.0.0.0, ::, or another interface
    assert [s for s in sockets if s.address != "127.0.0.1"] == [], sockets
    ss_addresses = {line.split()[3].rsplit(":", 1)[0] for line in ss if int(line.split()[3].rsplit(":", 1)[1]) in ports}
    assert ss_addresses == {"127.0.0.1"}, ss


@pytest.fixture(autouse=True)
def _no_signal_leak() -> Any:
    # the stack's own signal handlers belong to `python -m infra.local.stack`, never to pytest
    before = signal.getsignal(signal.SIGINT)
    yield
    assert signal.getsignal(signal.SIGINT) is before
