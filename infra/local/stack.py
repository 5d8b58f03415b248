"""The whole of OrderDesk on one machine, with no AWS account: ``make run``.

``python -m infra.local.stack --port 8000`` (or ``LocalStack(...)`` in a test) starts, in order:

1. ``.local/`` (the data directory): an RSA key pair for signing local tokens, a Fernet key for
   write-only secrets and a cursor-signing secret, generated once and kept; the environment the
   code reads (``TABLE_NAME``, ``AUTH_*``, ``SECRETS_KEY``, ``CURSOR_SECRET``,
   ``EMAIL_OUTBOX_DIR``, credentials ``local``, and the botocore ``AWS_ENDPOINT_URL_<SERVICE>``
   variables, so no code path differs from AWS).
2. DynamoDB Local with its database in ``.local/dynamodb/`` (kept across restarts), and the table
   created from template.yaml when it is missing.
3. moto's server in-process: Step Functions (the ASL really executed, its Lambda tasks answered
   by the project's handlers), SQS and EventBridge Scheduler. moto keeps its state in memory, so
   the queues (with the template's redrive policies), state machines and schedules are created
   afresh at every start; their URLs and ARNs reach the code through the environment variables
   that template.yaml gives the functions (``!Ref BulkQueue`` → ``BULK_QUEUE_URL``...).
4. Demo data on the first start only (``infra.local.seed``; ``.local/seeded`` marks it done).
5. The event sources of template.yaml: the SQS queue and the table's stream polled and fed to
   their functions with Lambda's event shapes (``infra.local.event_sources``), and a timer
   firing the scheduled functions (``infra.local.schedules``).
6. The Chalice app (API and admin portal) on one port, threaded, behind chalice's local API
   Gateway with ``infra.local.gateway`` (401s shaped as in AWS).
7. A fresh admin token in ``.local/admin.token``; ``.local/stack.json`` says where it runs.

Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops everything in reverse order, DynamoDB Local's JVM
included. The JVM runs in its own session, so a Ctrl-C in the terminal reaches only this process,
which stops the pollers before the database; a JVM orphaned by a killed stack is found and stopped
at the next start. One stack per data directory (``.local/stack.lock``), one per process (moto's
backends and the environment are process-wide).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, Self

from infra.local import machine_clients
from infra.local import template_wiring as tw
from infra.local.dynamodb_local import DynamoDBLocal
from infra.local.schedules import Expression, LocalSchedule, ScheduleExpressionError, ScheduleRunner
from infra.local.table import TEMPLATE, load_template

LOG = logging.getLogger("infra.local.stack")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / ".local"
TABLE_NAME = "orderdesk"
TABLE_LOGICAL_ID = "Table"
AUTH_ISSUER = "orderdesk-local"
AUTH_AUDIENCE = "orderdesk"
REGION = tw.REGION
ACCOUNT_ID = tw.ACCOUNT_ID
ROLES = ("viewer", "support", "billing", "admin")
SCHEDULER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/orderdesk-local-scheduler"

class StackError(RuntimeError):
    """The local stack cannot start; the message says what to do."""


# -- .local/ ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalFiles:
    """The files of one data directory (``.local/`` for ``make run``)."""

    root: Path

    @property
    def private_key(self) -> Path:
        return self.root / "jwt-private.pem"

    @property
    def public_key(self) -> Path:
        return self.root / "jwt-public.pem"

    @property
    def secrets_key(self) -> Path:
        return self.root / "secrets.key"

    @property
    def cursor_secret(self) -> Path:
        return self.root / "cursor.secret"

    @property
    def admin_token(self) -> Path:
        return self.root / "admin.token"

    @property
    def dynamodb(self) -> Path:
        return self.root / "dynamodb"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def seeded(self) -> Path:
        return self.root / "seeded"

    @property
    def queued(self) -> Path:
        return self.root / "queued.json"

    @property
    def state(self) -> Path:
        return self.root / "stack.json"

    @property
    def lock(self) -> Path:
        return self.root / "stack.lock"

    def ensure_secrets(self) -> list[str]:
        """Create whichever key is missing; keep the others. Returns the names created."""
        self.root.mkdir(parents=True, exist_ok=True)
        created = []
        if not (self.private_key.exists() and self.public_key.exists()):
            from infra.local.keys import new_rsa_keypair

            private, public = new_rsa_keypair()
            _write_private(self.private_key, private.encode())
            _write_private(self.public_key, public.encode(), mode=0o644)
            created.append("JWT key pair")
        if not self.secrets_key.exists():
            from cryptography.fernet import Fernet

            _write_private(self.secrets_key, Fernet.generate_key())
            created.append("secrets key")
        if not self.cursor_secret.exists():
            _write_private(self.cursor_secret, secrets.token_urlsafe(32).encode())
            created.append("cursor secret")
        return created

    def running_stack(self) -> dict[str, Any] | None:
        """What ``stack.json`` says, when the process that wrote it is still alive."""
        try:
            state: dict[str, Any] = json.loads(self.state.read_text())
            os.kill(int(state["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return state


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write atomically with ``mode``: a reader never sees half a key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


# -- the environment --------------------------------------------------------------------------------


class EnvPatch:
    """Sets environment variables and remembers what they were; ``restore()`` puts them back.
    ``None`` removes a variable."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def apply(self, values: dict[str, str | None], *, keep_existing: bool = False) -> None:
        for name, value in values.items():
            if keep_existing and name in os.environ and name not in self._saved:
                continue
            self._saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def names(self) -> set[str]:
        return set(self._saved)

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


