"""Clients, affiliates and servers in memory (`ClientStore`, `DirectoryStore`), with the semantics
of `adapters.store.clients` and `adapters.store.directory`: lists sorted by name (a client by last
name, then first), a client's credit balance changed only with an entry of its ledger (`credit`):
by the invoice writes that cause it, or an adjustment (`change_credit`); an edit written only if
the record still has what the editor read (its editable fields), never the balance nor (unless
given) the credentials."""

from __future__ import annotations

from dataclasses import replace

from orderdesk.adapters.store.clients import OPENING_REASON
from orderdesk.domain.errors import ConcurrentUpdate, NotFound
from orderdesk.domain.model import Affiliate, Client, CreditChange, CreditEntry, CreditLedger, Server
from orderdesk.domain.money import ZERO

from .credit import credit_refusal, write_credit
from .state import Ledger, MemoryState, clone


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
            # its ledger opens with it, with what it starts with (as the DynamoDB mappers write it)
            self.s.ledgers[client.id] = Ledger(opening=client.credit_balance, opened_at=client.created_at)

    def get_client(self, client_id: str) -> Client:
        with self.s.lock:
            if client_id not in self.s.clients:
                raise NotFound(f"client {client_id} not found")
            return clone(self.s.clients[client_id])

    def list_clients(self, q: str | None = None, limit: int = 100) -> list[Client]:
        with self.s.lock:
            found = sorted(self.s.clients.values(), key=lambda c: name_key(f"{c.last_name} {c.first_name}", c.id))
            return [clone(c) for c in found if not q or client_matches(c, q)][:limit]

    def update_client(self, before: Client, after: Client) -> Client:
        with self.s.lock:
            stored = self.s.clients.get(before.id)
            if stored is None:
                raise NotFound(f"client {before.id} not found")
            if any(getattr(stored, name) != getattr(before, name) for name in CLIENT_EDITABLE):
                raise ConcurrentUpdate(f"client {before.id} changed meanwhile")
            edited = replace(stored, **{name: getattr(after, name) for name in CLIENT_EDITABLE})
            self.s.clients[before.id] = clone(edited)
            return clone(edited)

    def change_credit(self, change: CreditChange) -> CreditEntry:
        with self.s.lock:
            if change.client_id not in self.s.clients:
                raise NotFound(f"client {change.client_id} not found")
            refusal = credit_refusal(self.s, [change])
            if refusal is not None:
                raise refusal
            (entry,) = write_credit(self.s, [change])
            return clone(entry)

    def credit_ledger(self, client_id: str, limit: int, after_key: str | None = None) -> CreditLedger:
        with self.s.lock:
            client = self.s.clients.get(client_id)
            if client is None:
                raise NotFound(f"client {client_id} not found")
            ledger = self.s.ledgers.get(client_id, Ledger())
            keys = sorted((k for k in ledger.entries if after_key is None or k < after_key), reverse=True)
            entries = [clone(ledger.entries[k]) for k in keys[:limit]]
            last = keys[limit - 1] if len(keys) > limit else None
            if last is None:
                opening = ledger.opening if ledger.opening is not None else client.credit_balance
                if opening != ZERO:
                    entries.append(CreditEntry(at=ledger.opened_at or client.created_at, amount=opening,
                                               reason=OPENING_REASON))
            return CreditLedger(client_id=client_id, balance=client.credit_balance, entries=entries, last_key=last)


CLIENT_EDITABLE = ("first_name", "last_name", "email", "company", "country", "address", "phone")
SERVER_EDITABLE = ("name", "module", "hostname", "url", "username")


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

    def update_server(self, before: Server, after: Server, credentials_enc: str | None) -> Server:
        with self.s.lock:
            stored, credentials = self._server(before.id)
            if any(getattr(stored, name) != getattr(before, name) for name in SERVER_EDITABLE):
                raise ConcurrentUpdate(f"server {before.id} changed meanwhile")
            credentials = credentials_enc if credentials_enc is not None else credentials
            edited = replace(stored, **{name: getattr(after, name) for name in SERVER_EDITABLE},
                             has_credentials=credentials is not None)
            self.s.servers[before.id] = (clone(edited), credentials)
            return clone(edited)

    def list_servers(self) -> list[Server]:
        with self.s.lock:
            return [clone(s) for s, _ in sorted(self.s.servers.values(), key=lambda e: name_key(e[0].name, e[0].id))]

    def _server(self, server_id: str) -> tuple[Server, str | None]:
        if server_id not in self.s.servers:
            raise NotFound(f"server {server_id} not found")
        return self.s.servers[server_id]
