"""What 10,000 order lifecycles cost in AWS, from 1,000 real ones on the local stack.

A lifecycle: POST /orders (fraud screening runs on the stream record) → the screening's result
on the order → POST /invoices/{id}/payments → POST /orders/{id}/accept (Step Functions) →
POST /orders/{id}/cancel {"refund": true} (Step Functions). The whole local stack runs it
(`infra.local.stack.LocalStack`: DynamoDB Local, moto's Step Functions executing the ASL with
the project's Lambda handlers, the stream poller feeding fraud screening), driven over HTTP.

Measured: DynamoDB consumed capacity (`bench.probes`: ReturnConsumedCapacity on every request of
every component), each Lambda handler's invocations and durations (the handlers are wrapped; the
API function is the Chalice app's own call), Step Functions state transitions (the `*StateEntered`
events of every execution's history), and SQS requests. The benchmark's own polling is unmetered."""

from __future__ import annotations

import importlib
import json
import math
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import pricing, probes
from bench.results import Result

REPO_ROOT = Path(__file__).resolve().parents[1]


class Invocations:
    """Calls and durations of each Lambda function, by handler path, per phase."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.phase: str | None = None  # None: not recording

    def add(self, name: str, seconds: float) -> None:
        phase = self.phase
        if phase is not None:
            with self.lock:
                self.calls[phase][name].append(seconds)

    def count(self, name: str) -> int:
        return sum(len(by_name.get(name, [])) for by_name in self.calls.values())

    def names(self) -> list[str]:
        return sorted({n for by_name in self.calls.values() for n in by_name})

    def wrap(self, name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        timed.bench_timed = True  # type: ignore[attr-defined]
        return timed


def wrap_handlers(invocations: Invocations) -> None:
    """Every functions/<name>/app.py handler, timed (before anything looks the handlers up)."""
    for path in sorted((REPO_ROOT / "functions").glob("*/app.py")):
        module = importlib.import_module(f"functions.{path.parent.name}.app")
        if hasattr(module, "handler") and not getattr(module.handler, "bench_timed", False):
            module.handler = invocations.wrap(f"functions.{path.parent.name}.app.handler", module.handler)


def wrap_api(invocations: Invocations, app: Any) -> None:
    """The Chalice app is the API function: each call of it is one invocation."""
    cls = type(app)
    if not getattr(cls.__call__, "bench_timed", False):
        cls.__call__ = invocations.wrap("api.app.app", cls.__call__)


class Http:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path} -> {exc.code}: {exc.read()[:300]!r}") from exc
        return json.loads(raw) if raw else None


def _wait(what: str, check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    with probes.unmetered():
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


def _action_done(order_id: str, action_id: str) -> Any:
    from orderdesk.services.ports import stores

    action = stores().actions.get_action(order_id, action_id)
    return action if action.status.value != "RUNNING" else None


def _screened(order_id: str) -> bool:
    from orderdesk.services.ports import stores

    return stores().orders.get_order_header(order_id).fraud_check is not None


def one_lifecycle(http: Http, n: int, client_id: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"kind": "product", "description": "Business Hosting", "billing_cycle": "monthly",
                                    "amount": "24.00"}]
    if n % 5 < 3:  # three orders in five come with a domain, as in the demo data
        items.append({"kind": "domain", "description": "Domain", "amount": "12.99", "domain": f"bench-{n}.com",
                      "registration_type": "register", "period_years": 1})
    order = http.call("POST", "/orders", {"client_id": client_id, "items": items, "payment_method": "banktransfer",
                                          "ip_address": f"203.0.113.{n % 250 + 1}"})
    oid = order["id"]
    _wait("fraud screening", lambda: _screened(oid))
    http.call("POST", f"/invoices/{order['invoice_id']}/payments",
              {"amount": order["total"], "gateway": "manual", "transaction_id": f"BENCH-{n}"})
    accept = http.call("POST", f"/orders/{oid}/accept", {})["action"]
    accepted = _wait("accept", lambda: _action_done(oid, accept["id"]))
    cancel = http.call("POST", f"/orders/{oid}/cancel", {"refund": True})["action"]
    cancelled = _wait("cancel & refund", lambda: _action_done(oid, cancel["id"]))
    return {"items": len(items), "accept": accepted.status.value, "cancel": cancelled.status.value}


def _transitions(state_machines: dict[str, str]) -> dict[str, Any]:
    import boto3

    sfn = boto3.client("stepfunctions")
    out: dict[str, Any] = {}
    for lid, arn in sorted(state_machines.items()):
        if not arn.startswith("arn:aws:states:"):
            continue
        executions, transitions, statuses = 0, 0, defaultdict(int)
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            for ex in page["executions"]:
                executions += 1
                statuses[ex["status"]] += 1
                for hist in sfn.get_paginator("get_execution_history").paginate(executionArn=ex["executionArn"]):
                    transitions += sum(1 for e in hist["events"] if e["type"].endswith("StateEntered"))
        out[lid] = {"executions": executions, "transitions": transitions, "statuses": dict(statuses)}
    return out


def measure(lifecycles: int = 1000, workers: int = 8, calibration: int = 20, scale_to: int = 10_000) -> Result:
    from infra.local import template_wiring as tw
    from infra.local.stack import LocalStack
    from infra.local.table import load_template

    probes.install()
    invocations = Invocations()
    wrap_handlers(invocations)
    memory = {f.handler: f.memory_mb for f in tw.functions_in(load_template()).values()}
    with tempfile.TemporaryDirectory(prefix="orderdesk-bench-life-") as tmp, \
            LocalStack(port=0, data_dir=Path(tmp), seed=False, log_requests=False) as stack:
        import app as app_module

        wrap_api(invocations, app_module.app)
        assert stack.url is not None
        http = Http(stack.url, stack.token("admin"))
        clients = [http.call("POST", "/clients", {
            "first_name": "Bench", "last_name": f"Client{n}", "email": f"bench.client{n}@initech-hosting.com",
            "country": "US", "company": "Initech"})["id"] for n in range(lifecycles)]
        results: list[dict[str, Any]] = []
        errors: list[str] = []

        def run(numbers: range, width: int) -> None:
            with ThreadPoolExecutor(max_workers=width, thread_name_prefix="bench-life") as pool:
                futures = [pool.submit(one_lifecycle, http, n, clients[n]) for n in numbers]
                for f in futures:
                    try:
                        results.append(f.result())
                    except Exception as exc:  # counted and shown; the figure is per completed lifecycle
                        errors.append(f"{type(exc).__name__}: {exc}"[:300])

        started = time.perf_counter()
        calibration = max(1, min(calibration, lifecycles))
        with probes.meter() as capacity:
            # durations from lifecycles run one at a time (in AWS each invocation has its own
            # CPU); counts, capacity and transitions from all of them
            invocations.phase = "calibration"
            run(range(calibration), 1)
            invocations.phase = "main"
            run(range(calibration, lifecycles), workers)
            invocations.phase = None
        elapsed = time.perf_counter() - started
        with probes.unmetered():
            sfn = _transitions(stack.state_machines)
        emails = sum(1 for _ in Path(tmp, "outbox").rglob("*.eml"))
    done = sum(1 for r in results if r["accept"] == "SUCCEEDED" and r["cancel"] == "SUCCEEDED")
    if not done:
        return Result("cost_per_10k_lifecycles_usd", None, "USD", {"error": "no lifecycle completed",
                                                                   "errors": errors[:5]})
    scale = scale_to / done
    dynamodb = (capacity.write_units * pricing.DYNAMODB_PER_MILLION_WRU
                + capacity.read_units * pricing.DYNAMODB_PER_MILLION_RRU) / 1e6
    functions: dict[str, Any] = {}
    lambda_usd = 0.0
    timed = invocations.calls.get("calibration", {})
    for name in invocations.names():
        durations = timed.get(name) or invocations.calls["main"][name]
        if len(durations) >= 3:
            durations = durations[1:]  # warm invocations: the first of each function ran its lazy set-up
        count = invocations.count(name)
        mb = memory.get(name, 512)
        billed_ms = sum(math.ceil(d * 1000) for d in durations) / len(durations)  # rounded up to 1 ms each
        gb_s = count * billed_ms / 1000 * mb / 1024
        usd = gb_s * pricing.LAMBDA_PER_GB_SECOND_ARM + count * pricing.LAMBDA_PER_MILLION_REQUESTS / 1e6
        lambda_usd += usd
        functions[name] = {"invocations": count, "memory_mb": mb, "billed_ms_mean": round(billed_ms, 1),
                           "timed_invocations": len(durations), "usd_per_10k": round(usd * scale, 4)}
    transitions = sum(v["transitions"] for v in sfn.values())
    sfn_usd = transitions * pricing.SFN_PER_THOUSAND_TRANSITIONS / 1000
    sqs_requests = sum(capacity.sqs_requests.values())
    sqs_usd = sqs_requests * pricing.SQS_PER_MILLION_REQUESTS / 1e6
    total = (dynamodb + lambda_usd + sfn_usd + sqs_usd) * scale
    api_calls = invocations.count("api.app.app")
    return Result("cost_per_10k_lifecycles_usd", round(total, 3), "USD", {
        "target": "< 5",
        "lifecycles": lifecycles,
        "completed": done,
        "failed": len(errors),
        "errors": errors[:5],
        "workers": workers,
        "lambda_durations": f"warm invocations of the first {calibration} lifecycles, run one at a time (in AWS each "
                            "invocation has its CPU to itself); wall time on this machine, with its other load",
        "seconds": round(elapsed, 1),
        "items_per_order": round(sum(r["items"] for r in results) / max(1, len(results)), 2),
        "breakdown_usd_per_10k": {
            "dynamodb": round(dynamodb * scale, 4),
            "lambda": round(lambda_usd * scale, 4),
            "step_functions": round(sfn_usd * scale, 4),
            "sqs": round(sqs_usd * scale, 4),
        },
        "per_lifecycle": {
            "write_request_units": round(capacity.write_units / done, 2),
            "failed_conditional_writes": round(capacity.failed_conditions / done, 2),
            "read_request_units": round(capacity.read_units / done, 2),
            "dynamodb_requests": round(capacity.requests / done, 2),
            "lambda_invocations": round(sum(invocations.count(n) for n in invocations.names()) / done, 2),
            "state_transitions": round(transitions / done, 2),
            "sqs_requests": round(sqs_requests / done, 2),
        },
        "capacity_by_operation_per_lifecycle": {k: round(v / done, 2) for k, v in capacity.by_operation.items()},
        "answers_without_capacity": dict(probes.PROBE.no_capacity),
        "state_machines": sfn,
        "functions": functions,
        "also_billed_not_in_value_usd_per_10k": {
            "api_gateway_rest": round(api_calls * scale * pricing.API_GATEWAY_REST_PER_MILLION / 1e6, 4),
            "ses_emails": round(emails * scale * pricing.SES_PER_THOUSAND_EMAILS / 1000, 4),
            "note": "the authorizer's result is cached by API Gateway (not counted); CloudWatch Logs and X-Ray "
                    "are not counted",
        },
        "prices": pricing.SOURCE,
    })