def base_environment(files: LocalFiles) -> dict[str, str | None]:
    """Everything but the endpoints: credentials, region, table, auth and secrets."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        # a global override or "ignore configured endpoints" would defeat the per-service ones
        "AWS_ENDPOINT_URL": None,
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": None,
        "AWS_LAMBDA_FUNCTION_NAME": None,
        "TABLE_NAME": TABLE_NAME,
        "AUTH_ISSUER": AUTH_ISSUER,
        "AUTH_AUDIENCE": AUTH_AUDIENCE,
        "AUTH_PUBLIC_KEY_FILE": str(files.public_key),
        "AUTH_MACHINE_CLIENT_IDS": machine_clients.allowed_setting(),
        "AUTH_JWKS_URL": None,
        "COGNITO_DOMAIN": None,
        "COGNITO_CLIENT_ID": None,
        "SECRETS_KEY": files.secrets_key.read_text().strip(),
        "CURSOR_SECRET": files.cursor_secret.read_text().strip(),
        "EMAIL_OUTBOX_DIR": str(files.outbox),
        # webhooks and stand-ins on this machine (the demo server's http://127.0.0.1 URL); off in AWS
        "ALLOW_LOOPBACK_OUTBOUND": "true",
        "POWERTOOLS_SERVICE_NAME": "orderdesk",
    }


def dynamodb_environment(endpoint: str) -> dict[str, str | None]:
    return {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": endpoint}


def moto_environment(endpoint: str) -> dict[str, str | None]:
    # botocore's names: SFN (not STEPFUNCTIONS), SCHEDULER, SQS; LAMBDA for a direct Invoke
    return {f"AWS_ENDPOINT_URL_{service}": endpoint for service in ("SFN", "SQS", "SCHEDULER", "LAMBDA")}


def reset_cached_clients() -> None:
    """Settings and SDK clients are cached on first use; the stack moves endpoints under them."""
    from orderdesk.adapters import aws
    from orderdesk.config import reset_settings

    reset_settings()
    aws.reset_clients()


# -- pieces ----------------------------------------------------------------------------------------


class DetachedDynamoDBLocal(DynamoDBLocal):
    """DynamoDB Local in a session of its own (``setsid``): a Ctrl-C in the terminal reaches only
    the stack, which stops everything that reads the database before the database itself."""

    def command(self, port: int) -> list[str]:
        args = super().command(port)
        setsid = shutil.which("setsid")
        return [setsid, *args] if setsid else args


def dynamodb_pids(db_path: Path) -> list[int]:
    """The DynamoDB Local processes (their JVMs) whose database is in ``db_path``."""
    pids = []
    needle = str(db_path.resolve())
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            words = [a.decode("utf-8", "replace") for a in (proc / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        if any(w.endswith("DynamoDBLocal.jar") for w in words) and "-dbPath" in words[:-1] \
                and str(Path(words[words.index("-dbPath") + 1]).resolve()) == needle:
            pids.append(int(proc.name))
    return pids


def stop_orphaned_dynamodb(db_path: Path) -> int:
    """Stop DynamoDB Local processes left on ``db_path`` by a stack that was killed (the caller
    holds the data directory's lock, so no live stack owns them). Returns how many."""
    pids = dynamodb_pids(db_path)
    for pid in pids:
        LOG.warning("stopping DynamoDB Local (pid %d) left running by an earlier stack", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
    return len(pids)


# Imported in the background while DynamoDB Local's JVM starts: moto's Step Functions interpreter
# alone takes seconds to import, and the main thread is only waiting for the JVM meanwhile.
PREWARM_MODULES = (
    "moto.moto_server.werkzeug_app",
    "moto.stepfunctions.parser.backend.execution",
    "moto.stepfunctions.responses",
    "moto.sqs.responses",
    "moto.scheduler.responses",
    "infra.local.event_sources",
)


def _prewarm() -> None:
    for name in PREWARM_MODULES:
        with contextlib.suppress(Exception):  # a real import error surfaces where the module is used
            importlib.import_module(name)


def import_handler(dotted: str) -> Callable[[Any, Any], Any]:
    module_name, _, attribute = dotted.rpartition(".")
    handler: Callable[[Any, Any], Any] = getattr(importlib.import_module(module_name), attribute)
    return handler


def _handler_or_none(dotted: str, problems: list[str]) -> Callable[[Any, Any], Any] | None:
    """The handler, or None when it cannot be imported: a problem to show, not to hide."""
    try:
        return import_handler(dotted)
    except Exception as exc:
        problems.append(f"{dotted}: {type(exc).__name__}: {exc}")
        LOG.exception("cannot import %s", dotted)
        return None


def _make_http_server(app: Any, host: str, port: int, log_requests: bool, timeout: float, memory: int) -> Any:
    """chalice's local server (threaded: the portal fires requests in parallel), answering as API
    Gateway does, and able to close its keep-alive connections when the stack stops."""
    from chalice.config import Config
    from chalice.local import (
        ChaliceRequestHandler,
        CustomLocalChalice,
        LocalChalice,
        LocalDevServer,
        ThreadedHTTPServer,
    )

    from infra.local import gateway

    gateway.install()
    # what chalice.local.create_local_server does, once per process: a thread-local current_request
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice

    class RequestHandler(ChaliceRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            if log_requests:
                super().log_message(format, *args)

    class Server(ThreadedHTTPServer):
        allow_reuse_address = True
        # socketserver's listen backlog is 5: a burst of concurrent clients (the portal, a bulk
        # script, the race tests' 100 requests at once) got connections reset before any thread ran
        request_queue_size = 128

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.connections: set[socket.socket] = set()
            self.connections_lock = threading.Lock()
            super().__init__(*args, **kwargs)

        def process_request(self, request: Any, client_address: Any) -> None:
            with self.connections_lock:
                self.connections.add(request)
            super().process_request(request, client_address)

        def shutdown_request(self, request: Any) -> None:
            with self.connections_lock:
                self.connections.discard(request)
            super().shutdown_request(request)

        def close_connections(self) -> None:
            with self.connections_lock:
                open_ = list(self.connections)
            for conn in open_:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    config = Config.create(chalice_stage="dev", app_name="orderdesk", chalice_app=app, lambda_timeout=int(timeout),
                           lambda_memory_size=memory)
    try:
        return LocalDevServer(app, config, host, port, handler_cls=RequestHandler, server_cls=Server)
    except OSError as exc:
        raise StackError(f"cannot listen on {host}:{port} ({exc.strerror}); is another stack running? "
                         f"Pick another port: make run PORT={port + 1}") from exc


# -- the stack -------------------------------------------------------------------------------------


class LocalStack:
    """The local stack, in this process. A context manager::

        with LocalStack(port=0, data_dir=tmp_path, seed=True, seed_orders=20) as stack:
            requests.get(f"{stack.url}/orders", headers={"Authorization": f"Bearer {stack.token('viewer')}"})

    ``port=0`` picks a free port. A stopped stack can be started again: it reuses its ports, so
    clients that cached an endpoint keep working, and finds its data where it left it."""

    _active: ClassVar[LocalStack | None] = None

    def __init__(
        self,
        port: int = 8000,
        data_dir: Path = DEFAULT_DATA_DIR,
        seed: bool = True,
        *,
        host: str = "127.0.0.1",
        seed_orders: int = 300,
        seed_clients: int = 60,
        retry_sleep_scale: float = 0.1,
        log_requests: bool = False,
        template: Path = TEMPLATE,
    ) -> None:
        self.files = LocalFiles(Path(data_dir).resolve())
        self.host = host
        self.requested_port = port
        self.seed = seed
        self.seed_orders = seed_orders
        self.seed_clients = seed_clients
        self.retry_sleep_scale = retry_sleep_scale
        self.log_requests = log_requests
        self.template_path = template
        self.url: str | None = None
        self.admin_token: str | None = None
        self.timings: dict[str, float] = {}
        self.seeded_now = False
        self.problems: list[str] = []  # what could not be wired (shown in the banner and to tests)
        self.queues: dict[str, str] = {}  # logical id → queue URL
        self.state_machines: dict[str, str] = {}  # logical id → ARN
        self.pollers: list[Any] = []
        self.schedules: ScheduleRunner | None = None
        self.dynamodb: DetachedDynamoDBLocal | None = None
        self.moto: Any = None
        self._ports: dict[str, int] = {}
        self._env = EnvPatch()
        self._lock_file: IO[str] | None = None
        self._http: Any = None
        self._http_thread: threading.Thread | None = None
        self._private_key: str | None = None

    # public --------------------------------------------------------------------------------------

    def token(self, role: str = "admin", **kwargs: Any) -> str:
        """A token for ``role``, signed with this stack's key (valid as long as ``.local/`` is)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        if self._private_key is None:
            self._private_key = self.files.private_key.read_text()
        from orderdesk.api.auth import issue_token

        kwargs.setdefault("subject", f"local-{role}")
        return issue_token(self._private_key, role, issuer=AUTH_ISSUER, audience=AUTH_AUDIENCE, **kwargs)

    @property
    def running(self) -> bool:
        return self._http_thread is not None

    def capabilities(self) -> dict[str, Any]:
        """Which parts of OrderDesk this start could wire (the others are in ``problems``)."""
        handlers = {getattr(getattr(p, "handler", None), "__module__", "") for p in self.pollers}
        return {
            "workflows": bool(self.state_machines),
            "bulk": "functions.bulk_status.app" in handlers,
            "fraud_screening": "functions.fraud_screening.app" in handlers,
            "schedules": [s.name for s in self.schedules.schedules] if self.schedules else [],
        }

    def start(self) -> Self:
        if LocalStack._active is not None and LocalStack._active is not self:
            raise StackError("another LocalStack is running in this process (moto and the environment are "
                             "process-wide): stop it first")
        if self.running:
            return self
        LocalStack._active = self
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - started
        LOG.info("started in %s", ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items()))
        return self

    def stop(self) -> None:
        """Stop everything this start began, in reverse order; safe to call twice or after a failed
        start."""
        steps: list[tuple[str, Callable[[], None]]] = [
            ("HTTP server", self._stop_http),
            ("schedules", self._stop_schedules),
            ("event sources", self._stop_pollers),
            ("queued messages", self._save_queued_messages),
            ("moto", self._stop_moto),
            ("DynamoDB Local", self._stop_dynamodb),
        ]
        took = []
        for name, step in steps:
            started = time.monotonic()
            try:
                step()
            except Exception:
                LOG.exception("stopping %s failed", name)
            took.append(f"{name} {time.monotonic() - started:.1f} s")
        if self.url is not None:
            LOG.info("stopped: %s", ", ".join(took))
        self._env.restore()
        with contextlib.suppress(Exception):
            reset_cached_clients()
        with contextlib.suppress(FileNotFoundError):
            if self._lock_file is not None:
                self.files.state.unlink()
        self._release_lock()
        self.url = None
        if LocalStack._active is self:
            LocalStack._active = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # start ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.timings[name] = time.monotonic() - started

    def _start(self) -> None:
        self.problems, self.queues, self.state_machines, self.timings = [], {}, {}, {}
        self._acquire_lock()
        stop_orphaned_dynamodb(self.files.dynamodb)
        created = self.files.ensure_secrets()
        if created:
            LOG.info("created %s in %s", ", ".join(created), self.files.root)
        self.files.outbox.mkdir(parents=True, exist_ok=True)
        self._env.apply(base_environment(self.files))
        reset_cached_clients()
        self._private_key = self.files.private_key.read_text()
        prewarm = threading.Thread(target=_prewarm, name="local-prewarm", daemon=True)
        prewarm.start()

        template = load_template(self.template_path)
        resolver = tw.Resolver.for_template(template)
        functions = tw.functions_in(template, resolver)
        self._check_event_sources(functions)

        # bound first: a taken port fails in a second, not after the database has started
        import app as app_module

        # the API function's limits, as its Lambda context reports them (ApiFunction: CodeUri api/, app.app)
        api_function = next((f for f in functions.values() if f.handler == "api.app.app"), None)
        self._http = _make_http_server(app_module.app, self.host, self._ports.get("http", self.requested_port),
                                       self.log_requests, api_function.timeout_seconds if api_function else 30,
                                       api_function.memory_mb if api_function else 512)
        self._ports["http"] = int(self._http.server.server_port)
        self.url = f"http://{self.host}:{self._ports['http']}"

        with self._timed("dynamodb"):
            self._start_dynamodb()
        with self._timed("table"):
            table_created = self._create_table(resolver)
        with self._timed("moto"):
            prewarm.join()
            self._start_moto()
            self._create_queues(template, resolver)
            self._restore_queued_messages()
            self._create_state_machines(resolver)
            self._apply_template_environment(template, functions, resolver)
            self._create_schedules(functions, resolver)
        self._seed_on_first_start(table_created)
        self._start_pollers(functions, resolver, from_start=table_created)
        self._start_schedules(functions, resolver)

        self._http_thread = threading.Thread(target=self._http.server.serve_forever, name="local-http",
                                             kwargs={"poll_interval": 0.2}, daemon=True)
        self._http_thread.start()
        self.admin_token = self.token("admin", subject="local-admin")
        _write_private(self.files.admin_token, (self.admin_token + "\n").encode())
        self.files.state.write_text(json.dumps({
            "url": self.url, "pid": os.getpid(), "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dynamodb": self.dynamodb.endpoint if self.dynamodb else None,
            "dynamodb_pids": dynamodb_pids(self.files.dynamodb),
            "moto": self.moto.endpoint if self.moto else None,
            **self.capabilities(), "problems": self.problems, "timings": self.timings,
        }, indent=2) + "\n")

    def _acquire_lock(self) -> None:
        self.files.root.mkdir(parents=True, exist_ok=True)
        lock = open(self.files.lock, "a+")  # noqa: SIM115 - held for the stack's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            running = self.files.running_stack()
            where = f" at {running['url']} (pid {running['pid']})" if running else ""
            raise StackError(f"a local stack is already running from {self.files.root}{where}; "
                             "stop it (Ctrl-C) or use another data directory") from None
        self._lock_file = lock

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _start_dynamodb(self) -> None:
        if shutil.which("java") is None:
            raise StackError("Java 17+ is needed for DynamoDB Local and `java` is not on PATH: run `make setup`")
        self.dynamodb = DetachedDynamoDBLocal(data_dir=self.files.dynamodb, port=self._ports.get("dynamodb"))
        try:
            self.dynamodb.start()
        except Exception as exc:
            raise StackError(f"DynamoDB Local did not start: {exc}") from exc
        assert self.dynamodb.port is not None
        self._ports["dynamodb"] = self.dynamodb.port
        self._env.apply(dynamodb_environment(self.dynamodb.endpoint))
        reset_cached_clients()

    def _create_table(self, resolver: tw.Resolver) -> bool:
        import boto3

        from infra.local.table import create_table

        client = boto3.client("dynamodb")
        created = create_table(client, TABLE_NAME, self.template_path)
        LOG.info("table %s %s", TABLE_NAME, "created from template.yaml" if created else "found")
        desc = client.describe_table(TableName=TABLE_NAME)["Table"]
        resolver.refs[TABLE_LOGICAL_ID] = TABLE_NAME
        resolver.attributes[(TABLE_LOGICAL_ID, "Arn")] = desc["TableArn"]
        if desc.get("LatestStreamArn"):
            resolver.attributes[(TABLE_LOGICAL_ID, "StreamArn")] = desc["LatestStreamArn"]
        return created

    def _lambda_functions(self) -> dict[str, Any]:
        from infra.local import statemachines

        return dict(statemachines.lambda_functions_from_template(self.template_path))

    def _start_moto(self) -> None:
        from infra.local.moto_server import MotoServer

        assert self.dynamodb is not None
        self.moto = MotoServer(self._lambda_functions(), port=self._ports.get("moto"),
                               retry_sleep_scale=self.retry_sleep_scale, dynamodb_endpoint=self.dynamodb.endpoint)
        self.moto.start()
        self._ports["moto"] = self.moto.port
        # moto's backends are process-wide: what an earlier start in this process made is gone
        self.moto.reset()
        self._env.apply(moto_environment(self.moto.endpoint))
        reset_cached_clients()

    def _create_queues(self, template: dict[str, Any], resolver: tw.Resolver) -> None:
        import boto3

        sqs = boto3.client("sqs")
        for queue in tw.queues_in(template, resolver):
            attributes = dict(queue.attributes)
            if queue.dead_letter_queue:
                dlq_arn = resolver.attributes.get((queue.dead_letter_queue, "Arn"))
                if dlq_arn is None:
                    raise StackError(f"queue {queue.logical_id}: its dead-letter queue {queue.dead_letter_queue} "
                                     "is not an SQS queue of template.yaml")
                attributes["RedrivePolicy"] = tw.redrive_policy(queue, dlq_arn)
            url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            resolver.refs[queue.logical_id] = url
            resolver.attributes.update({(queue.logical_id, "Arn"): arn, (queue.logical_id, "QueueName"): queue.name,
                                        (queue.logical_id, "QueueUrl"): url})
            self.queues[queue.logical_id] = url
            if queue.max_receive_count:
                LOG.info("queue %s (dead letters after %d receives)", queue.name, queue.max_receive_count)

    def _create_state_machines(self, resolver: tw.Resolver) -> None:
        import boto3

        from infra.local import statemachines

        # {logical id: ARN}; the ARNs reach the code through the template's !Ref in the environment
        created = statemachines.create_state_machines(boto3.client("stepfunctions"), self.template_path)
        for logical_id, arn in created.items():
            self.state_machines[logical_id] = arn
            resolver.refs[logical_id] = arn
            resolver.attributes[(logical_id, "Arn")] = arn
            resolver.attributes[(logical_id, "Name")] = arn.rsplit(":", 1)[-1]
        LOG.info("state machines: %s", ", ".join(sorted(self.state_machines)) or "none")

    def _apply_template_environment(self, template: dict[str, Any], functions: dict[str, tw.FunctionDef],
                                    resolver: tw.Resolver) -> None:
        """The variables template.yaml gives its functions. Those naming a local resource (queue URL,
        state machine ARN, table) are set; plain settings (FRAUD_REVIEW_THRESHOLD: 25) are set unless
        the caller's environment already has them (``FRAUD_PROVIDER=... make run``). The stack's
        own values (credentials, endpoints, local keys) always win."""
        own = self._env.names()
        env = tw.function_environment(functions, resolver)
        resources = tw.resource_variables(functions, resolver)
        self._env.apply({k: v for k, v in env.items() if k in resources and k not in own})
        self._env.apply({k: v for k, v in env.items() if k not in resources and k not in own}, keep_existing=True)
        if self.state_machines:
            from infra.local import statemachines

            defaults = statemachines.state_machine_environment(self.state_machines, self.template_path)
            self._env.apply({k: v for k, v in defaults.items() if k not in env})
        reset_cached_clients()
        expected = ["BULK_QUEUE_URL"] + (["ACCEPT_STATE_MACHINE_ARN", "CANCEL_STATE_MACHINE_ARN"]
                                         if self.state_machines else [])
        for name in expected:
            if not os.environ.get(name):
                self.problems.append(f"{name} is not set: no function of template.yaml refers to it")

    def _check_event_sources(self, functions: dict[str, tw.FunctionDef]) -> None:
        """Say plainly which of SPEC §4's event sources template.yaml does not declare (yet)."""
        for kind, what in (("SQS", "bulk status changes are queued but never processed"),
                           ("DynamoDB", "new orders are not screened for fraud"),
                           ("ScheduleV2", "no scheduled cleanup runs")):
            types = ("ScheduleV2", "Schedule") if kind == "ScheduleV2" else (kind,)
            if not tw.event_sources_in(functions, *types):
                self.problems.append(f"template.yaml declares no {kind} event source: {what}")

    def _start_pollers(self, functions: dict[str, tw.FunctionDef], resolver: tw.Resolver, *,
                       from_start: bool = False) -> None:
        from infra.local.event_sources import DynamoDBStreamPoller, SqsPoller

        for source in tw.event_sources_in(functions, "SQS"):
            handler = _handler_or_none(source.function.handler, self.problems)
            queue_url = resolver.refs.get(source.target or "")
            if handler is None:
                continue
            if queue_url is None:
                self.problems.append(f"{source.function.logical_id}.{source.name}: queue {source.target} not found")
                continue
            poller: Any = SqsPoller(queue_url, handler, int(source.properties.get("BatchSize", 10)),
                                    function_name=source.function.name, timeout=source.function.timeout_seconds,
                                    region=REGION)
            self.pollers.append(poller)
            LOG.info("SQS %s → %s (batch %d)", queue_url.rsplit("/", 1)[-1], source.function.handler,
                     poller.batch_size)
        for source in tw.event_sources_in(functions, "DynamoDB"):
            handler = _handler_or_none(source.function.handler, self.problems)
            if handler is None:
                continue
            props = source.properties
            patterns = [json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])]
            retries = props.get("MaximumRetryAttempts")
            on_failure = self._stream_failure_destination(props, resolver)
            kwargs: dict[str, Any] = {"function_name": source.function.name, "region": REGION,
                                      "timeout": source.function.timeout_seconds,
                                      # a new table's stream from its start (the demo data is counted by the
                                      # views); a restart does not replay it: nothing was written while down
                                      "starting_position": "TRIM_HORIZON" if from_start else "LATEST"}
            if isinstance(retries, int) and retries >= 0:
                kwargs["max_retries"] = retries
            if on_failure is not None:
                kwargs["on_failure"] = on_failure
            poller = DynamoDBStreamPoller(TABLE_NAME, handler, patterns or None,
                                          int(props.get("BatchSize", 100)), **kwargs)
            self.pollers.append(poller)
            LOG.info("stream of %s → %s (batch %d, %d filter(s))", TABLE_NAME, source.function.handler,
                     poller.batch_size, len(patterns))
        for poller in self.pollers:
            if hasattr(poller, "starting_position"):
                poller.run_once()  # take the stream's position now, before the API takes writes
            poller.start()

    def _stream_failure_destination(self, props: dict[str, Any],
                                    resolver: tw.Resolver) -> Callable[[list[dict[str, Any]], str], None] | None:
        """The event's OnFailure SQS destination: Lambda sends it a record of the batch it gave up on."""
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        queue_id = tw.logical_id_of(destination)
        queue_url = resolver.refs.get(queue_id or "")
        if queue_url is None:
            return None

        def send(batch: list[dict[str, Any]], error: str) -> None:
            import boto3

            first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
            body = {"requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
                    "responseContext": {"functionError": error},
                    "DDBStreamBatchInfo": {"shardId": "local", "startSequenceNumber": first["SequenceNumber"],
                                           "endSequenceNumber": last["SequenceNumber"], "batchSize": len(batch),
                                           "streamArn": batch[0].get("eventSourceARN")}}
            boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))

        return send

    def _schedules(self, functions: dict[str, tw.FunctionDef], resolver: tw.Resolver) -> list[LocalSchedule]:
        out = []
        for source in tw.event_sources_in(functions, "ScheduleV2", "Schedule"):
            props = source.properties
            expression = props.get("ScheduleExpression") or props.get("Schedule")
            try:
                parsed = Expression.parse(str(resolver.resolve(expression)))
            except (ScheduleExpressionError, tw.Unresolvable) as exc:
                self.problems.append(f"schedule {source.function.logical_id}.{source.name}: {exc}")
                continue
            raw_input = resolver.try_resolve(props.get("Input")) if "Input" in props else None
            name = resolver.try_resolve(props.get("Name")) if "Name" in props else None
            out.append(LocalSchedule(
                name=str(name or f"{source.function.logical_id}{source.name}"),
                expression=parsed,
                handler=source.function.handler,
                function_name=source.function.name,
                input=raw_input if isinstance(raw_input, str) or raw_input is None else json.dumps(raw_input),
                kind=source.type,
                timezone=props.get("ScheduleExpressionTimezone"),
                enabled=tw.schedule_enabled(props),
                account_id=ACCOUNT_ID,
                region=REGION,
            ))
        return out

    def _create_schedules(self, functions: dict[str, tw.FunctionDef], resolver: tw.Resolver) -> None:
        """Mirror the ScheduleV2 events in moto's Scheduler (so the stack looks as it does in AWS);
        moto never fires them: :class:`ScheduleRunner` does."""
        import boto3

        scheduler = boto3.client("scheduler")
        for schedule in self._schedules(functions, resolver):
            if schedule.kind != "ScheduleV2":
                continue
            target: dict[str, Any] = {
                "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{schedule.function_name}",
                "RoleArn": SCHEDULER_ROLE_ARN,
            }
            if schedule.input is not None:
                target["Input"] = schedule.input
            try:
                scheduler.create_schedule(Name=schedule.name, ScheduleExpression=schedule.expression.text,
                                          FlexibleTimeWindow={"Mode": "OFF"}, Target=target,
                                          State="ENABLED" if schedule.enabled else "DISABLED")
            except Exception as exc:  # a mirror only: the runner fires the schedule either way
                LOG.warning("moto's Scheduler refused schedule %s: %s", schedule.name, exc)

    def _start_schedules(self, functions: dict[str, tw.FunctionDef], resolver: tw.Resolver) -> None:
        from infra.local.moto_server import LambdaContext

        runnable: list[LocalSchedule] = []
        for schedule in self._schedules(functions, resolver):
            if not isinstance(schedule.handler, str) or _handler_or_none(schedule.handler, self.problems) is None:
                continue
            runnable.append(schedule)
            LOG.info("schedule %s: %s → %s%s", schedule.name, schedule.expression.text, schedule.handler,
                     "" if schedule.enabled else " (disabled)")
        memory = {f.name: (f.memory_mb, f.timeout_seconds) for f in functions.values()}

        def invoke(schedule: LocalSchedule, event: Any) -> Any:
            assert isinstance(schedule.handler, str)
            mb, timeout = memory.get(schedule.function_name, (512, 60.0))
            context = LambdaContext(
                function_name=schedule.function_name,
                invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{schedule.function_name}",
                memory_limit_in_mb=mb, timeout_seconds=timeout)
            LOG.info("schedule %s fires %s", schedule.name, schedule.function_name)
            return import_handler(schedule.handler)(event, context)

        self.schedules = ScheduleRunner(runnable, invoke)
        self.schedules.start()

    def _seed_on_first_start(self, table_created: bool) -> None:
        self.seeded_now = False
        if not self.seed or self.files.seeded.exists():
            return
        if not table_created and self._table_has_items():
            LOG.info("the table already holds data: no demo data added")
            self.files.seeded.write_text("table held data before the first seed\n")
            return
        from infra.local.seed import seed_demo

        LOG.info("first start: adding demo data (%d orders, %d clients)", self.seed_orders, self.seed_clients)
        with self._timed("seed"):
            seeded = seed_demo(orders=self.seed_orders, clients=self.seed_clients)
        self.files.seeded.write_text(f"{len(seeded.orders)} orders, {len(seeded.clients)} clients, "
                                     f"{datetime.now(UTC).isoformat(timespec='seconds')}\n")
        self.seeded_now = True

    def _table_has_items(self) -> bool:
        import boto3

        page = boto3.client("dynamodb").scan(TableName=TABLE_NAME, Limit=1, Select="COUNT")
        return bool(page.get("ScannedCount") or page.get("Count"))

    # stop ----------------------------------------------------------------------------------------

    def _stop_http(self) -> None:
        server, self._http = self._http, None
        thread, self._http_thread = self._http_thread, None
        if server is None:
            return
        if thread is not None:
            server.server.shutdown()
            thread.join(timeout=10)
        server.server.close_connections()
        server.server.server_close()

    def _stop_schedules(self) -> None:
        runner, self.schedules = self.schedules, None
        if runner is not None:
            runner.stop()

    def _stop_pollers(self) -> None:
        pollers, self.pollers = self.pollers, []
        for poller in pollers:
            poller.stop()

    def _save_queued_messages(self) -> None:
        """moto keeps its queues in memory: the messages still in them (a bulk job half done, a
        batch waiting out its visibility timeout, the dead letters) are written to
        ``queued.json`` before moto stops, and sent again at the next start, so a restart loses no
        queued work (each message's receive count starts again)."""
        if self.moto is None or not self.queues:
            return
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[ACCOUNT_ID][REGION]
        saved: dict[str, list[dict[str, Any]]] = {}
        for url in self.queues.values():
            name = url.rsplit("/", 1)[-1]
            queue = backend.queues.get(name)
            messages = list(getattr(queue, "_messages", None) or [])
            if messages:
                saved[name] = [{"body": m.body, "attributes": {  # string and number attributes (ours has none)
                    k: v for k, v in (m.message_attributes or {}).items() if "StringValue" in v}} for m in messages]
        if saved:
            _write_private(self.files.queued, json.dumps(saved).encode())
            LOG.info("kept %d queued message(s) for the next start", sum(len(v) for v in saved.values()))

    def _restore_queued_messages(self) -> None:
        if not self.files.queued.exists():
            return
        import boto3

        saved: dict[str, list[dict[str, Any]]] = json.loads(self.files.queued.read_text())
        urls = {url.rsplit("/", 1)[-1]: url for url in self.queues.values()}
        sqs = boto3.client("sqs")
        for name, messages in saved.items():
            if name not in urls:
                self.problems.append(f"{len(messages)} queued message(s) of queue {name}, gone from template.yaml, "
                                     f"left in {self.files.queued}")
                return
            for message in messages:
                kwargs: dict[str, Any] = {"QueueUrl": urls[name], "MessageBody": message["body"]}
                if message["attributes"]:
                    kwargs["MessageAttributes"] = message["attributes"]
                sqs.send_message(**kwargs)
        self.files.queued.unlink()
        LOG.info("sent again %d message(s) queued before the last stop", sum(len(v) for v in saved.values()))

    def _stop_moto(self) -> None:
        server, self.moto = self.moto, None
        if server is None:
            return
        if server.port is not None:
            with contextlib.suppress(Exception):
                server.reset()  # free what this start created: moto's memory outlives the server
        server.stop()

    def _stop_dynamodb(self) -> None:
        database, self.dynamodb = self.dynamodb, None
        if database is not None:
            database.stop()


