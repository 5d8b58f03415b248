"""HTTP to the outside world, only where `domain.outbound` allows it, and to the address checked.

Every outbound call (provisioning webhooks, WHM, the registrar webhook, Stripe) goes through
`session()`, a `requests.Session` whose connections resolve the host name once, refuse the call
if any address it resolves to is not allowed (a private, link-local, metadata, reserved or, in
AWS, loopback address), and connect to one of those very addresses. The TLS handshake still
names the host (SNI) and the certificate is still checked against it, and the `Host` header is
the name: only the address lookup is pinned. Checking the name and then letting the library
resolve it again to connect would let a DNS-rebinding name answer a public address to the check
and a private one to the connection; here there is no second lookup. Redirects (the Stripe
library follows them) open new connections, which are checked the same way.

How: urllib3 opens a connection in `HTTPConnection._new_conn()` from `_dns_host` and `port`,
while `host` (kept) feeds SNI, certificate matching and `Host`. The pools of this session make
connections of the subclasses below, whose `_new_conn` resolves, checks and connects itself.
The session ignores the environment's proxy settings (`trust_env = False`): a proxy would make
the connection's address the proxy's, and the check meaningless.

A refusal is `OutboundRefused`, a permanent error: retrying cannot make an address public.

Why not requests-hardened (which pins too): it judges only the first address a name resolves to,
and its refusal is a `RequestException`, which the callers here rightly treat as a network fault
worth retrying."""

from __future__ import annotations

import socket
import sys
import threading
from typing import Any

from ..config import get_settings
from ..domain.errors import PermanentError
from ..domain.outbound import address_refusal, url_for_messages, url_refusal


class OutboundRefused(PermanentError):
    """A call OrderDesk will not make: a URL with credentials, plain http, a non-public address."""


def check_url(url: str, *, what: str = "") -> None:
    """Refuse `url` before any connection (its literal address, scheme and credentials)."""
    why = url_refusal(url, allow_loopback=get_settings().allow_loopback_outbound)
    if why:
        raise OutboundRefused(f"{what + ': ' if what else ''}{url_for_messages(url)} {why}")


def resolve_checked(host: str, port: int, *, plain_http: bool) -> list[tuple[Any, ...]]:
    """`getaddrinfo` for `host`, once; refused unless every address it gives may be called."""
    from urllib3.util.connection import allowed_gai_family

    allow_loopback = get_settings().allow_loopback_outbound
    infos = socket.getaddrinfo(host.strip("[]"), port, allowed_gai_family(), socket.SOCK_STREAM)
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
    for info in infos:
        address = str(info[4][0])
        why = address_refusal(address, allow_loopback=allow_loopback, plain_http=plain_http)
        if why:
            raise OutboundRefused(f"{host} resolves to {address.split('%', 1)[0]}, {why}: refused")
    return list(infos)


def _connect(infos: list[tuple[Any, ...]], timeout: Any, source_address: Any, options: Any) -> socket.socket:
    """The first of the checked addresses that accepts a connection."""
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            for option in options or ():
                sock.setsockopt(*option)
            # a number or None (blocking); urllib3's "default" sentinel keeps the socket default
            if timeout is None or isinstance(timeout, (int, float)):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError("no address to connect to")


def _pinned(base: type, *, plain_http: bool) -> type:
    """`base` (urllib3's HTTP or HTTPS connection) connecting only to checked addresses."""
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    class Pinned(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            try:
                infos = resolve_checked(self._dns_host, self.port, plain_http=plain_http)
                sock = _connect(infos, self.timeout, self.source_address, self.socket_options)
            except socket.gaierror as exc:
                raise NameResolutionError(self.host, self, exc) from exc
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc
            except OSError as exc:
                raise NewConnectionError(self, f"failed to establish a new connection: {exc}") from exc
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock

    Pinned.__name__ = Pinned.__qualname__ = f"Pinned{base.__name__}"
    return Pinned


def _adapter_class() -> type:
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class PinnedHTTPPool(HTTPConnectionPool):
        ConnectionCls = _pinned(HTTPConnection, plain_http=True)

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _pinned(HTTPSConnection, plain_http=False)

    class PinnedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": PinnedHTTPPool, "https": PinnedHTTPSPool}

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            raise OutboundRefused("outbound calls do not go through a proxy (its address cannot be checked)")

    return PinnedAdapter


_session: Any = None
_session_lock = threading.Lock()


def session() -> Any:
    """The process's one pooled session for outbound calls, built on first use."""
    global _session
    with _session_lock:
        if _session is None:
            import requests

            made = requests.Session()
            made.trust_env = False
            adapter = _adapter_class()
            made.mount("https://", adapter())
            made.mount("http://", adapter())
            _session = made
        return _session
