"""The admin portal's files as the API serves them: `GET /` and `GET /portal/{name}`, no auth,
the right Content-Type, only files of portal/, nothing loaded from another origin."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orderdesk.config import reset_settings

PORTAL = Path(__file__).resolve().parents[2] / "portal"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def test_root_is_the_portal_page_with_a_strict_policy(client):
    # WHEN the root is fetched without any token
    r = client.http.get("/")
    # THEN it is the portal's page, which may load nothing from another origin
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="portal/app.js">' in r.body.decode()
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", sorted(p.name for p in PORTAL.iterdir() if p.suffix in TYPES))
def test_every_portal_file_is_served_with_its_type(client, path):
    r = client.http.get(f"/portal/{path}")
    assert r.status_code == 200, r.body
    assert r.headers["Content-Type"] == TYPES[Path(path).suffix]
    assert r.body == (PORTAL / path).read_bytes()


@pytest.mark.parametrize("name", ["nope.js", "app.py", "..%2Fapp.py", "%2e%2e", ".gitignore", "APP.JS",
                                  "app.js%00.css", "index.html.bak"])
def test_nothing_but_portal_files_is_served(client, name):
    # WHEN a name that is not a portal file (or tries to leave the directory) is asked for
    r = client.http.get(f"/portal/{name}")
    # THEN it is a plain 404, never a file from elsewhere
    assert r.status_code == 404
    assert json.loads(r.body)["error"]["code"] == "not_found"


def test_a_file_not_changed_since_is_a_304(client):
    # GIVEN the script once fetched, with its ETag
    first = client.http.get("/portal/app.js")
    etag = first.headers["ETag"]
    # WHEN fetched again with If-None-Match
    again = client.http.get("/portal/app.js", headers={"If-None-Match": etag})
    # THEN nothing is sent again
    assert again.status_code == 304
    assert again.body in (b"", "")
    assert client.http.get("/portal/app.js", headers={"If-None-Match": '"other"'}).status_code == 200


def test_config_names_the_cognito_hosted_ui_only_when_configured(client, monkeypatch):
    # GIVEN no Cognito settings (local): no hosted UI
    r = client.http.get("/portal/config.json")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert json.loads(r.body) == {"cognito": None}
    # GIVEN the Cognito domain and app client (AWS)
    monkeypatch.setenv("COGNITO_DOMAIN", "orderdesk.auth.eu-west-1.amazoncognito.com")
    monkeypatch.setenv("COGNITO_CLIENT_ID", "abc123client")
    reset_settings()
    try:
        r = client.http.get("/portal/config.json")
        # THEN the portal is told where to send people to sign in
        assert json.loads(r.body) == {"cognito": {"domain": "https://orderdesk.auth.eu-west-1.amazoncognito.com",
                                                  "client_id": "abc123client"}}
    finally:
        monkeypatch.delenv("COGNITO_DOMAIN")
        monkeypatch.delenv("COGNITO_CLIENT_ID")
        reset_settings()


def test_portal_routes_stay_out_of_the_openapi_document(client):
    paths = json.loads(client.http.get("/openapi.json").body)["paths"]
    assert "/" not in paths and not any(p.startswith("/portal") for p in paths)


def test_the_portal_loads_nothing_from_outside():
    # GIVEN every file of the portal
    for path in PORTAL.iterdir():
        text = path.read_text()
        # THEN no script, style, import or fetch points at another origin
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path.name
        assert not re.search(r"""\bimport\b[^;]*["'](https?:)?//""", text), path.name
        assert not re.search(r"""@import|url\(\s*["']?(https?:)?//""", text), path.name
    # AND every file the page names exists
    index = (PORTAL / "index.html").read_text()
    for ref in re.findall(r"""(?:src|href)="portal/([^"]+)\"""", index):
        assert (PORTAL / ref).is_file(), ref
    for path in PORTAL.glob("*.js"):
        for ref in re.findall(r"""import\(?\s*(?:[^"']*from\s*)?["']\./([^"']+)["']""", path.read_text()):
            assert (PORTAL / ref).is_file(), f"{path.name} imports {ref}"


def test_a_stage_url_without_its_slash_is_sent_to_the_one_with_it():
    # GIVEN the portal's files (behind API Gateway, the stage root arrives as /prod or /prod/)
    from orderdesk.api.portal import PortalFiles

    files = PortalFiles(PORTAL)
    # WHEN the root is asked for without its trailing slash
    r = files.index("/prod")
    # THEN the browser is sent to the same place with it, so relative asset and API paths resolve
    assert (r.status_code, r.headers["Location"]) == (301, "/prod/")
    # AND with the slash (or locally, at /) the page itself is served
    assert files.index("/prod/").status_code == 200
    assert files.index("/").status_code == 200
    assert files.index(None).status_code == 200


def test_the_page_may_call_the_hosted_ui_token_endpoint_only_when_configured(client, monkeypatch):
    # GIVEN no Cognito settings (local): the page may call its own origin only
    assert "connect-src 'self';" in client.http.get("/").headers["Content-Security-Policy"]
    # GIVEN the Cognito domain (AWS), whose token endpoint redeems the sign-in code (PKCE)
    monkeypatch.setenv("COGNITO_DOMAIN", "orderdesk.auth.eu-west-1.amazoncognito.com")
    monkeypatch.setenv("COGNITO_CLIENT_ID", "abc123client")
    reset_settings()
    try:
        # WHEN the page is fetched
        csp = client.http.get("/").headers["Content-Security-Policy"]
        # THEN it may call that origin too, and nothing else is loosened
        assert "connect-src 'self' https://orderdesk.auth.eu-west-1.amazoncognito.com;" in csp
        assert "script-src 'self';" in csp and "default-src 'none';" in csp and "form-action 'self';" in csp
    finally:
        monkeypatch.delenv("COGNITO_DOMAIN")
        monkeypatch.delenv("COGNITO_CLIENT_ID")
        reset_settings()


def test_the_charting_library_is_the_pinned_npm_package_served_from_this_origin():
    # GIVEN chart.js as tools/package.json pins it, installed from npm (npm ci --prefix tools)
    tools = PORTAL.parent / "tools"
    pinned = json.loads((tools / "package.json").read_text())["dependencies"]["chart.js"]
    locked = json.loads((tools / "package-lock.json").read_text())["packages"]["node_modules/chart.js"]["version"]
    installed = tools / "node_modules" / "chart.js"
    # THEN the pin is one exact version, the lock file's and the installed package's
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), pinned
    assert locked == pinned == json.loads((installed / "package.json").read_text())["version"]
    # AND the portal serves that package's UMD build, byte for byte (after a new pin: copy it again)
    assert (PORTAL / "chart-umd.js").read_bytes() == (installed / "dist" / "chart.umd.js").read_bytes()
    # AND the dashboard loads it from this origin, by a relative import
    assert 'import("./chart-umd.js")' in (PORTAL / "dashboard.js").read_text()
