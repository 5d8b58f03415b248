"""The route registry behind app.py.

`Api.route` registers a Chalice view that: checks the caller's role, refuses bodies over the
limit (413), validates path, query and body with the route's pydantic models (400 naming every
bad field), replays POSTs carrying an `Idempotency-Key`, calls the route function (one service
call), shapes the answer with the response model, and maps every domain error to its HTTP status
in one place. The same registry renders the OpenAPI document, so docs and behaviour agree.

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
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from chalice import Chalice, Response

from .. import schemas
from ..config import get_settings
from ..domain.errors import (
    Conflict,
    NotFound,
    OrderDeskError,
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


def model_named(name: str) -> type[BaseModel]:
    """The model called `name` in orderdesk.schemas (imported with its area on first use)."""
    from pydantic import BaseModel

    found = getattr(schemas, name)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise TypeError(f"orderdesk.schemas.{name} is not a model")
    return found


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

    @property
    def actor(self) -> str:
        return self.principal.actor if self.principal else "anonymous"


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    return Response(body=json.dumps(body), status_code=status, headers={"Content-Type": JSON})


def status_for(exc: OrderDeskError) -> int:
    if isinstance(exc, ValidationFailed):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    return 502  # a remote system failed in a way worth telling the caller


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
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            spec = RouteSpec(path=path, method=method, name=fn.__name__, summary=summary, role=role, body=body,
                             query=query, response=response, status=status, response_is_list=response_is_list,
                             idempotent=method == "POST", errors=errors, tags=tags)
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
                kwargs["ctx"] = Ctx(principal=principal, headers=dict(request.headers or {}))

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
        except ValidationFailed as exc:
            return error_response(400, "bad_request", exc.message, exc.fields)
        except OrderDeskError as exc:
            return error_response(status_for(exc), exc.code, exc.message)
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
        from pydantic.json_schema import models_json_schema

        error_out = model_named("ErrorOut")
        models: set[type[BaseModel]] = {error_out}
        for spec in self.specs:
            for m in (spec.models().body, spec.models().response):
                if m is not None:
                    models.add(m)
        ordered = sorted(models, key=lambda m: m.__name__)
        keys: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
            (m, "validation") for m in ordered] + [(m, "serialization") for m in ordered]
        mapping, defs = models_json_schema(keys, ref_template="#/components/schemas/{model}",
                                           by_alias=True)
        components = defs.get("$defs", {})
        paths: dict[str, dict[str, Any]] = {}
        for spec in self.specs:
            op: dict[str, Any] = {"operationId": spec.name, "summary": spec.summary, "tags": list(spec.tags)}
            params: list[dict[str, Any]] = [
                {"name": p, "in": "path", "required": True, "schema": dict(PATH_PARAM_SCHEMA)}
                for p in re.findall(r"{(\w+)}", spec.path)
            ]
            query = spec.models().query
            if query is not None:
                qs = query.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(qs.get("$defs", {}))
                required = set(qs.get("required", []))
                for name, schema in qs.get("properties", {}).items():
                    params.append({"name": name, "in": "query", "required": name in required,
                                   "schema": _query_schema(schema)})
            if spec.idempotent:
                params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                               "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                                          "pattern": IDEMPOTENCY_KEY.pattern}})
            if params:
                op["parameters"] = params
            body, response = spec.models().body, spec.models().response
            if body is not None:
                op["requestBody"] = {"required": True, "content": {JSON: {"schema": mapping[(body, "validation")]}}}
            responses: dict[str, Any] = {}
            if spec.status == 204:
                responses["204"] = {"description": "done"}
            elif response is not None:
                schema = mapping[(response, "serialization")]
                if spec.response_is_list:
                    schema = {"type": "array", "items": schema}
                responses[str(spec.status)] = {"description": "ok", "content": {JSON: {"schema": schema}}}
            else:
                responses[str(spec.status)] = {"description": "ok", "content": {JSON: {"schema": {}}}}
            links = _links(spec, self.specs, responses.get(str(spec.status)), components)
            if links:
                responses[str(spec.status)]["links"] = links
            err = {"content": {JSON: {"schema": mapping[(error_out, "serialization")]}}}
            codes = {400, 413, *spec.errors} if (spec.body or spec.query) else set(spec.errors)
            if spec.role is not None:
                codes |= {401, 403}
            if spec.idempotent:
                codes |= {400, 409}
            if "{" in spec.path:
                codes |= {400, 404}
            for code in sorted(codes):
                responses[str(code)] = {"description": _REASONS.get(code, "error"), **err}
            op["responses"] = responses
            if spec.role is not None:
                op["security"] = [{"bearer": []}]
                op["x-required-role"] = spec.role.value
            paths.setdefault(spec.path, {})[spec.method.lower()] = op
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            },
        }


_REASONS = {400: "bad input; every bad field is named", 401: "no or bad token", 403: "role too low",
            404: "not found", 409: "conflict (invalid_transition, action_in_progress, idempotency_conflict)",
            413: "body too large", 502: "a remote system failed"}


def _links(spec: RouteSpec, specs: list[RouteSpec], response: dict[str, Any] | None,
           components: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI links from an operation's answer to the operations it makes callable, so that a
    client (or a stateful fuzzer) can follow them: a created resource's `id` fills the placeholder
    that follows the collection's path (POST /orders → /orders/{order_id}...), a top-level
    `<name>_id` fills `{<name>_id}` (invoice_id → /invoices/{invoice_id}), an envelope's
    `<name>.id` fills `{<name>_id}` (action.id → .../actions/{action_id}), and the operation's own
    path parameters carry over."""
    if response is None or spec.response is None or spec.response_is_list:
        return {}
    schema = response["content"][JSON]["schema"]
    props = _resolve(schema, components).get("properties", {})
    found: dict[str, str] = {}
    if "id" in props and not spec.path.endswith("}"):
        nxt = re.match(re.escape(spec.path) + r"/{(\w+)}", next((t.path for t in specs if t.path.startswith(
            spec.path + "/{")), ""))
        if nxt:
            found[nxt.group(1)] = "$response.body#/id"
    for name, prop in props.items():
        if name.endswith("_id") and name != "id":
            found.setdefault(name, f"$response.body#/{name}")
        elif "id" in _resolve(prop, components).get("properties", {}):
            found.setdefault(f"{name}_id", f"$response.body#/{name}/id")
    own = {p: f"$request.path.{p}" for p in re.findall(r"{(\w+)}", spec.path)}
    links: dict[str, Any] = {}
    for target in specs:
        wanted = re.findall(r"{(\w+)}", target.path)
        if target is spec or not wanted or not any(p in found for p in wanted):
            continue
        if all(p in found or p in own for p in wanted):
            links[target.name] = {"operationId": target.name,
                                  "parameters": {p: found.get(p, own.get(p)) for p in wanted}}
    return links


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    for _ in range(5):
        ref = schema.get("$ref")
        if ref is None:
            options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
            if len(options) != 1:
                return schema
            schema = options[0]
            continue
        schema = components.get(ref.rsplit("/", 1)[-1], {})
    return schema


def _query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Query values are strings on the wire; keep the constraint, drop nullability wrappers."""
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        base = dict(options[0]) if options else {"type": "string"}
        for k in ("default", "description"):
            if schema.get(k) is not None:
                base[k] = schema[k]
        return base
    return {k: v for k, v in schema.items() if k != "title"}
