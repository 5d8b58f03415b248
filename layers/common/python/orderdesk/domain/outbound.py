"""Where OrderDesk may send a request, and how a URL is shown: the rules, with no I/O.

A URL OrderDesk calls (a server's webhook or WHM, the registrar webhook, Stripe's base) must

* use `https`; plain `http` only to a loopback address, and only where loopback is allowed
  (the local stack and the tests: `ALLOW_LOOPBACK_OUTBOUND`, off in AWS);
* carry no credentials: no `user:password@`, no query parameter named like one (`token`, `key`,
  `secret`, `password`, `signature`, `auth`...), no fragment. Credentials go in the server's
  write-only `credentials`, encrypted at rest; a URL is shown to viewers and quoted in errors;
* point at a public address. Loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
  carrier-grade NAT (100.64/10), link-local and cloud metadata (169.254/16, fe80::/10),
  unspecified, multicast, documentation and other reserved ranges are refused, also inside
  IPv6 (IPv4-mapped, NAT64 and 6to4 forms carry an IPv4 address, judged as that address).

`url_refusal` judges a URL as written (a literal address is judged here; a name is judged by the
adapter at connect time, on every address it resolves to, see `adapters.outbound`).
`address_refusal` judges one resolved address. The `url_for_*` functions and `scrub_urls` are
how a URL appears in an answer or an error: never its userinfo, and in errors never its query."""

from __future__ import annotations

import re
import socket
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit

REDACTED = "[redacted]"

# Query parameter names that carry a credential: a part of the name (`api_key`, `X-Auth-Token`)
# or, for the short ones, the whole of one of its words (`key`, `sig`); refusing a harmless name
# now and then is cheaper than storing and showing a secret.
_CREDENTIAL_PARTS = ("token", "secret", "passw", "passphrase", "apikey", "signature", "credential", "bearer",
                     "session", "hmac", "authorization", "authkey", "oauth", "privatekey", "accesskey", "cookie")
_CREDENTIAL_WORDS = frozenset({"key", "keys", "sig", "pwd", "pw", "pass", "otp", "jwt", "sid", "auth"})

_V4_REFUSED = tuple((ip_network(net), why) for net, why in (
    ("0.0.0.0/8", "an unspecified address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a carrier-grade NAT address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local (cloud metadata) address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "a reserved address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a reserved address"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
))
_V6_REFUSED = tuple((ip_network(net), why) for net, why in (
    ("::1/128", "a loopback address"),
    ("::/8", "a reserved address"),  # unspecified, IPv4-compatible and -translated forms
    ("64:ff9b:1::/48", "a local NAT64 address"),
    ("100::/64", "a discard address"),
    ("2001::/23", "a reserved address"),  # Teredo tunnels among them
    ("2001:db8::/32", "a documentation address"),
    ("fc00::/7", "a private address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
))
_NAT64 = ip_network("64:ff9b::/96")
LOOPBACK_NAMES = ("localhost",)


def looks_like_credential(name: str) -> bool:
    """Whether a query parameter's name says it carries a credential."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    if any(part in flat for part in _CREDENTIAL_PARTS):
        return True
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).lower())
    return any(word in _CREDENTIAL_WORDS for word in words)


def parse_address(host: str) -> IPv4Address | IPv6Address | None:
    """`host` as an address if it is one in any form the resolver would take as one (`127.1`,
    `0x7f.0.0.1` and `2130706433` are 127.0.0.1 to `getaddrinfo`), else None (a name)."""
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ip_address(host)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host) and not re.fullmatch(r"[a-fA-F.]+", host):
        try:
            return IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_v4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_refusal(address: IPv4Address | IPv6Address | str, *, allow_loopback: bool,
                    plain_http: bool = False) -> str | None:
    """Why a request may not go to `address` (None: it may). `plain_http`: the request is not
    encrypted, which only a loopback address may take."""
    ip = ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            return address_refusal(inner, allow_loopback=allow_loopback, plain_http=plain_http)
        table = _V6_REFUSED
    else:
        table = _V4_REFUSED
    why = next((why for net, why in table if ip in net), None)
    if why == "a loopback address":
        return None if allow_loopback else "a loopback address"
    if why is None and not (ip.is_global and not ip.is_multicast):
        why = "not a public address"
    if why is None and plain_http:
        why = "reached over plain http (only https leaves this machine)"
    return why


def _host(parts: SplitResult) -> str:
    return (parts.hostname or "").rstrip(".")


def is_loopback_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    address = parse_address(host)
    if isinstance(address, IPv6Address) and _embedded_v4(address) is not None:
        address = _embedded_v4(address)
    return address is not None and address.is_loopback


def url_refusal(url: str, *, allow_loopback: bool) -> str | None:
    """What is wrong with `url` as a place to send requests (None: nothing, as far as the text
    tells; the addresses of a name are judged when connecting). The text never quotes the
    URL's credentials."""
    if "\\" in url or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return "is not a valid URL (no spaces, control characters or backslashes)"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port out of range
    except ValueError:
        return "is not a valid URL (check the host and the port)"
    host = _host(parts)
    if parts.scheme not in ("http", "https") or not host:
        return "must be an https URL with a host"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not carry a user name or password (put them in credentials, which are kept encrypted)"
    named = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True) if looks_like_credential(name)})
    if named:
        return (f"must not carry credentials in its query ({', '.join(named)}): "
                "put them in credentials, which are kept encrypted")
    if parts.fragment or url.endswith("#"):
        return "must not have a fragment (it is never sent)"
    loopback = is_loopback_host(host)
    if loopback and not allow_loopback:
        return "must not point at a loopback address"
    if parts.scheme == "http" and not loopback:
        return "must use https (plain http only to a loopback address on the local stack)"
    address = parse_address(host)
    if address is not None:
        why = address_refusal(address, allow_loopback=allow_loopback, plain_http=parts.scheme == "http")
        if why:
            return f"must point at a public address, not {why}"
    return None


def host_refusal(hostname: str, *, allow_loopback: bool) -> str | None:
    """A bare `host[:port]` (a cPanel server's hostname), judged as `https://host[:port]`."""
    return url_refusal(f"https://{hostname}", allow_loopback=allow_loopback)


def _origin(parts: SplitResult) -> str:
    host = _host(parts)
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def url_for_messages(url: str) -> str:
    """Scheme, host, port and path: how an error names a URL (never userinfo, query or fragment)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    return _origin(parts) + quote(parts.path, safe="/%:@!$&'()*+,;=-._~")


def url_for_viewers(url: str) -> str:
    """How an answer shows a stored URL: no userinfo, no fragment, and the value of every query
    parameter named like a credential replaced (URLs saved before credentials were refused)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    query = [(name, REDACTED if looks_like_credential(name) else value)
             for name, value in parse_qsl(parts.query, keep_blank_values=True)]
    shown = url_for_messages(url)
    return shown + (f"?{urlencode(query, safe='[]')}" if query else "")


_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s\"'<>`]+")


def scrub_urls(text: str) -> str:
    """`text` with every URL in it cut to scheme, host and path (a remote's error page, a
    library's exception message)."""
    return _URL_IN_TEXT.sub(lambda m: url_for_messages(m.group(0)), text)
