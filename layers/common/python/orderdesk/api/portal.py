"""The admin portal's static files, served by the API itself: same origin as the API (no CORS),
shipped with it, and the same port locally.

Only plain files that exist directly in the portal directory are served, by a name of one
path segment with a known extension, so nothing else on disk can be reached. Every answer
carries an ETag (a repeat visit costs a 304) and a strict Content-Security-Policy: the portal
loads nothing from anywhere but its own origin, and calls nothing else but, in AWS, the Cognito
hosted UI's token endpoint (the code flow's redemption of its sign-in code)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from chalice import Response

from ..config import get_settings
from .http import error_response

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(html|js|css|svg|json)$")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

CONFIG_NAME = "config.json"


class PortalFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, name: str) -> Path | None:
        """The file behind `name`, or None when it is not a portal file."""
        if not _NAME.match(name):
            return None
        path = self.directory / name
        if path.is_symlink() or not path.is_file():
            return None
        return path

    def index(self, request_path: str | None, if_none_match: str | None = None) -> Response:
        """The portal's page. Its assets and the API are named relative to it, so it must be
        served from a path ending in "/": API Gateway's stage URL without one (/prod) is sent
        to /prod/ first."""
        if request_path and not request_path.endswith("/"):
            return Response(body="", status_code=301, headers={"Location": f"{request_path}/", **security_headers()})
        return self.response("index.html", if_none_match)

    def response(self, name: str, if_none_match: str | None = None) -> Response:
        path = self.path_of(name)
        if path is None:
            return error_response(404, "not_found", f"no portal file named {name!r}")
        body = path.read_bytes()
        return _respond(body, CONTENT_TYPES[path.suffix], if_none_match, cache="no-cache")


def _cognito() -> dict[str, str] | None:
    settings = get_settings()
    if not (settings.cognito_domain and settings.cognito_client_id):
        return None
    domain = settings.cognito_domain.rstrip("/")
    if not domain.startswith(("https://", "http://")):
        domain = f"https://{domain}"
    return {"domain": domain, "client_id": settings.cognito_client_id}


def security_headers() -> dict[str, str]:
    """SECURITY_HEADERS, with the hosted UI's origin added to connect-src when there is one."""
    cognito = _cognito()
    if cognito is None:
        return SECURITY_HEADERS
    csp = SECURITY_HEADERS["Content-Security-Policy"].replace("connect-src 'self'", f"connect-src 'self' {cognito['domain']}")
    return {**SECURITY_HEADERS, "Content-Security-Policy": csp}


def config_response() -> Response:
    """What the portal needs to know at start: where the Cognito hosted UI is (None locally)."""
    body = json.dumps({"cognito": _cognito()}).encode()
    return _respond(body, CONTENT_TYPES[".json"], None, cache="no-store")


def _respond(body: bytes, content_type: str, if_none_match: str | None, *, cache: str) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers: dict[str, str | list[str]] = {**security_headers(), "Cache-Control": cache, "ETag": etag}
    if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body.decode("utf-8"), status_code=200, headers={**headers, "Content-Type": content_type})
