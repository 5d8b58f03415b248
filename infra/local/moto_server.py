"""moto's server, in-process, for Step Functions (ASL really executed), SQS and EventBridge
Scheduler on one local port, with Lambda's Invoke route answered by the project's own
handlers, called in-process.

Why in-process: moto's Step Functions interpreter calls Lambda through a boto3 client
aimed at ``http://localhost:$MOTO_PORT`` (moto/stepfunctions/parser/asl/utils/boto_client.py),
so the Invoke request comes back to this server, where the middleware below runs the handler
with the payload and error shapes that AWS Lambda uses. moto's own Lambda backend (which
needs Docker) is never reached for Invoke.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import Any, Self

LOG = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"

Handler = Callable[[Any, "LambdaContext"], Any]
StartResponse = Callable[..., Any]

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_CREDENTIAL_REGION = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/")
_DYNAMODB_TARGETS = ("DynamoDB_20120810.", "DynamoDBStreams_20120810.")


@dataclass(frozen=True)
class LocalFunction:
    """One Lambda function served in-process: its handler and the settings its context reports."""

    # "package.module.function": SAM's Handler, prefixed with its CodeUri as a package
    handler: str | Handler
    memory_limit_in_mb: int = 128
    timeout_seconds: float = 3.0


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_name_of(function_ref: str) -> str:
    """The bare function name in any form Invoke accepts: name, name:alias,
    account:function:name, or a full ARN with or without a qualifier."""
    parts = function_ref.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def _import_handler(dotted: str) -> Handler:
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {dotted!r} must be 'module.function'")
    module: ModuleType = importlib.import_module(module_name)
    handler: Handler = getattr(module, attribute)
    return handler


class LambdaFunctions:
    """Resolves an Invoke FunctionName to an in-process handler, importing it on first use."""

    def __init__(self, functions: Mapping[str, str | Handler | LocalFunction]) -> None:
        self._functions = {
            key: value if isinstance(value, LocalFunction) else LocalFunction(value) for key, value in functions.items()
        }
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def find(self, function_ref: str) -> tuple[str, LocalFunction] | None:
        """Match by the exact reference, then the bare name, then a key that ends the reference."""
        name = function_name_of(function_ref)
        for key in (function_ref, name):
            if key in self._functions:
                return key, self._functions[key]
        for key, function in self._functions.items():
            if function_ref.endswith(key) or name == function_name_of(key):
                return key, function
        return None

    def handler(self, key: str) -> Handler:
        with self._lock:
            if key not in self._handlers:
                target = self._functions[key].handler
                self._handlers[key] = _import_handler(target) if isinstance(target, str) else target
            return self._handlers[key]


class LambdaInvokeMiddleware:
    """WSGI middleware answering ``POST /2015-03-31/functions/{name}/invocations``.

    Success: 200 with the JSON result. A raised exception: 200 with
    ``X-Amz-Function-Error: Unhandled`` and ``{"errorMessage", "errorType", "requestId",
    "stackTrace"}``, so that ASL ``Retry``/``Catch`` match ``errorType`` as in AWS.
    Requests whose ``X-Amz-Target`` is DynamoDB's are forwarded to ``dynamodb_endpoint``
    when given (the ASL ``dynamodb:*`` integrations call this port, not DynamoDB Local).
    Everything else goes to moto.
    """

    def __init__(
        self,
        app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        functions: LambdaFunctions,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        dynamodb_endpoint: str | None = None,
    ) -> None:
        self.app = app
        self.functions = functions
        self.account_id = account_id
        self.dynamodb_endpoint = dynamodb_endpoint

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        match = _INVOKE_PATH.match(environ.get("PATH_INFO", ""))
        if match and environ.get("REQUEST_METHOD") == "POST":
            return self._invoke(environ, start_response, urllib.parse.unquote(match["name"]))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if self.dynamodb_endpoint and target.startswith(_DYNAMODB_TARGETS):
            return self._forward_to_dynamodb(environ, start_response)
        return self.app(environ, start_response)

    def _invoke(self, environ: dict[str, Any], start_response: StartResponse, function_ref: str) -> Iterable[bytes]:
        found = self.functions.find(function_ref)
        region = _region_of(environ)
        if found is None:
            arn = self._arn(function_ref, region)
            return _respond(
                start_response,
                "404 Not Found",
                {"Type": "User", "message": f"Function not found: {arn}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        key, function = found
        body = _read_body(environ)
        try:
            event = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError as exc:
            return _respond(
                start_response,
                "400 Bad Request",
                {
                    "Type": "User",
                    "message": f"Could not parse request body into json: {exc}",
                },
                {"x-amzn-ErrorType": "InvalidRequestContentException"},
            )
        context = LambdaContext(
            function_name=function_name_of(function_ref),
            invoked_function_arn=self._arn(function_ref, region),
            memory_limit_in_mb=function.memory_limit_in_mb,
            timeout_seconds=function.timeout_seconds,
        )
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        if invocation_type == "DryRun":
            return _respond(start_response, "204 No Content", None, {})
        if invocation_type == "Event":
            threading.Thread(target=self._run, args=(key, event, context), daemon=True).start()
            return _respond(start_response, "202 Accepted", None, {})
        payload, function_error = self._run(key, event, context)
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if function_error:
            headers["X-Amz-Function-Error"] = function_error
        return _respond(start_response, "200 OK", payload, headers, raw=True)

    def _run(self, key: str, event: Any, context: LambdaContext) -> tuple[bytes, str | None]:
        try:
            result = self.functions.handler(key)(event, context)
        except Exception as exc:
            LOG.exception("%s raised (request %s)", context.function_name, context.aws_request_id)
            # The first frame is this method; the runtime shows the handler's frames only.
            frames = traceback.extract_tb(exc.__traceback__)[1:]
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_list(frames),
            }
            return json.dumps(error).encode(), "Unhandled"
        try:
            return json.dumps(result).encode(), None
        except (TypeError, ValueError) as exc:
            error = {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
                "requestId": context.aws_request_id,
                "stackTrace": [],
            }
            return json.dumps(error).encode(), "Unhandled"

    def _arn(self, function_ref: str, region: str) -> str:
        if function_ref.startswith("arn:"):
            return function_ref
        return f"arn:aws:lambda:{region}:{self.account_id}:function:{function_name_of(function_ref)}"

    def _forward_to_dynamodb(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        assert self.dynamodb_endpoint is not None
        headers = {
            name[5:].replace("_", "-").title(): value
            for name, value in environ.items()
            if name.startswith("HTTP_") and name not in ("HTTP_HOST", "HTTP_CONTENT_LENGTH")
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "application/x-amz-json-1.0")
        request = urllib.request.Request(
            self.dynamodb_endpoint,
            data=_read_body(environ),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body, reply = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, body, reply = exc.code, exc.read(), exc.headers
        passed = [(k, v) for k, v in reply.items() if k.lower().startswith(("x-amz", "content-type"))]
        start_response(f"{status} {'OK' if status == 200 else 'Error'}", passed)
        return [body]


def _read_body(environ: dict[str, Any]) -> bytes:
    from werkzeug.wsgi import get_input_stream

    body: bytes = get_input_stream(environ).read()
    return body


def _region_of(environ: dict[str, Any]) -> str:
    match = _CREDENTIAL_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match["region"] if match else DEFAULT_REGION


def _respond(
    start_response: StartResponse,
    status: str,
    body: Any,
    headers: dict[str, str],
    *,
    raw: bool = False,
) -> list[bytes]:
    data = b"" if body is None else body if raw else json.dumps(body).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
            *headers.items(),
        ],
    )
    return [data]


class _ScaledSleep:
    """Stands in for the ``time`` module inside moto's retrier: same module, shorter sleeps."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def scale_retry_sleep(scale: float) -> Callable[[], None]:
    """Multiply the wait between ASL ``Retry`` attempts by ``scale``; return the undo.

    moto honours IntervalSeconds/BackoffRate/MaxDelaySeconds/JitterStrategy with a real
    ``time.sleep`` in ``RetrierDecl._eval_body`` and has no setting for it, while ASL
    forbids intervals under one second. Only that module's ``time`` is replaced, so
    ``Wait`` states and timeouts keep their real durations.
    """
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    original = vars(retrier_decl)["time"]
    setattr(retrier_decl, "time", _ScaledSleep(scale))  # noqa: B010

    def undo() -> None:
        setattr(retrier_decl, "time", original)  # noqa: B010

    return undo


