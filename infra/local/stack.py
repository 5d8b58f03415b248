"""The whole of OrderDesk on one machine, with no AWS account: ``make run``.

``python -m infra.local.stack --port 8000`` (or ``LocalStack(...)`` in a test) starts, in order:

1. ``.local/`` (the data directory): an RSA key pair for signing local tokens and a
   cursor-signing secret, generated once and kept; the environment the
   code reads (``TABLE_NAME``, ``AUTH_*``, ``CURSOR_SECRET``,
   ``EMAIL_OUTBOX_DIR``, credentials ``local``, and the botocore ``AWS_ENDPOINT_URL_<SERVICE>``
   variables, so no code path differs from AWS).
2. DynamoDB Local with its database in ``.local/dynamodb/`` (kept across restarts), and the table
   created from template.yaml when it is missing.
3. moto's server in-process: Step Functions (the ASL really executed, its Lambda tasks answered
   by the project's handlers), SQS, EventBridge Scheduler and KMS. moto keeps its state in memory,
   so the queues (with the template's redrive policies), state machines, schedules and the KMS key
   of write-only secrets are created afresh at every start (the key pinned to its first id and
   material, kept in ``.local/``); their URLs and ARNs reach the code through the environment
   variables that template.yaml gives the functions (``!Ref BulkQueue`` → ``BULK_QUEUE_URL``...).
   Secrets a data directory of before KMS holds are re-encrypted with it, once.
4. Demo data on the first start only (``infra.local.seed``; ``.local/seeded`` marks it done).
5. The event sources of template.yaml: the SQS queue and the table's stream polled and fed to
   their functions with Lambda's event shapes (``infra.local.event_sources``), and a timer
   firing the scheduled functions (``infra.local.schedules``).
6. Stripe's refund API answered by a loopback stand-in (``infra.local.fake_stripe``, with a dummy
   key): Cancel & Refund of a Stripe payment works with no Stripe account; the webhook's signing
   secret is ``.local/stripe-webhook.secret`` (``make stripe-event`` signs with it).
7. The Chalice app (API and admin portal) on one port, threaded, behind chalice's local API
   Gateway with ``infra.local.gateway`` (401s shaped as in AWS), and beside it the portal's local
   sign-in route (``infra.local.sign_in``), which only the local gateway has.
8. A fresh admin token in ``.local/admin.token``; ``.local/stack.json`` says where it runs.

Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops everything in reverse order, DynamoDB Local's JVM
included. The JVM runs in its own session, so a Ctrl-C in the terminal reaches only this process,
which stops the pollers before the database; a JVM orphaned by a killed stack is found and stopped
at the next start. One stack per data directory (``.local/stack.lock``), one per process (moto's
backends and the environment are process-wide).

The pieces, one module each: ``files`` (the data directory and its keys), ``env`` (the
environment), ``dynamodb_local`` (the database's JVM), ``resources`` (the table, queues and state
machines of template.yaml), ``triggers`` (event sources and schedules), ``http_server`` (the
app on its port) and ``cli`` (``python -m infra.local.stack``).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, Self

from infra.local import event_bus, resources, triggers
from infra.local import template_wiring as tw
from infra.local.dynamodb_local import DetachedDynamoDBLocal, dynamodb_pids, stop_orphaned_dynamodb
from infra.local.env import (
    AUTH_AUDIENCE,
    AUTH_ISSUER,
    ROLES,
    EnvPatch,
    base_environment,
    dynamodb_environment,
    moto_environment,
    reset_cached_clients,
    stripe_environment,
)
from infra.local.errors import StackError
from infra.local.files import DEFAULT_DATA_DIR, LocalFiles, write_private
from infra.local.http_server import LocalHttpServer
from infra.local.schedules import ScheduleRunner
from infra.local.sign_in import LocalSignIn
from infra.local.table import TEMPLATE, load_template

LOG = logging.getLogger("infra.local.stack")

# Imported in the background while DynamoDB Local's JVM starts: moto's Step Functions interpreter
# alone takes seconds to import, and the main thread is only waiting for the JVM meanwhile.
PREWARM_MODULES = (
    "moto.moto_server.werkzeug_app",
    "moto.stepfunctions.parser.backend.execution",
    "moto.stepfunctions.responses",
    "moto.sqs.responses",
    "moto.scheduler.responses",
    "moto.kms.responses",
    "infra.local.event_sources",
)


def _prewarm() -> None:
    for name in PREWARM_MODULES:
        with contextlib.suppress(Exception):  # a real import error surfaces where the module is used
            importlib.import_module(name)


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
        self.buckets: dict[str, str] = {}  # logical id → bucket name
        self.kms_keys: dict[str, str] = {}  # logical id → key ARN
        self.state_machines: dict[str, str] = {}  # logical id → ARN
        self.pollers: list[Any] = []
        self.schedules: ScheduleRunner | None = None
        self.dynamodb: DetachedDynamoDBLocal | None = None
        self.moto: Any = None
        self.stripe: Any = None  # the loopback stand-in answering Stripe's refund API
        self._ports: dict[str, int] = {}
        self._env = EnvPatch()
        self._lock_file: IO[str] | None = None
        self._http: LocalHttpServer | None = None
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

    def _sign_in_token(self, role: str, ttl_seconds: int) -> str:
        """The portal's "Sign in locally as <role>" (``infra.local.sign_in``)."""
        return self.token(role, subject=f"local-{role}", ttl_seconds=ttl_seconds)

    @property
    def running(self) -> bool:
        return self._http is not None and self._http.serving

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
            ("Stripe stand-in", self._stop_stripe),
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
        self.problems += triggers.check_event_sources(functions)

        # bound first: a taken port fails in a second, not after the database has started
        self._bind_http(functions)

        with self._timed("dynamodb"):
            self._start_dynamodb()
        with self._timed("table"):
            table_created = resources.create_table(self.template_path, resolver)
        self._start_stripe()
        with self._timed("moto"):
            prewarm.join()
            self._start_moto()
            self.queues = resources.create_queues(template, resolver)
            self.buckets = resources.create_buckets(template, resolver)
            resources.register_functions(functions, resolver)
            self.problems += resources.restore_queued_messages(self.files, self.queues)
            self.state_machines = resources.create_state_machines(self.template_path, resolver)
            self.kms_keys = resources.create_kms_keys(template, resolver, self.files)
            events_file = event_bus.events_file(self.files.root, event_bus.create_event_buses(template, resolver))
            self.problems += resources.apply_template_environment(self._env, functions, resolver,
                                                                  self.state_machines, self.template_path)
            schedules = triggers.schedules_in(functions, resolver, self.problems)
            triggers.mirror_schedules(schedules)
        self._migrate_secrets()
        self._seed_on_first_start(table_created)
        self.pollers = triggers.pollers_for(functions, resolver, self.problems, from_start=table_created,
                                            checkpoints=self.files.root / "streams")
        triggers.start_pollers(self.pollers)
        if events_file is not None:  # stopped after the stream's pollers: it writes their last events
            self.pollers.append(events_file)
            events_file.start()
        self.schedules = triggers.schedule_runner(schedules, functions, self.problems)
        self.schedules.start()

        assert self._http is not None
        self._http.serve()
        self.admin_token = self.token("admin", subject="local-admin")
        write_private(self.files.admin_token, (self.admin_token + "\n").encode())
        self.files.state.write_text(json.dumps({
            "url": self.url, "pid": os.getpid(), "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dynamodb": self.dynamodb.endpoint if self.dynamodb else None,
            "dynamodb_pids": dynamodb_pids(self.files.dynamodb),
            "moto": self.moto.endpoint if self.moto else None,
            "stripe": self.stripe.url if self.stripe else None,
            **self.capabilities(), "problems": self.problems, "timings": self.timings,
        }, indent=2) + "\n")

    def _bind_http(self, functions: dict[str, tw.FunctionDef]) -> None:
        import app as app_module

        # the API function's limits, as its Lambda context reports them (ApiFunction: CodeUri api/, app.app)
        api_function = next((f for f in functions.values() if f.handler == "api.app.app"), None)
        port = self._ports.get("http", self.requested_port)
        try:
            self._http = LocalHttpServer(app_module.app, self.host, port, log_requests=self.log_requests,
                                         timeout=api_function.timeout_seconds if api_function else 30,
                                         memory=api_function.memory_mb if api_function else 512,
                                         sign_in=LocalSignIn(self._sign_in_token))
        except OSError as exc:
            raise StackError(f"cannot listen on {self.host}:{port} ({exc.strerror}); is another stack running? "
                             f"Pick another port: make run PORT={port + 1}") from exc
        self._ports["http"] = self._http.port
        self.url = f"http://{self.host}:{self._ports['http']}"

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

    def _start_moto(self) -> None:
        from infra.local.moto_server import MotoServer
        from infra.local.statemachines import lambda_functions_from_template

        assert self.dynamodb is not None
        self.moto = MotoServer(dict(lambda_functions_from_template(self.template_path)), port=self._ports.get("moto"),
                               retry_sleep_scale=self.retry_sleep_scale, dynamodb_endpoint=self.dynamodb.endpoint)
        self.moto.start()
        self._ports["moto"] = self.moto.port
        # moto's backends are process-wide: what an earlier start in this process made is gone
        self.moto.reset()
        self._env.apply(moto_environment(self.moto.endpoint))
        reset_cached_clients()

    def _start_stripe(self) -> None:
        """Stripe's refund API on a loopback port, with a dummy key: Cancel & Refund of a Stripe
        payment works with no Stripe account (its refunds live as long as the stack)."""
        from infra.local.fake_stripe import FakeStripe

        self.stripe = FakeStripe(port=self._ports.get("stripe")).start()
        self._ports["stripe"] = self.stripe.port
        self._env.apply(stripe_environment(self.stripe.url))
        reset_cached_clients()

    def _migrate_secrets(self) -> None:
        """Values a data directory of before KMS holds (Fernet under ``secrets.key``), re-encrypted
        with KMS once (``infra.local.migrate_secrets``); then ``secrets.migrated`` says so."""
        if self.files.secrets_migrated.exists() or not self.files.secrets_key.exists():
            return
        from infra.local.migrate_secrets import migrate_secrets

        with self._timed("secrets"):
            done = migrate_secrets()
        if done.items or done.servers or done.unreadable:
            LOG.info("re-encrypted with KMS: %d item password(s), %d server credential(s)%s", done.items,
                     done.servers, f"; {len(done.unreadable)} unreadable, left" if done.unreadable else "")
        for name in done.unreadable:
            self.problems.append(f"the stored secret of {name} does not decrypt with .local/secrets.key: left as it was")
        if done.done:
            self.files.secrets_migrated.write_text(f"{done.items} item password(s), {done.servers} server "
                                                   f"credential(s), {datetime.now(UTC).isoformat(timespec='seconds')}\n")

    def _seed_on_first_start(self, table_created: bool) -> None:
        self.seeded_now = False
        if not self.seed or self.files.seeded.exists():
            return
        if not table_created and resources.table_has_items():
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

    # stop ----------------------------------------------------------------------------------------

    def _stop_http(self) -> None:
        server, self._http = self._http, None
        if server is not None:
            server.stop()

    def _stop_schedules(self) -> None:
        runner, self.schedules = self.schedules, None
        if runner is not None:
            runner.stop()

    def _stop_pollers(self) -> None:
        pollers, self.pollers = self.pollers, []
        for poller in pollers:
            poller.stop()

    def _save_queued_messages(self) -> None:
        if self.moto is not None:
            resources.save_queued_messages(self.files, self.queues)

    def _stop_moto(self) -> None:
        server, self.moto = self.moto, None
        if server is None:
            return
        if server.port is not None:
            with contextlib.suppress(Exception):
                server.reset()  # free what this start created: moto's memory outlives the server
        server.stop()

    def _stop_stripe(self) -> None:
        server, self.stripe = self.stripe, None
        if server is not None:
            server.stop()

    def _stop_dynamodb(self) -> None:
        database, self.dynamodb = self.dynamodb, None
        if database is not None:
            database.stop()


if __name__ == "__main__":
    # `python -m infra.local.stack` (what `make run` calls) is the command line of infra.local.cli
    from infra.local.cli import run

    run()
