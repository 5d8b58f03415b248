"""`local_stack`: the real local stack (`python -m infra.local.stack`, what `make run` starts) in its
own process, once per test session, on a free port with a temporary data directory and a small
demo data set.

Its own process, because the stack is configured through the environment (table, keys,
endpoints) and moto's backends are process-wide: no other test can change them under it, and
stopping it is the same Ctrl-C a user sends. Import the fixture into a conftest to use it:

    from tests.e2e.stack_fixture import local_stack  # noqa: F401

`local_stack.url` (no trailing slash), `.token(role)`, `.admin_token`, `.private_key`, and what
the running stack could wire: `.workflows`, `.bulk`, `.fraud_screening` (see stack.json)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# what the stack needs from the parent's environment; nothing the application reads
PASSED_ENV = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "JAVA_HOME", "TERM")


@dataclass
class RunningStack:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    state: dict[str, Any]
    log: Path
    private_key: str = field(repr=False, default="")

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    @property
    def workflows(self) -> bool:
        return bool(self.state.get("workflows"))

    @property
    def bulk(self) -> bool:
        return bool(self.state.get("bulk"))

    @property
    def fraud_screening(self) -> bool:
        return bool(self.state.get("fraud_screening"))

    def token(self, role: str = "admin", **kwargs: Any) -> str:
        from infra.local.stack import AUTH_AUDIENCE, AUTH_ISSUER
        from orderdesk.api.auth import issue_token

        kwargs.setdefault("subject", f"e2e-{role}")
        kwargs.setdefault("email", f"{role}@orderdesk.test")
        return issue_token(self.private_key, role, issuer=AUTH_ISSUER, audience=AUTH_AUDIENCE, **kwargs)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def stack_environment() -> dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers" / "common" / "python")])
    env["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_stack_process(data_dir: Path, *, port: int = 0, seed_orders: int = 20, seed_clients: int = 8,
                        timeout: float = 120.0, env: dict[str, str] | None = None) -> RunningStack:
    """`python -m infra.local.stack` on ``data_dir``; returns once it has written stack.json.
    ``env``: settings the user would give `make run` (``AUTO_ACCEPT=paid make run``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    state_file = data_dir / "stack.json"
    state_file.unlink(missing_ok=True)
    log = data_dir / "stack.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.stack", "--port", str(port), "--data-dir", str(data_dir),
             "--seed-orders", str(seed_orders), "--seed-clients", str(seed_clients), "--quiet", "--exit-with-parent"],
            cwd=REPO_ROOT, env={**stack_environment(), **(env or {})}, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            state = json.loads(state_file.read_text())
            if state.get("pid") == process.pid:
                return RunningStack(url=state["url"], data_dir=data_dir, process=process, state=state, log=log,
                                    private_key=(data_dir / "jwt-private.pem").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.1)
    stop_stack_process(process)
    raise RuntimeError(f"the local stack was not up within {timeout:.0f}s:\n{log.read_text()[-4000:]}")


def stop_stack_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """Ctrl-C, as a user stops `make run`; killed only if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextmanager
def running_stack(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[RunningStack]:
    """The local stack as `make run` starts it (20 demo orders) on `data_dir`, stopped after."""
    from infra.local.stack import dynamodb_pids

    stack = start_stack_process(data_dir, env=env)
    try:
        yield stack
    finally:
        stop_stack_process(stack.process)
        for pid in dynamodb_pids(data_dir / "dynamodb"):  # never leave a JVM behind, whatever happened
            os.kill(pid, signal.SIGKILL)


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout}s")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The whole local stack, started once for the session (20 demo orders)."""
    with running_stack(tmp_path_factory.mktemp("local-stack")) as stack:
        yield stack
