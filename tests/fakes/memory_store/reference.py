"""Clients, affiliates and servers in memory (`ClientStore`, `DirectoryStore`), with the semantics
of `adapters.store.clients` and `adapters.store.directory`: lists sorted by name (a client by last
name, then first), a client's credit balance changed only by the invoice writes that cause it."""

from __future__ import annotations

from orderdesk.domain.errors import ConcurrentUpdate, NotFound
from orderdesk.domain.model import Affiliate, Client, Server

from .state import MemoryState, clone


def name_key(name: str, entity_id: str) -> str:
    return f"{name.lower()}#{entity_id}"


def client_matches(client: Client, q: str) -> bool:
    """GET /clients?q=: the lower-cased "first last email company" contains q, or (as for
    clients stored before that text was) the email, company or a name contains it."""
    ql = q.lower()
    search = " ".join(x.lower() for x in (client.first_name, client.last_name, client.email, client.company) if x)
    return (ql in search or ql in client.email or (client.company is not None and q in client.company)
            or q in client.first_name or q in client.last_name)


class MemoryClients:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def put_client(self, client: Client) -> None:
        with self.s.lock:
            if client.id in self.s.clients:
                raise ConcurrentUpdate("client id already taken")
            self.s.clients[client.id] = clone(client)

    def get_client(self, client_id: str) -> Client:
        with self.s.lock:
            if client_id not in self.s.clients:
                raise NotFound(f"client {client_id} not found")
            return clone(self.s.clients[client_id])

    def list_clients(self, q: str | None = None, limit: int = 100) -> list[Client]:
        with self.s.lock:
            found = sorted(self.s.clients.values(), key=lambda c: name_key(f"{c.last_name} {c.first_name}", c.id))
            return [clone(c) for c in found if not q or client_matches(c, q)][:limit]


class MemoryDirectory:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def put_affiliate(self, affiliate: Affiliate) -> None:
        with self.s.lock:
            if affiliate.id in self.s.affiliates:
                raise ConcurrentUpdate("affiliate id already taken")
            self.s.affiliates[affiliate.id] = clone(affiliate)

    def get_affiliate(self, affiliate_id: str) -> Affiliate:
        with self.s.lock:
            if affiliate_id not in self.s.affiliates:
                raise NotFound(f"affiliate {affiliate_id} not found")
            return clone(self.s.affiliates[affiliate_id])

    def list_affiliates(self) -> list[Affiliate]:
        with self.s.lock:
            return [clone(a) for a in sorted(self.s.affiliates.values(), key=lambda a: name_key(a.name, a.id))]

    def put_server(self, server: Server, credentials_enc: str | None) -> None:
        with self.s.lock:
            if server.id in self.s.servers:
                raise ConcurrentUpdate("server id already taken")
            stored = clone(server)
            stored.has_credentials = credentials_enc is not None  # what is stored says so, not the caller
            self.s.servers[server.id] = (stored, credentials_enc)

    def get_server(self, server_id: str) -> Server:
        with self.s.lock:
            return clone(self._server(server_id)[0])

    def server_credentials(self, server_id: str) -> str | None:
        with self.s.lock:
            return self._server(server_id)[1]

    def list_servers(self) -> list[Server]:
        with self.s.lock:
            return [clone(s) for s, _ in sorted(self.s.servers.values(), key=lambda e: name_key(e[0].name, e[0].id))]

    def _server(self, server_id: str) -> tuple[Server, str | None]:
        if server_id not in self.s.servers:
            raise NotFound(f"server {server_id} not found")
        return self.s.servers[server_id]
