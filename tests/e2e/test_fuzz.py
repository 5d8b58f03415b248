"""Fuzzing: schemathesis against the running local stack's /openapi.json with an admin token —
every operation, every phase (examples, coverage, fuzzing, and stateful sequences that follow the
document's OpenAPI links, e.g. POST /orders → GET /orders/{order_id} → POST .../cancel → GET
.../actions/{action_id}, or POST /orders → POST .../item-commands on its first item → GET
.../actions/{action_id}), a bounded number of examples per operation. Every route the document
lists is fuzzed (the test counts them), so a route added later is fuzzed without a change here;
the hooks (fuzz_hooks.py) put real clients, servers, affiliates, orders and items into generated
requests where a random id could only be refused, and sign the requests of the routes that take a
signature instead of a token (SIGNING: a new route that changes something without a token fails
the test until it is there).

What must hold, for every generated request (valid or not):
  * no 5xx (`not_a_server_error`);
  * the status code is one the document declares, and the body, content type and headers match
    its schema (`status_code_conformance`, `response_schema_conformance`,
    `content_type_conformance`, `response_headers_conformance`);
  * a request that breaks the schema is refused with a 4xx (`negative_data_rejection`), a
    request without a token is refused (`ignored_auth`), a method no route has is a 405
    (`unsupported_method`), a deleted resource is gone (`use_after_free`), and so on.

Left out: `positive_data_acceptance` (a schema-valid request must be accepted). The API rightly
refuses some schema-valid requests for reasons a JSON Schema cannot state — an unknown client or
affiliate, a payment of 0.00, a cpanel server without a hostname, a domain with no registrar
endpoint — and those answers are 400s naming the field, which the other checks still validate.

FUZZ_EXAMPLES (default 6) and FUZZ_SEED (default fixed, so CI is repeatable) tune a run; a
random seed finds more over time: FUZZ_SEED=random .venv/bin/pytest tests/e2e/test_fuzz.py. The
stack is this module's own: what the fuzzer creates, cancels and deletes must not surprise the
tests sharing `local_stack`."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.stack_fixture import REPO_ROOT, RunningStack, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("java") is None, reason="DynamoDB Local needs Java")]

EXCLUDED_CHECKS = ["positive_data_acceptance"]
# a route signed by its sender instead of carrying a token → how it is signed, and the file of the
# local stack's data directory holding the secret (the hooks sign generated requests with it)
# holding the secret its sender signs with (the hooks sign generated requests with it)
SIGNING = {"/registrar/events": ("orderdesk", "registrar.secret"),
           "/gateways/stripe/webhook": ("stripe", "stripe-webhook.secret")}
STATEFUL_STEPS = 10


def schemathesis_cli() -> str:
    path = Path(sys.executable).with_name("schemathesis")
    if not path.exists():
        pytest.fail("schemathesis is not installed: `make setup` installs the dev dependencies")
    return str(path)


def known_ids(url: str, token: str) -> dict[str, list[Any]]:
    """Real clients, servers and affiliates for the hooks to put into generated orders."""
    headers = {"Authorization": f"Bearer {token}"}

    def ids(path: str, key: str) -> list[str]:
        r = requests.get(url + path, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()[key]]

    servers = ids("/servers", "servers")
    if not servers:
        r = requests.post(url + "/servers", headers=headers, timeout=30,
                          json={"name": "fuzz-none", "module": "none", "credentials": "fuzz-server-secret"})
        assert r.status_code == 201, r.text
        servers = [r.json()["id"]]
    affiliates = ids("/affiliates", "affiliates")
    if not affiliates:
        r = requests.post(url + "/affiliates", headers=headers, timeout=30,
                          json={"name": "Fuzz Partner", "email": "fuzz.partner@example.com"})
        assert r.status_code == 201, r.text
        affiliates = [r.json()["id"]]
    orders = []
    for order_id in ids("/orders?limit=10", "orders"):  # with their items, for the item commands
        r = requests.get(f"{url}/orders/{order_id}", headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        orders.append({"id": order_id, "items": [i["id"] for i in r.json()["items"]]})
    return {"clients": ids("/clients", "clients")[:20], "servers": servers, "affiliates": affiliates,
            "orders": orders}


def run_schemathesis(url: str, token: str, workdir: Path, *, examples: int, seed: str,
                     signing: dict[str, dict[str, str]] | None = None) -> tuple[int, str, float]:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks", "NO_COLOR": "1",
           "ORDERDESK_FUZZ_IDS": json.dumps(known_ids(url, token)),
           "ORDERDESK_FUZZ_SIGNING": json.dumps(signing or {}),
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    config = workdir / "schemathesis.toml"
    # longer stateful sequences than the default (6 steps, as many scenarios as examples): enough
    # for POST /orders → POST .../item-commands → GET .../actions/{id} and the like to come up
    config.write_text(f"[phases.stateful]\nmax-steps = {STATEFUL_STEPS}\n\n"
                      f"[phases.stateful.generation]\nmax-examples = {examples * 4}\n")
    args = [schemathesis_cli(), "--config-file", str(config), "run", f"{url}/openapi.json",
            "--header", f"Authorization: Bearer {token}",
            "--checks", "all", "--exclude-checks", ",".join(EXCLUDED_CHECKS),
            "--max-examples", str(examples), "--seed", seed,
            "--workers", "1", "--request-timeout", "30", "--continue-on-failure",
            "--report", "junit,har", "--report-dir", str(workdir)]
    started = time.monotonic()
    proc = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True, timeout=540)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def har_answers(report_dir: Path) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """Each operation's (method, templated path) answers, status and body, from the HAR report."""
    answers: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for har in report_dir.rglob("har-*.json"):
        for entry in json.loads(har.read_text())["log"]["entries"]:
            path = urlsplit(entry["request"]["url"]).path
            if path.startswith("/orders/") and path.endswith("/item-commands"):
                path = "/orders/{order_id}/item-commands"
            answer = (entry["response"]["status"], entry["response"].get("content", {}).get("text") or "")
            answers.setdefault((entry["request"]["method"], path), []).append(answer)
    return answers


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The local stack as `make run` starts it (20 demo orders), for this module alone."""
    with running_stack(tmp_path_factory.mktemp("fuzzed-stack")) as stack:
        yield stack


def test_schemathesis_finds_no_server_error_and_no_schema_break(fuzzed_stack: RunningStack, tmp_path: Path) -> None:
    # GIVEN the running local stack (demo data, workflows, bulk queue) and an admin token
    local_stack = fuzzed_stack
    token = local_stack.token("admin")
    seed = os.environ.get("FUZZ_SEED", "20261126")
    if seed == "random":
        seed = str(random.randrange(2**63))
    examples = int(os.environ.get("FUZZ_EXAMPLES", "6"))

    doc = requests.get(f"{local_stack.url}/openapi.json", timeout=30).json()
    # (every operation that changes something without a token: signed by its sender)
    signed = sorted(path for path, methods in doc["paths"].items() for method, op in methods.items()
                    if method != "get" and not any("bearer" in s for s in op.get("security", [])))
    assert set(signed) <= set(SIGNING), f"routes without a token the fuzzer cannot sign (add them to SIGNING): {signed}"

    # WHEN schemathesis runs every phase against every operation of /openapi.json
    # (the signed routes signed as their sender would: fuzzed past the signature)
    signing = {path: {"scheme": SIGNING[path][0], "secret": (local_stack.data_dir / SIGNING[path][1]).read_text().strip()}
               for path in signed}
    code, output, took = run_schemathesis(local_stack.url, token, tmp_path, examples=examples, seed=seed,
                                          signing=signing)

    print(f"schemathesis: {took:.0f} s, seed {seed}, {examples} examples")  # the figure for tests/README (-s)

    # THEN it ends clean: no failure of any check, every operation tested
    summary = output[output.find("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    assert code == 0, f"schemathesis found failures (seed {seed}, {took:.0f} s):\n{output[-12000:]}"
    assert "Tested: " in summary and "failures" not in summary.splitlines()[-1], summary
    operations = sum(len(ops) for ops in doc["paths"].values())
    assert f"Selected: {operations}/{operations}" in summary and f"Tested: {operations}" in summary, summary
    assert "Stateful" in summary, summary
    # AND the hooks brought requests past the refusals a random id or signature gets: an item
    # command started on a real item, a signed event read (past the signature: its body judged)
    answers = har_answers(tmp_path)
    commands = answers.get(("POST", "/orders/{order_id}/item-commands"), [])
    assert any(status == 202 for status, _ in commands), sorted({status for status, _ in commands})
    for path in signed:
        past = [(status, text) for status, text in answers.get(("POST", path), [])
                if status not in (401, 415) and "signature" not in text.lower()]
        assert past, (path, sorted({status for status, _ in answers.get(("POST", path), [])}))
