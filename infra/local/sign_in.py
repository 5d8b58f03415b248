"""Local sign-in: the route behind the portal's "Sign in locally as viewer / support / billing /
admin" buttons, served by the local gateway only (`infra.local.http_server`), never by the app:
the deployed API has no such route (app.py's routes and template.yaml's are checked by a test).

    GET  /local/sign-in                      → 200 {"roles": [...]}: what the buttons offer
    POST /local/sign-in  {"role": "viewer"}  → 200 {"token", "role", "expires_at"}

The token is an ID token signed with the stack's own key (as `make token ROLE=...`), valid 12
hours. Only a caller on this machine gets one (a stack bound to another interface still answers
403 to everyone else), and only for a JSON body, so a page elsewhere cannot make a browser post
a plain form here (and could not read the answer anyway)."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable
from typing import Any

from infra.local.env import ROLES

PATH = "/local/sign-in"
TTL_SECONDS = 12 * 3600

Answer = tuple[int, dict[str, Any]]


def _error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Answer:
    return status, {"error": {"code": code, "message": message, "fields": fields or {}}}


class LocalSignIn:
    """Answers PATH with tokens from `issue(role, ttl_seconds)`."""

    def __init__(self, issue: Callable[[str, int], str]) -> None:
        self.issue = issue

    @staticmethod
    def serves(path: str) -> bool:
        return path.split("?", 1)[0].rstrip("/") == PATH

    def answer(self, method: str, client_host: str, headers: dict[str, str], body: bytes | None) -> Answer:
        if not _loopback(client_host):
            return _error(403, "forbidden", "local sign-in is for this machine only")
        if method == "GET":
            return 200, {"roles": list(ROLES)}
        if method != "POST":
            return _error(405, "method_not_allowed", "GET or POST")
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            return _error(415, "unsupported_media_type", "send the role as JSON: {\"role\": \"viewer\"}")
        try:
            role = json.loads(body or b"{}").get("role")
        except (ValueError, AttributeError):
            return _error(400, "bad_request", "the request body is not valid", {"body": "must be a JSON object"})
        if role not in ROLES:
            return _error(400, "bad_request", "unknown role", {"role": f"one of {', '.join(ROLES)}"})
        return 200, {"token": self.issue(role, TTL_SECONDS), "role": role,
                     "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + TTL_SECONDS))}


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.removeprefix("::ffff:")).is_loopback
    except ValueError:
        return False
