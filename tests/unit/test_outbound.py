"""Outbound calls (issue 17): where OrderDesk may send a request and how a URL is shown.

The URL and address rules are pure functions (`orderdesk.domain.outbound`). The connect-time
checks run through the real outbound session against a stubbed resolver (`socket.getaddrinfo`
monkeypatched): a name "resolves" to a private or metadata address and no packet is sent, as
the `no_traffic_off_loopback` guard proves (a socket connecting anywhere but 127.0.0.1 fails the
test). The only real traffic is to servers on 127.0.0.1."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orderdesk.adapters import gateways, outbound, registrars
from orderdesk.adapters.outbound import OutboundRefused
from orderdesk.adapters.provisioning import WebhookModule
from orderdesk.adapters.remote import RemoteRejected, post_signed
from orderdesk.adapters.signing import (
    NONCE_HEADER,
    NonceLedger,
    signed_headers,
    verify_request,
    verify_signature,
)
from orderdesk.config import get_settings, reset_settings
from orderdesk.domain.errors import GatewayError, PermanentError
from orderdesk.domain.model import Server, Transaction
from orderdesk.domain.outbound import (
    address_refusal,
    host_refusal,
    scrub_urls,
    url_for_messages,
    url_for_viewers,
    url_refusal,
)
from tests.template.support import REPO_ROOT

SECRET = "whsec-unit-0123456789"


@pytest.fixture()
def loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], None]]:
    def set_to(allowed: bool) -> None:
        monkeypatch.setenv("ALLOW_LOOPBACK_OUTBOUND", "true" if allowed else "false")
        reset_settings()

    yield set_to
    monkeypatch.undo()
    reset_settings()


class Resolver:
    """`socket.getaddrinfo` answering the names given (each: a list of addresses, or a function
    of the call's number giving one); any other name goes to the real resolver."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.real = socket.getaddrinfo

    def __call__(self, host: str, port: Any, family: int = 0, kind: int = 0, proto: int = 0,
                 flags: int = 0) -> list[tuple[Any, ...]]:
        if host not in self.answers:
            return self.real(host, port, family, kind, proto, flags)
        self.calls.append(host)
        answer = self.answers[host]
        addresses = answer(len(self.calls) - 1) if callable(answer) else answer
        out: list[tuple[Any, ...]] = []
        for a in addresses:
            if ":" in a:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, int(port), 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port))))
        return out


@pytest.fixture()
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], Resolver]:
    def install(answers: dict[str, Any]) -> Resolver:
        stub = Resolver(answers)
        monkeypatch.setattr(socket, "getaddrinfo", stub)
        return stub

    return install


