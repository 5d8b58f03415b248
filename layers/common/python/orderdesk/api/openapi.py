"""The OpenAPI 3.1 document of the routes registered on `orderdesk.api.http.Api`, rendered from
the same route table (and the same pydantic models) that handle the requests, so the document
and the behaviour agree. Imported on the first request for it: the API's cold start pays nothing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from ..adapters.signing import SIGNATURE_HEADER
from .http import IDEMPOTENCY_KEY, JSON, PATH_PARAM_SCHEMA, RouteSpec, model_named

if TYPE_CHECKING:
    from pydantic import BaseModel


def openapi_document(specs: list[RouteSpec], title: str, version: str) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    error_out = model_named("ErrorOut")
    models: set[type[BaseModel]] = {error_out}
    for spec in specs:
        for m in (spec.models().body, spec.models().response):
            if m is not None:
                models.add(m)
    ordered = sorted(models, key=lambda m: m.__name__)
    keys: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (m, "validation") for m in ordered] + [(m, "serialization") for m in ordered]
    mapping, defs = models_json_schema(keys, ref_template="#/components/schemas/{model}",
                                       by_alias=True)
    components = defs.get("$defs", {})
    error_schema = mapping[(error_out, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, specs, mapping, components,
                                                                          error_schema)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                # the signed routes' header (with X-OrderDesk-Timestamp: see the README's registrar events)
                "signature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER,
                              "description": "sha256=<hex HMAC-SHA256 of '<X-OrderDesk-Timestamp>.<raw body>'>"},
            },
        },
    }


def _operation(spec: RouteSpec, specs: list[RouteSpec], mapping: dict[Any, dict[str, Any]],
               components: dict[str, Any], error_schema: dict[str, Any]) -> dict[str, Any]:
    """One operation: parameters, body, answers (with their links) and every error it can give."""
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
            param = {"name": name, "in": "query", "required": name in required, "schema": _query_schema(schema)}
            if schema.get("description"):
                param["description"] = schema["description"]
            params.append(param)
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
    links = _links(spec, specs, responses.get(str(spec.status)), components)
    if links:
        responses[str(spec.status)]["links"] = links
    codes = {400, 413, *spec.errors} if (spec.body or spec.query) else set(spec.errors)
    if spec.role is not None:
        # every protected route reads or writes the table (or a queue, a workflow): a throttle is a 503
        codes |= {401, 403, 503}
    if spec.signature is not None:
        codes |= {401, 503}
    if spec.idempotent:
        codes |= {400, 409}
    if "{" in spec.path:
        codes |= {400, 404}
    for code in sorted(codes):
        responses[str(code)] = {"description": _REASONS.get(code, "error"),
                                "content": {JSON: {"schema": error_schema}}}
    if "503" in responses:
        responses["503"]["headers"] = {"Retry-After": {
            "description": "seconds to wait before retrying", "required": True,
            "schema": {"type": "integer", "minimum": 1}}}
    op["responses"] = responses
    if spec.role is not None:
        op["security"] = [{"bearer": []}]
        op["x-required-role"] = spec.role.value
    elif spec.signature is not None:
        op["security"] = [{"signature": []}]
    return op


_REASONS = {400: "bad input; every bad field is named", 401: "no or bad token (or signature)", 403: "role too low",
            404: "not found",
            409: "conflict (invalid_transition, action_in_progress, idempotency_conflict, duplicate_event)",
            413: "body too large", 502: "a remote system failed",
            503: "busy or briefly unreachable (unavailable); retry after Retry-After seconds"}


def _links(spec: RouteSpec, specs: list[RouteSpec], response: dict[str, Any] | None,
           components: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI links from an operation's answer to the operations it makes callable, so that a
    client (or a stateful fuzzer) can follow them: a created resource's `id` fills the placeholder
    that follows the collection's path (POST /orders → /orders/{order_id}...), a top-level
    `<name>_id` fills `{<name>_id}` (invoice_id → /invoices/{invoice_id}), an envelope's
    `<name>.id` fills `{<name>_id}` (action.id → .../actions/{action_id}), and the operation's own
    path parameters carry over. A target whose body names items (`item_ids`: the item commands)
    gets the answer's first item, so a sequence reaches a command on a real item of the order."""
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
            if "items" in props and "item_ids" in _body_properties(target, components):
                # merged into the generated body (the command stays the fuzzer's choice)
                links[target.name]["requestBody"] = {"item_ids": ["$response.body#/items/0/id"]}
    return links


def _body_properties(spec: RouteSpec, components: dict[str, Any]) -> dict[str, Any]:
    body = spec.models().body
    if body is None:
        return {}
    found: dict[str, Any] = _resolve({"$ref": f"#/components/schemas/{body.__name__}"}, components).get(
        "properties", {})
    return found


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
