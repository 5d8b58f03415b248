"""The route registry behind app.py.

`Api.route` registers a Chalice view that: checks the caller's role, refuses bodies over the
limit (413), validates path, query and body with the route's pydantic models (400 naming every
bad field), replays POSTs carrying an `Idempotency-Key`, calls the route function (one service
call), shapes the answer with the response model, and maps every domain error to its HTTP status
in one place. The same registry renders the OpenAPI document (`orderdesk.api.openapi`), so docs
and behaviour agree.

A route names its models (`body="CreateOrderIn"`, names in `orderdesk.schemas`) and they are
resolved on its first call: importing this module imports no pydantic and no model, so the API's
cold start pays for neither, and a route's first call loads only the areas of its own models."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from chalice import Chalice, Response

from .. import schemas
from ..config import get_settings
from ..domain.errors import (
    Conflict,
    NotFound,
    OrderDeskError,
    TransientError,
    ValidationFailed,
)
from ..domain.statuses import Role
from ..observability import logger
from .auth import Principal

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

JSON = "application/json"
# printable ASCII, no space at either end (HTTP trims those): what the check and the OpenAPI say
IDEMPOTENCY_KEY = re.compile(r"^[!-~]([ -~]{0,198}[!-~])?$")
# every path parameter is an id: what the check and the OpenAPI say (a longer one is not even a
# key DynamoDB would take: its ValidationException was a 500)
PATH_PARAM_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_-]+$"}
PATH_PARAM = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# what a 503 tells the caller to wait: a throttle or a dropped connection clears in about a second
RETRY_AFTER_SECONDS = 1


def model_named(name: str) -> type[BaseModel]:
    """The model called `name` in orderdesk.schemas (imported with its area on first use)."""
    from pydantic import BaseModel

    found = getattr(schemas, name)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise TypeError(f"orderdesk.schemas.{name} is not a model")
    return found


SignatureCheck = Callable[[dict[str, str], bytes], "str | None"]


class RouteModels(NamedTuple):
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None


@dataclass
class RouteSpec:
    path: str
    method: str
    name: str
    summary: str
    role: Role | None
    body: str | None  # model names in orderdesk.schemas; `models()` resolves them
    query: str | None
    response: str | None
    status: int
    response_is_list: bool = False
    idempotent: bool = False
    errors: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    # a route another system calls with a signed request instead of a token: why the request's
    # headers and raw body are not to be trusted (401), or None; checked before anything is parsed
    signature: SignatureCheck | None = None
    _models: RouteModels | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # a misspelt name fails at import, as a misspelt class would, without importing the model
        for name in (self.body, self.query, self.response):
            if name is not None and name not in schemas.AREA_OF:
                raise ValueError(f"route {self.method} {self.path}: no model {name!r} in orderdesk.schemas")

    def models(self) -> RouteModels:
        """The route's models, resolved on its first call and kept."""
        if self._models is None:
            self._models = RouteModels(*(model_named(n) if n is not None else None
                                         for n in (self.body, self.query, self.response)))
        return self._models


@dataclass
class Ctx:
    """What a route may know about the call besides its inputs."""

    principal: Principal | None
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: bytes = b""  # the body as sent (a webhook's signature covers these bytes)

    @property
    def actor(self) -> str:
        return self.principal.actor if self.principal else "anonymous"

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    return Response(body=json.dumps(body), status_code=status, headers={"Content-Type": JSON, **(headers or {})})


def status_for(exc: OrderDeskError) -> int:
    if isinstance(exc, ValidationFailed):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, TransientError):
        return 503  # worth retrying (a throttle, a service briefly unreachable): never a 500
    return 502  # a remote system failed in a way worth telling the caller