@pytest.fixture(autouse=True)
def no_traffic_off_loopback(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every socket these tests open may connect to 127.0.0.1 only (the standards: no traffic to a
    private or public address, not even to show it is refused)."""
    attempts: list[Any] = []

    class Guarded(socket.socket):
        def connect(self, address: Any) -> None:
            attempts.append(address)
            assert address[0] in ("127.0.0.1", "::1"), f"a connection to {address} was attempted"
            super().connect(address)

    monkeypatch.setattr(socket, "socket", Guarded)
    return attempts


# -- credentials never go in a URL ------------------------------------------------------------------


@pytest.mark.parametrize("url,secret", [
    ("https://admin:hunter2pass@hooks.example.com/p", "hunter2pass"),
    ("https://only-a-token-as-user@hooks.example.com/p", "only-a-token-as-user"),
    ("https://hooks.example.com/p?token=tok3nvalue", "tok3nvalue"),
    ("https://hooks.example.com/p?region=eu&api_key=k3yvalue", "k3yvalue"),
    ("https://hooks.example.com/p?X-Auth-Token=x4uthvalue", "x4uthvalue"),
    ("https://hooks.example.com/p?sig=s1gvalue", "s1gvalue"),
    ("https://hooks.example.com/p?signature=s1gnaturevalue", "s1gnaturevalue"),
    ("https://hooks.example.com/p?password=p4ssvalue", "p4ssvalue"),
    ("https://hooks.example.com/p?clientSecret=s3cretvalue", "s3cretvalue"),
    ("https://hooks.example.com/p?accessKey=acc3ssvalue", "acc3ssvalue"),
    ("https://hooks.example.com/p#access_token=fr4gvalue", "fr4gvalue"),
])
def test_a_url_carrying_credentials_is_refused_without_quoting_them(url: str, secret: str) -> None:
    # GIVEN a URL with userinfo, a credential-like query parameter or a fragment
    # WHEN it is judged THEN it is refused, saying why, and the reason does not quote the secret
    why = url_refusal(url, allow_loopback=False)
    assert why is not None and secret not in why
    assert "user name or password" in why or "credentials" in why or "fragment" in why


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/provision", "https://hooks.example.com:8443/p?region=eu&plan=basic",
    "https://8.8.8.8/hook", "https://[2001:4860:4860::8888]/hook", "https://hooks.example.com/p?monkey=1&author=ada",
])
def test_a_public_https_url_without_credentials_passes(url: str) -> None:
    assert url_refusal(url, allow_loopback=False) is None


@pytest.mark.parametrize("url,allowed,ok", [
    ("http://hooks.example.com/p", True, False),     # plain http leaves the machine: never
    ("http://8.8.8.8/p", True, False),
    ("http://127.0.0.1:9/provision", True, True),    # the local stack's demo server
    ("http://127.0.0.1:9/provision", False, False),  # ...but not in AWS
    ("http://localhost:8000/p", True, True),
    ("https://localhost/p", False, False),
    ("https://127.0.0.1/p", False, False),
    ("http://[::1]:8080/p", True, True),
    ("http://[::ffff:127.0.0.1]:8080/p", True, True),
    ("ftp://hooks.example.com/p", True, False),
])
def test_https_only_except_loopback_where_the_setting_allows_it(url: str, allowed: bool, ok: bool) -> None:
    assert (url_refusal(url, allow_loopback=allowed) is None) is ok


NON_PUBLIC = [
    "169.254.169.254", "169.254.170.2", "10.0.0.1", "10.255.255.254", "172.16.0.1", "172.31.255.255",
    "192.168.1.1", "100.64.0.1", "100.127.255.254", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250",
    "255.255.255.255", "192.0.2.10", "198.18.0.1", "240.0.0.1",
    "fc00::1", "fd00:ec2::254", "fe80::1", "fe80::1%eth0", "ff02::1", "::", "fec0::1", "2001:db8::1",
    "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:192.168.0.1", "::ffff:a9fe:a9fe",
    "64:ff9b::a9fe:a9fe", "2002:a00:1::1", "::a00:1",
]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_non_public_addresses_are_refused_in_every_form(address: str) -> None:
    # GIVEN a private, link-local (metadata), reserved or multicast address, or an IPv6 form
    # carrying one; WHEN judged (loopback allowed, even) THEN it is refused
    assert address_refusal(address, allow_loopback=True) is not None


@pytest.mark.parametrize("host", ["169.254.169.254", "[fd00:ec2::254]", "[::ffff:169.254.169.254]", "10.0.0.1:8443",
                                  "2852039166", "0xa9.0xfe.0xa9.0xfe", "0251.0376.0251.0376", "10.1"])
def test_a_literal_non_public_address_is_refused_as_written(host: str) -> None:
    # GIVEN 169.254.169.254 written in decimal, hex or octal (all of which getaddrinfo takes)
    # WHEN a URL or a cPanel hostname names it THEN it is refused before anything resolves it
    assert "public address" in (url_refusal(f"https://{host}/p", allow_loopback=True) or "")
    assert host_refusal(host, allow_loopback=True)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "172.32.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(address, allow_loopback=False) is None
    assert address_refusal(address, allow_loopback=False, plain_http=True) is not None  # http: loopback only


def test_loopback_passes_only_where_allowed() -> None:
    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        assert address_refusal(address, allow_loopback=True, plain_http=True) is None
        assert address_refusal(address, allow_loopback=False) == "a loopback address"


def test_loopback_is_off_by_default_and_not_turned_on_in_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no ALLOW_LOOPBACK_OUTBOUND (as in AWS) THEN the setting is off
    monkeypatch.delenv("ALLOW_LOOPBACK_OUTBOUND")
    reset_settings()
    try:
        assert get_settings().allow_loopback_outbound is False
    finally:
        monkeypatch.undo()
        reset_settings()
    # AND no function of the template sets it
    assert "ALLOW_LOOPBACK_OUTBOUND" not in (REPO_ROOT / "template.yaml").read_text()


# -- how a URL is shown ----------------------------------------------------------------------------


def test_errors_show_scheme_host_and_path_only() -> None:
    url = "https://admin:hunter2@Hooks.Example.com:8443/v1/provision?token=t0k3n#frag"
    assert url_for_messages(url) == "https://hooks.example.com:8443/v1/provision"
    assert url_for_messages("http://u:p@[::1]:81/x?a=b") == "http://[::1]:81/x"
    text = "upstream https://u:hunter2@hooks.example.com/p?token=t0k3n failed; see http://h/x?sig=abc"
    assert scrub_urls(text) == "upstream https://hooks.example.com/p failed; see http://h/x"


def test_viewers_see_a_stored_url_without_userinfo_or_credential_values() -> None:
    # GIVEN a URL stored before credentials were refused in URLs
    stored = "https://admin:hunter2@hooks.example.com/p?region=eu&token=t0k3n&apiKey=k3y#x"
    # WHEN it is shown THEN userinfo and fragment are gone and credential values are replaced
    shown = url_for_viewers(stored)
    assert shown == "https://hooks.example.com/p?region=eu&token=[redacted]&apiKey=[redacted]"
    assert url_for_viewers("https://hooks.example.com/p") == "https://hooks.example.com/p"


# -- at connect time, after resolution ------------------------------------------------------------------


@pytest.mark.parametrize("addresses", [
    ["169.254.169.254"], ["10.0.0.7"], ["192.168.10.20"], ["fd00:ec2::254"], ["::ffff:10.0.0.7"],
    ["93.184.215.14", "10.0.0.7"],  # one public address does not clear a private one
])
def test_a_name_resolving_to_a_non_public_address_is_refused_before_any_connection(
        resolver: Any, no_traffic_off_loopback: list[Any], addresses: list[str]) -> None:
    # GIVEN a webhook host name that resolves (stubbed) to a non-public address
    dns = resolver({"hooks.example.test": addresses})
    # WHEN a command is posted to it
    with pytest.raises(OutboundRefused) as refused:
        post_signed("https://hooks.example.test/p", {"command": "create"}, SECRET, idempotency_key="k")
    # THEN it is refused, permanently, naming the name and the address, and no socket connected
    assert "hooks.example.test resolves to" in refused.value.message and "refused" in refused.value.message
    assert isinstance(refused.value, PermanentError)
    assert dns.calls == ["hooks.example.test"] and no_traffic_off_loopback == []


def test_loopback_names_and_addresses_are_refused_where_loopback_is_not_allowed(
        resolver: Any, loopback: Any, no_traffic_off_loopback: list[Any]) -> None:
    # GIVEN loopback not allowed (AWS), a name resolving to 127.0.0.1, and a literal one
    loopback(False)
    resolver({"hooks.example.test": ["127.0.0.1"]})
    # WHEN commands are posted THEN both are refused, and nothing connected
    for url in ("https://hooks.example.test/p", "http://127.0.0.1:9/provision"):
        with pytest.raises(OutboundRefused):
            post_signed(url, {"command": "create"}, SECRET, idempotency_key="k")
    assert no_traffic_off_loopback == []


def test_plain_http_is_refused_at_connect_time_to_any_address_but_loopback(resolver: Any, loopback: Any) -> None:
    # GIVEN loopback allowed and a name resolving to loopback and a public address (the URL
    # check refuses http to a name; the connection, called directly, refuses it on its own)
    loopback(True)
    resolver({"hooks.example.test": ["127.0.0.1", "93.184.215.14"]})
    with pytest.raises(OutboundRefused, match="plain http"):
        outbound.session().get("http://hooks.example.test:9/p", timeout=2)


# A TLS server on 127.0.0.1 with a certificate for the names the tests resolve (stubbed) to it.


def _certificate(tmp: Path, names: list[str]) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TlsServer:
    def __init__(self, tmp: Path, names: list[str]) -> None:
        self.cert, key = _certificate(tmp, names)
        self.sni: list[str | None] = []
        self.hosts: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):  # HTTP/1.0: one request per connection
            def do_GET(self) -> None:  # noqa: N802
                outer.hosts.append(self.headers.get("Host"))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        context.sni_callback = lambda sock, name, ctx: outer.sni.append(name)  # type: ignore[assignment,misc]
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    server = TlsServer(tmp_path, ["rebind.test", "hooks.example.test"])
    yield server
    server.stop()


def test_the_connection_goes_to_the_address_checked_with_sni_and_host_kept(
        resolver: Any, tls_server: TlsServer, no_traffic_off_loopback: list[Any]) -> None:
    # GIVEN a rebinding name: loopback (allowed here) for its first lookup, metadata for any later one
    dns = resolver({"rebind.test": lambda n: ["127.0.0.1"] if n == 0 else ["169.254.169.254"]})
    # WHEN it is called over https (the certificate is for the name)
    r = outbound.session().get(f"https://rebind.test:{tls_server.port}/x", verify=str(tls_server.cert), timeout=5)
    # THEN the one lookup's address was connected to, the handshake named the host (SNI) and the
    # certificate was checked against it, and the request's Host is the name
    assert r.status_code == 200
    assert dns.calls == ["rebind.test"]
    assert tls_server.sni == ["rebind.test"] and tls_server.hosts == [f"rebind.test:{tls_server.port}"]
    assert [a[0] for a in no_traffic_off_loopback] == ["127.0.0.1"]
    # AND WHEN the next connection looks the name up again and gets the metadata address
    with pytest.raises(OutboundRefused) as refused:
        outbound.session().get(f"https://rebind.test:{tls_server.port}/x", verify=str(tls_server.cert), timeout=5)
    # THEN it is refused, and nothing went anywhere but the first, checked address
    assert "169.254.169.254" in refused.value.message
    assert [a[0] for a in no_traffic_off_loopback] == ["127.0.0.1"]


def test_a_certificate_for_another_name_still_fails_with_the_address_pinned(resolver: Any,
                                                                              tls_server: TlsServer) -> None:
    # GIVEN a name the server's certificate does not cover, resolving to the server
    resolver({"other.test": ["127.0.0.1"]})
    # WHEN called THEN TLS verification fails as it should (pinning did not switch it off)
    import requests

    with pytest.raises(requests.exceptions.SSLError):
        outbound.session().get(f"https://other.test:{tls_server.port}/x", verify=str(tls_server.cert), timeout=5)


def test_outbound_calls_ignore_proxy_settings_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # a proxy would be the address connected to, and the check would judge the proxy instead
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.1:3128")
    assert outbound.session().trust_env is False


# -- errors do not carry what a URL carried ------------------------------------------------------------


def test_a_stored_url_with_userinfo_is_refused_without_quoting_it(no_traffic_off_loopback: list[Any]) -> None:
    # GIVEN a server URL saved before userinfo was refused (the port is closed: today's code
    # reports it unreachable, quoting the URL with its password)
    url = "http://admin:hunter2pass@127.0.0.1:9/provision"
    # WHEN a command is posted THEN the error names the URL by scheme, host and path only
    with pytest.raises(PermanentError) as raised:
        post_signed(url, {"command": "create"}, SECRET, idempotency_key="k")
    assert "hunter2pass" not in raised.value.message and "admin" not in raised.value.message
    assert "http://127.0.0.1:9/provision" in raised.value.message


class Echo:
    """A webhook on 127.0.0.1 refusing every command with an error page quoting URLs with secrets."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b'{"error": "forbidden, try https://hooks.example.com/p?token=ECHOEDTOKEN or ' \
                       b'https://admin:ECHOEDPASS@hooks.example.com/q"}'
                self.send_response(403)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_urls_quoted_in_a_remote_answer_lose_their_credentials_in_the_error() -> None:
    # GIVEN a webhook whose refusal quotes URLs carrying a token and a password
    echo = Echo()
    try:
        # WHEN a command is refused
        with pytest.raises(RemoteRejected) as raised:
            post_signed(echo.url, {"command": "create"}, SECRET, idempotency_key="k")
    finally:
        echo.httpd.shutdown()
        echo.httpd.server_close()
    # THEN the error quotes the answer with those URLs cut to scheme, host and path
    message = raised.value.message
    assert "answered 403" in message and "https://hooks.example.com/p" in message
    assert "ECHOEDTOKEN" not in message and "ECHOEDPASS" not in message


# -- Stripe, the registrar, the webhook module -----------------------------------------------------------


@pytest.fixture()
def stripe_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    def set_base(base: str) -> None:
        monkeypatch.setenv("STRIPE_API_KEY", "sk_test_outbound")
        monkeypatch.setenv("STRIPE_API_BASE", base)
        reset_settings()

    yield set_base
    monkeypatch.undo()
    reset_settings()
    gateways._client = gateways._client_for = None


def _payment() -> Transaction:
    return Transaction(id="p1", type="payment", gateway="stripe", transaction_id="pi_1", amount=Decimal("5.00"),
                       at="2026-01-01T00:00:00Z")


@pytest.mark.parametrize("base,quoted", [
    ("https://sk_live_x:pw@stripe-proxy.example.com", "sk_live_x"),
    ("https://stripe-proxy.example.com/?key=sk_live_y", "sk_live_y"),
    ("http://stripe-proxy.example.com", None),
    ("https://169.254.169.254", None),
])
def test_a_stripe_base_url_with_credentials_plain_http_or_a_private_address_is_refused(
        stripe_env: Any, no_traffic_off_loopback: list[Any], base: str, quoted: str | None) -> None:
    stripe_env(base)
    with pytest.raises(GatewayError) as raised:
        gateways.StripeGateway("USD").refund(_payment(), Decimal("5.00"), "refund-k")
    assert "STRIPE_API_BASE" in raised.value.message and (quoted is None or quoted not in raised.value.message)
    assert no_traffic_off_loopback == []


def test_stripe_through_a_name_resolving_to_metadata_fails_for_good_not_retried(
        stripe_env: Any, resolver: Any, no_traffic_off_loopback: list[Any]) -> None:
    # GIVEN STRIPE_API_BASE a name that resolves (stubbed) to the metadata address
    stripe_env("https://stripe-proxy.example.test")
    resolver({"stripe-proxy.example.test": ["169.254.169.254"]})
    # WHEN a refund is asked THEN it is a GatewayError (permanent), not GatewayUnavailable
    with pytest.raises(GatewayError) as raised:
        gateways.StripeGateway("USD").refund(_payment(), Decimal("5.00"), "refund-k")
    assert not isinstance(raised.value, gateways.GatewayUnavailable)
    assert "resolves to 169.254.169.254" in raised.value.message and no_traffic_off_loopback == []


@pytest.mark.parametrize("url,secret,error", [
    ("https://u:registrarpass@registrar.example.com/hook", SECRET, "user name or password"),
    ("http://registrar.example.com/hook", SECRET, "https"),
    ("https://registrar.example.com/hook", None, "signing secret"),
])
def test_the_webhook_registrar_needs_a_clean_https_url_and_a_signing_secret(
        monkeypatch: pytest.MonkeyPatch, url: str, secret: str | None, error: str) -> None:
    monkeypatch.setenv("REGISTRAR_WEBHOOK_URL", url)
    if secret:
        monkeypatch.setenv("REGISTRAR_WEBHOOK_SECRET", secret)
    else:
        monkeypatch.delenv("REGISTRAR_WEBHOOK_SECRET", raising=False)
    reset_settings()
    try:
        with pytest.raises(PermanentError) as raised:
            registrars.registrar_for("webhook")
    finally:
        monkeypatch.undo()
        reset_settings()
    assert error in raised.value.message and "registrarpass" not in raised.value.message


def test_a_webhook_server_without_a_signing_secret_sends_nothing(no_traffic_off_loopback: list[Any]) -> None:
    # GIVEN a webhook server saved before a secret was required (the demo data has one)
    server = Server(id="s1", name="old", module="webhook", url="http://127.0.0.1:9/provision")
    # WHEN its module is made, or a command posted unsigned THEN both refuse, and nothing connects
    with pytest.raises(PermanentError, match="signing secret"):
        WebhookModule(server, None)
    with pytest.raises(PermanentError, match="signing secret"):
        post_signed(server.url or "", {"command": "create"}, None, idempotency_key="k")
    assert no_traffic_off_loopback == []


# -- the signature: body, Idempotency-Key, nonce, timestamp; replays refused ------------------------------


def test_each_delivery_is_signed_with_a_new_nonce_over_the_key_and_the_body() -> None:
    # GIVEN two deliveries of one command (a retry)
    body = b'{"command":"create"}'
    first = signed_headers(SECRET, idempotency_key="orderdesk:o1:i1:create", body=body, now=1_700_000_000)
    retry = signed_headers(SECRET, idempotency_key="orderdesk:o1:i1:create", body=body, now=1_700_000_000)
    # THEN they share the key but not the nonce, and each verifies once
    assert first["Idempotency-Key"] == retry["Idempotency-Key"] and first[NONCE_HEADER] != retry[NONCE_HEADER]
    seen = NonceLedger()
    assert verify_request(SECRET, first, body, seen=seen, now=1_700_000_010)
    assert verify_request(SECRET, retry, body, seen=seen, now=1_700_000_010)
    # AND the signature does not move to another command's key or body
    moved = {**first, "Idempotency-Key": "orderdesk:o1:i1:terminate"}
    assert not verify_request(SECRET, moved, body, seen=NonceLedger(), now=1_700_000_010)
    assert not verify_request(SECRET, first, b'{"command":"terminate"}', seen=NonceLedger(), now=1_700_000_010)


def test_a_replayed_delivery_is_refused_within_the_window_and_a_stale_one_after_it() -> None:
    body = b'{"command":"terminate"}'
    headers = signed_headers(SECRET, idempotency_key="orderdesk:o1:i1:terminate", body=body, now=1_700_000_000)
    seen = NonceLedger()
    # WHEN the same delivery arrives twice within 5 minutes THEN the second is refused (its nonce)
    assert verify_request(SECRET, headers, body, seen=seen, now=1_700_000_001)
    assert not verify_request(SECRET, headers, body, seen=seen, now=1_700_000_299)
    # AND after the window the timestamp refuses it, the nonce forgotten (memory stays bounded)
    assert not verify_request(SECRET, headers, body, seen=seen, now=1_700_000_301)
    later = signed_headers(SECRET, idempotency_key="k2", body=body, now=1_700_001_000)
    assert verify_request(SECRET, later, body, seen=seen, now=1_700_001_000) and len(seen) == 1
    # AND a timestamp from the future is as bad as an old one
    future = signed_headers(SECRET, idempotency_key="k3", body=body, now=1_700_002_000)
    assert not verify_request(SECRET, future, body, seen=seen, now=1_700_001_000)


def test_a_forged_or_malformed_delivery_does_not_use_up_a_nonce() -> None:
    body = b"{}"
    headers = signed_headers(SECRET, idempotency_key="k", body=body, now=1_700_000_000)
    seen = NonceLedger()
    assert not verify_request("another-secret-value", headers, body, seen=seen, now=1_700_000_000)
    assert not verify_signature(SECRET, timestamp="1700000000", nonce="short", idempotency_key="k", body=body,
                                header=headers["X-OrderDesk-Signature"], seen=seen, now=1_700_000_000)
    assert not verify_request(SECRET, {**headers, "Idempotency-Key": "a\nb"}, body, seen=seen, now=1_700_000_000)
    assert len(seen) == 0 and verify_request(SECRET, headers, body, seen=seen, now=1_700_000_000)