# -- command line ----------------------------------------------------------------------------------


def banner(stack: LocalStack, data_dir_shown: str) -> str:
    t = stack.timings
    seed = f"; demo data added in {t['seed']:.1f} s" if "seed" in t and stack.seeded_now else ""
    lines = [
        "",
        f"OrderDesk local stack is up (started in {t.get('total', 0):.1f} s{seed})",
        f"  API and admin portal  {stack.url}/",
        f"  admin token           {data_dir_shown}/admin.token (fresh at every start)",
        f"  try                   curl -H \"Authorization: Bearer $(cat {data_dir_shown}/admin.token)\" "
        f"{stack.url}/orders?limit=5",
        "  a token for a role    make token ROLE=viewer   (viewer, support, billing, admin)",
        f"  data                  {data_dir_shown}/ is kept across restarts; make clean-local forgets it",
    ]
    lines += [f"  warning               {p}" for p in stack.problems]
    lines += ["Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def _exit_with_parent(parent: int) -> None:
    """Ctrl-C this process once it is orphaned (its parent gone, it is re-parented)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        LOG.warning("the process that started the stack (pid %d) is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="port of the API and portal (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where local data is kept")
    parser.add_argument("--no-seed", action="store_true", help="no demo data on the first start")
    parser.add_argument("--seed-orders", type=int, default=300, help=argparse.SUPPRESS)
    parser.add_argument("--seed-clients", type=int, default=60, help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="do not log each HTTP request")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the process that started this one dies (test fixtures: no orphans)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "moto", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stack = LocalStack(port=args.port, data_dir=args.data_dir, seed=not args.no_seed, host=args.host,
                       seed_orders=args.seed_orders, seed_clients=args.seed_clients, log_requests=not args.quiet)
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if stopping.is_set():
            print("still stopping...", file=sys.stderr, flush=True)
            return
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if args.exit_with_parent:
        _exit_with_parent(os.getppid())
    code = 0
    try:
        stack.start()
        print(banner(stack, _shown(stack.files.root)), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        print(f"\nerror: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        stopping.set()
        was_up = stack.url is not None
        if was_up:
            print("\nStopping the local stack...", flush=True)
        stack.stop()
        if was_up:
            print(f"Stopped. Data kept in {_shown(stack.files.root)}/ (make clean-local forgets it).", flush=True)
    return code


if __name__ == "__main__":
    exit_code = main()
    # Everything is stopped by now: skip the interpreter's teardown of moto's and botocore's
    # modules, which takes seconds, so Ctrl-C gives the prompt back at once.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
