"""Browser tests of the admin portal: Playwright driving Debian's Chromium against a running
OrderDesk (API and portal on one port).

`stack` is the whole local stack (infra/local/stack.py, what `make run` starts) in its own
process; a flow whose part of the stack is not wired fails, naming it."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack_fixture import RunningStack, local_stack  # noqa: F401 - the whole local stack (make run), once a session

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TOKEN_KEY = "orderdesk.token"

PortalStack = RunningStack  # what the browser tests are given


class HttpApi:
    """Arrange test data through the API itself, as any client would."""

    def __init__(self, stack: PortalStack, role: str = "admin") -> None:
        self.base = stack.url.rstrip("/")
        self.token = stack.token(role)

    def call(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        payload = json.loads(raw) if raw else None
        if expect is not None:
            assert status == expect, f"{method} {path} -> {status}: {payload}"
        return payload

    def get(self, path: str) -> Any:
        return self.call("GET", path, expect=200)

    def post(self, path: str, body: Any = None, expect: int = 201) -> Any:
        return self.call("POST", path, body if body is not None else {}, expect=expect)

    # -- builders ---------------------------------------------------------------------------

    def client(self, **overrides: Any) -> dict[str, Any]:
        tag = uuid.uuid4().hex[:6]
        body = {"first_name": "Testa", "last_name": f"Rossi{tag}", "email": f"testa.{tag}@example.com",
                "country": "GB", "company": f"Rossi {tag} Ltd", **overrides}
        return self.post("/clients", body)

    def order(self, client_id: str, items: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
        body = {"client_id": client_id, "payment_method": "stripe", "skip_fraud_check": True,
                "items": items or [{"kind": "product", "description": "Business Hosting", "amount": "24.00"}],
                **overrides}
        return self.post("/orders", body)

    def pay(self, order: dict[str, Any], gateway: str = "manual") -> dict[str, Any]:
        return self.post(f"/invoices/{order['invoice_id']}/payments",
                         {"amount": order["total"], "gateway": gateway, "transaction_id": f"T{uuid.uuid4().hex[:8]}"})


@pytest.fixture(scope="session")
def stack(local_stack):  # type: ignore[no-untyped-def]  # noqa: F811
    """The whole local stack, as `make run` starts it: API and portal on one port, workflows,
    the bulk queue and fraud screening, with a small demo data set."""
    return local_stack


@pytest.fixture()
def http(stack: PortalStack) -> HttpApi:
    return HttpApi(stack)


def require(stack: PortalStack, capability: str, waits_on: str) -> None:
    """Skip, saying what it waits on, when the running stack lacks a part this flow needs."""
    if not getattr(stack, capability, True):
        pytest.fail(f"the local stack did not wire {capability} ({waits_on})")


def require_route(http: HttpApi, method: str, path: str) -> None:
    """Skip while the API does not have this route yet (it is being built)."""
    doc = http.call("GET", "/openapi.json", expect=200)
    norm = lambda p: re.sub(r"{[^}]+}", "{}", p)  # noqa: E731
    routes = {(m.upper(), norm(p)) for p, ops in doc.get("paths", {}).items() for m in ops}
    if (method.upper(), norm(path)) not in routes:
        pytest.fail(f"the API has no route {method.upper()} {path}")


# -- browser ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, stack: PortalStack):  # type: ignore[no-untyped-def]
    """A fresh browser tab on a laptop-sized window. Uncaught script errors fail the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 820}, locale="en-US", timezone_id="UTC",
                                  base_url=stack.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    tab.on("console", lambda msg: errors.append(f"console: {msg.text}")
           if msg.type == "error" and "Failed to load resource" not in msg.text else None)
    yield tab
    context.close()
    assert not errors, errors


def sign_in(page, stack: PortalStack, role: str = "admin") -> None:  # type: ignore[no-untyped-def]
    """Start every page of this tab signed in (the sign-in screen itself has its own test)."""
    page.context.add_init_script(f"sessionStorage.setItem({json.dumps(TOKEN_KEY)}, {json.dumps(stack.token(role))})")


def shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"portal-{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky side panel sits where the viewport was
    page.screenshot(path=str(path), full_page=True)
    return path