def domain_error_response(exc: OrderDeskError) -> Response:
    """The answer to a domain error that reached the HTTP layer: its status, its code, its message
    (and the bad fields of a ValidationFailed; a Retry-After on a 503)."""
    status = status_for(exc)
    if isinstance(exc, ValidationFailed):
        return error_response(status, "bad_request", exc.message, exc.fields)
    if isinstance(exc, TransientError):
        # the generic "transient" is a retry rule's word; the caller reads "unavailable"
        code = exc.code if exc.code != TransientError.code else "unavailable"
        return error_response(status, code, exc.message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return error_response(status, exc.code, exc.message)


_VALUE_ERROR = re.compile(r"^(?:Value error, )?([A-Za-z_][\w.]*): (.+)$")


def fields_of(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"])
        if err["type"] == "json_invalid":
            out["body"] = "is not valid JSON (or nests too deeply)"
            continue
        if err["type"] in ("model_type", "dict_type") and not loc:  # a nested one names its field
            out["body"] = "must be a JSON object"
            continue
        m = _VALUE_ERROR.match(msg)
        if m:  # a model validator names its field: "field: what is wrong"
            name, msg = m.group(1), m.group(2)
            loc = loc if loc.endswith(name) else (f"{loc}.{name}" if loc else name)
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        key = f"{prefix}{loc}" if loc else (prefix.rstrip(".") or "body")
        out.setdefault(key, msg)
    return out


def _body(model: type[BaseModel], raw: bytes) -> BaseModel:
    from pydantic import ValidationError  # loaded with the route's models

    try:
        return model.model_validate_json(raw or b"{}", strict=True)
    except ValidationError as exc:
        raise HttpError(400, "bad_request", "the request body is not valid", fields_of(exc)) from exc


class Api:
    def __init__(self, app: Chalice, authorizer: Any) -> None:
        self.app = app
        self.authorizer = authorizer
        self.specs: list[RouteSpec] = []

    def route(
        self,
        path: str,
        method: str,
        *,
        role: Role | None,
        summary: str,
        body: str | None = None,
        query: str | None = None,
        response: str | None = None,
        response_is_list: bool = False,
        status: int = 200,
        errors: tuple[int, ...] = (),
        tags: tuple[str, ...] = (),
        signature: SignatureCheck | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if signature is not None and role is not None:
            raise ValueError(f"route {method} {path}: a signed route takes no token (role=None)")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            # a route without a token (signed by its sender: a registrar, Stripe) is made once by the
            # sender's own ids (event_id, Stripe's event id), not by an Idempotency-Key anyone may send
            spec = RouteSpec(path=path, method=method, name=fn.__name__, summary=summary, role=role, body=body,
                             query=query, response=response, status=status, response_is_list=response_is_list,
                             idempotent=method == "POST" and role is not None, errors=errors, tags=tags,
                             signature=signature)
            self.specs.append(spec)
            wanted = set(inspect.signature(fn).parameters)

            @functools.wraps(fn)
            def view(**path_params: str) -> Response:
                return self._handle(spec, fn, wanted, path_params)

            self.app.route(
                path,
                methods=[method],
                authorizer=self.authorizer if role is not None else None,
                content_types=[JSON, "application/json; charset=utf-8"],
            )(view)
            return fn

        return register

    # -- one request ---------------------------------------------------------------------------

    def _request(self) -> Any:
        request = self.app.current_request
        assert request is not None, "only called while Chalice handles a request"
        return request

    def _principal(self) -> Principal | None:
        ctx = (self._request().context or {}).get("authorizer") or {}
        if not ctx.get("sub"):
            return None
        role = ctx.get("role") or None
        return Principal(subject=ctx["sub"], name=ctx.get("name", ""), role=Role(role) if role else None)

    def _handle(self, spec: RouteSpec, fn: Callable[..., Any], wanted: set[str], path_params: dict[str, str]) -> Response:
        request = self._request()
        try:
            principal = self._principal()
            if spec.role is not None:
                if principal is None:
                    raise HttpError(401, "unauthorized", "a valid bearer token is required")
                if principal.role is None or not principal.role.allows(spec.role):
                    raise HttpError(403, "forbidden", f"this needs the {spec.role.value} role or higher")
            raw = request.raw_body or b""
            if len(raw) > get_settings().max_body_bytes:
                raise HttpError(413, "payload_too_large", f"the body exceeds {get_settings().max_body_bytes} bytes")
            if spec.signature is not None:
                refusal = spec.signature(dict(request.headers or {}), raw)
                if refusal is not None:
                    raise HttpError(401, "unauthorized", refusal)
            bad = {k: "must be 1-64 letters, digits, '_' or '-'" for k, v in path_params.items()
                   if not PATH_PARAM.fullmatch(v)}
            if bad:
                raise HttpError(400, "bad_request", "bad path parameter", bad)
            kwargs: dict[str, Any] = {k: v for k, v in path_params.items() if k in wanted}
            models = spec.models()
            if models.body is not None:
                kwargs["body"] = _body(models.body, raw)
            if models.query is not None:
                kwargs["query"] = self._query(models.query)
            if "ctx" in wanted:
                kwargs["ctx"] = Ctx(principal=principal, headers=dict(request.headers or {}), raw_body=raw)

            def call() -> dict[str, Any]:
                return self._shape(spec, fn(**kwargs))

            key = (request.headers or {}).get("idempotency-key")
            if spec.idempotent and key is not None:
                if not IDEMPOTENCY_KEY.fullmatch(key):
                    raise HttpError(400, "bad_request", "bad Idempotency-Key",
                                    {"Idempotency-Key": "must be 1-200 printable ASCII characters"})
                from ..adapters.idempotency import run_once

                who = principal.subject if principal else "anonymous"
                # the concrete resource, not just the route (request.path is the route's template):
                # one key sent to two orders' cancel is two requests, not a replay of the first
                scope_key = json.dumps([who, spec.method, spec.path, path_params, key], sort_keys=True)
                digest = hashlib.sha256(raw).hexdigest()
                shaped = run_once("api", scope_key, digest, call, lambda_context=self.app.lambda_context)
            else:
                shaped = call()
            return self._respond(shaped)
        except HttpError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.fields)
        except OrderDeskError as exc:
            if isinstance(exc, TransientError):  # the class only: a message may quote a remote answer
                logger.warning("unavailable", extra={"route": f"{spec.method} {spec.path}",
                                                     "error": type(exc).__name__})
            return domain_error_response(exc)
        except Exception:
            logger.exception("unhandled error", extra={"route": f"{spec.method} {spec.path}"})
            return error_response(500, "internal", "internal error; it has been logged")

    def _query(self, model: type[BaseModel]) -> BaseModel:
        params = self._request().query_params or {}
        values: dict[str, Any] = {}
        for name in params:
            many = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
            if len(many) > 1:
                raise HttpError(400, "bad_request", "repeated query parameter", {name: "give it once"})
            values[name] = many[0]
        from pydantic import ValidationError  # loaded with the route's models

        try:
            return model.model_validate(values)
        except ValidationError as exc:
            raise HttpError(400, "bad_request", "the query string is not valid", fields_of(exc)) from exc

    @staticmethod
    def _shape(spec: RouteSpec, result: Any) -> dict[str, Any]:
        if spec.status == 204 or result is None:
            return {"status": spec.status, "body": None}
        model = spec.models().response
        if model is not None:
            if spec.response_is_list:
                data: Any = [(r if isinstance(r, model) else model.model_validate(r)).model_dump(mode="json", by_alias=True)
                             for r in result]
            else:
                obj = result if isinstance(result, model) else model.model_validate(result)
                data = obj.model_dump(mode="json", by_alias=True)
        else:
            data = result
        return {"status": spec.status, "body": data}

    @staticmethod
    def _respond(shaped: dict[str, Any]) -> Response:
        if shaped["body"] is None:
            return Response(body="", status_code=shaped["status"])
        return Response(body=json.dumps(shaped["body"]), status_code=shaped["status"], headers={"Content-Type": JSON})

    # -- OpenAPI -------------------------------------------------------------------------------

    def openapi(self, title: str, version: str) -> dict[str, Any]:
        """The OpenAPI document of every registered route (`orderdesk.api.openapi`)."""
        from .openapi import openapi_document  # pydantic's JSON Schema: loaded on the first request for it

        return openapi_document(self.specs, title, version)