class MotoServer:
    """moto's server on ``host``, in a thread, with Step Functions executing state machines
    and Lambda Invoke served by ``lambda_functions``.

    ``lambda_functions`` maps a function name (or an ARN suffix) to ``"module.function"``,
    a callable, or a :class:`LocalFunction`. One instance per process: moto's backends,
    its config and ``MOTO_PORT`` (which its interpreter reads on each Lambda call) are
    process-wide. ``step_functions=False`` leaves those three alone (a server for KMS or SQS
    alone, beside another that runs workflows).
    """

    def __init__(
        self,
        lambda_functions: Mapping[str, str | Handler | LocalFunction] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        retry_sleep_scale: float = 1.0,
        dynamodb_endpoint: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        log_requests: bool = False,
        step_functions: bool = True,
    ) -> None:
        self.functions = LambdaFunctions(lambda_functions or {})
        self.step_functions = step_functions
        self.log_requests = log_requests
        self.host = host
        self.requested_port = port
        self.retry_sleep_scale = retry_sleep_scale
        self.dynamodb_endpoint = dynamodb_endpoint
        self.account_id = account_id
        self.port: int | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._undo: list[Callable[[], None]] = []

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise RuntimeError("moto server is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        if self._server is not None:
            return self.endpoint
        # Heavy imports here, not at module import: importing this module stays cheap.
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        log_requests = self.log_requests

        class RequestHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                if log_requests:
                    super().log_request(*args, **kwargs)

        app = LambdaInvokeMiddleware(
            DomainDispatcherApplication(create_backend_app),
            self.functions,
            account_id=self.account_id,
            dynamodb_endpoint=self.dynamodb_endpoint,
        )
        self._server = make_server(
            self.host,
            self.requested_port or 0,
            app,
            threaded=True,
            request_handler=RequestHandler,
        )
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()

        if not self.step_functions:
            return self.endpoint
        previous_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self.port)
        self._undo.append(lambda: _restore_env("MOTO_PORT", previous_port))
        if self.retry_sleep_scale != 1.0:
            self._undo.append(scale_retry_sleep(self.retry_sleep_scale))
        self._undo.append(_restore_sfn_config())
        self.configure({"stepfunctions": {"execute_state_machine": True}})
        return self.endpoint

    def configure(self, config: Mapping[str, Any]) -> None:
        """POST to ``/moto-api/config``: moto's own switch, the same for an external server."""
        self._moto_api("config", config)

    def reset(self) -> None:
        """Drop every resource in every moto backend (``/moto-api/reset``)."""
        self._moto_api("reset", None)

    def _moto_api(self, action: str, body: Any) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/{action}",
            data=json.dumps(body).encode() if body is not None else b"",
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        while self._undo:
            self._undo.pop()()
        self.port = None

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


def _restore_sfn_config() -> Callable[[], None]:
    from moto.core.config import default_user_config

    previous = dict(default_user_config.get("stepfunctions", {}))

    def undo() -> None:
        default_user_config["stepfunctions"] = previous  # type: ignore[typeddict-item]

    return undo


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
