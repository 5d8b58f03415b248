"""The pieces of the local stack a benchmark needs, started by the benchmark itself:
DynamoDB Local (in memory), the table from template.yaml, signing keys for the API's tokens,
the Chalice app behind chalice.test.Client, and moto's server where SQS or Step Functions are
needed. Endpoints go through botocore's AWS_ENDPOINT_URL_* variables, as everywhere else."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench import probes
from infra.local.keys import new_rsa_keypair

REPO_ROOT = Path(__file__).resolve().parents[1]


def _dynamodb_local() -> Any:
    from infra.local.dynamodb_local import DynamoDBLocal

    class BenchDynamoDBLocal(DynamoDBLocal):
        """With the JVM's full JIT: the tests start DynamoDB Local with C1 only (a fast start for a
        short life); a benchmark that writes 100,000 orders gains more from peak throughput."""

        def command(self, port: int) -> list[str]:
            return [a for a in super().command(port) if a != "-XX:TieredStopAtLevel=1"]

    return BenchDynamoDBLocal(data_dir=None)


class Stack:
    """`with Stack() as stack:` — DynamoDB Local and a fresh table; `stack.api()` calls the app.
    `stream=False`: the table has no stream, for stages that never read it (DynamoDB Local slows
    every write to a streamed table with the stream records it holds, which AWS does not:
    seeding 100,000 orders into a streamed table measured DynamoDB Local, not OrderDesk)."""

    def __init__(self, *, stream: bool = True) -> None:
        self.stream = stream
        self.ddb: Any = None
        self.moto: Any = None
        self.table_name = ""
        self.private_key = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="orderdesk-bench-")
        self._saved_env: dict[str, str | None] = {}
        self._client: Any = None
        self._sqs_process: Any = None

    # -- environment -------------------------------------------------------------------------------

    def setenv(self, name: str, value: str) -> None:
        if name not in self._saved_env:
            self._saved_env[name] = os.environ.get(name)
        os.environ[name] = value

    def _reset(self) -> None:
        from orderdesk.adapters import aws
        from orderdesk.config import reset_settings

        reset_settings()
        aws.reset_clients()

    def start(self) -> Stack:
        probes.install()  # before the first botocore session of this process
        from cryptography.fernet import Fernet

        for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                            "POWERTOOLS_DEV": "false", "POWERTOOLS_LOG_LEVEL": "ERROR"}.items():
            self.setenv(name, value)
        self.private_key, public = new_rsa_keypair()
        key_file = Path(self._tmp.name) / "public.pem"
        key_file.write_text(public)
        self.setenv("AUTH_PUBLIC_KEY_FILE", str(key_file))
        self.setenv("AUTH_ISSUER", "orderdesk-bench")
        self.setenv("AUTH_AUDIENCE", "orderdesk")
        self.setenv("SECRETS_KEY", Fernet.generate_key().decode())
        self.setenv("CURSOR_SECRET", "bench-cursor-secret")
        self.setenv("EMAIL_OUTBOX_DIR", str(Path(self._tmp.name) / "outbox"))

        self.ddb = _dynamodb_local()
        self.ddb.start()
        self.setenv("AWS_ENDPOINT_URL_DYNAMODB", self.ddb.endpoint)
        self.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", self.ddb.endpoint)
        self.new_table()
        return self

    def new_table(self) -> str:
        """A fresh, empty table (built from template.yaml) that the app now uses."""
        from infra.local.table import create_table

        self.table_name = f"orderdesk-bench-{uuid.uuid4().hex[:8]}"
        create_table(self.raw_client(), self.table_name, stream=self.stream)
        self.setenv("TABLE_NAME", self.table_name)
        self._reset()
        return self.table_name

    def raw_client(self) -> Any:
        """A plain boto3 DynamoDB client: the floor the app is measured against."""
        import boto3
        from botocore.config import Config

        return boto3.client("dynamodb", region_name="us-east-1",
                            config=Config(max_pool_connections=32, retries={"mode": "standard"}))

    def start_moto(self, lambda_functions: dict[str, Any] | None = None) -> str:
        """moto's server (SQS, Step Functions with execute_state_machine, Lambda Invoke served
        in-process), pointed at by AWS_ENDPOINT_URL_SQS / _STEPFUNCTIONS / _LAMBDA."""
        from infra.local.moto_server import MotoServer

        self.moto = MotoServer(lambda_functions or {}, dynamodb_endpoint=self.ddb.endpoint, retry_sleep_scale=0.01)
        endpoint = self.moto.start()
        for service in ("SQS", "STEPFUNCTIONS", "SFN", "LAMBDA", "SCHEDULER"):
            self.setenv(f"AWS_ENDPOINT_URL_{service}", endpoint)
        self._reset()
        return endpoint

    def start_sqs_server(self) -> str:
        """moto's server for SQS in a process of its own, pointed at by AWS_ENDPOINT_URL_SQS. In
        AWS the queue is not in the consumer's process; moto's SQS in it would share the
        consumer's interpreter lock (its receive walks every message of the queue)."""
        import subprocess
        import sys
        import time
        import urllib.request

        from infra.local.dynamodb_local import free_port

        port = free_port()
        self._sqs_process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()  # noqa: S310 - loopback
                break
            except OSError:
                if self._sqs_process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's server for SQS did not start") from None
                time.sleep(0.2)
        self.setenv("AWS_ENDPOINT_URL_SQS", endpoint)
        self._reset()
        return endpoint

    # -- the API in-process ---------------------------------------------------------------------------

    def token(self, role: str = "admin") -> str:
        from orderdesk.api.auth import issue_token

        return issue_token(self.private_key, role)

    def api(self) -> Api:
        if self._client is None:
            from chalice.test import Client

            from infra.local import gateway

            gateway.install()
            import app as app_module

            self._client = Client(app_module.app)
        return Api(self._client, self.token("admin"))

    def stop(self) -> None:
        if self._sqs_process is not None:
            self._sqs_process.terminate()
            self._sqs_process.wait(timeout=30)
            self._sqs_process = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        if self.ddb is not None:
            self.ddb.stop()
            self.ddb = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        self._tmp.cleanup()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ApiError(AssertionError):
    pass


class Api:
    """The app through chalice.test.Client, as the admin portal calls it."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None, expect: int | tuple[int, ...] = (200, 201, 202, 204),
             headers: dict[str, str] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        resp = self.client.http.request(method, path, headers={**self.headers, **(headers or {})}, body=data)
        wanted = (expect,) if isinstance(expect, int) else expect
        if resp.status_code not in wanted:
            raise ApiError(f"{method} {path} -> {resp.status_code}: {resp.body[:500]!r}")
        return json.loads(resp.body) if resp.body else None

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body if body is not None else {}, **kw)
