"""ClientStore and DirectoryStore: clients, affiliates and servers stored and read back, listed
by name, clients searched; server credentials stored apart and never shown."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderdesk.domain.errors import ConcurrentUpdate, NotFound
from orderdesk.domain.model import Affiliate, Server
from orderdesk.services.ports import Stores
from tests.contract.builders import AT, client


def test_a_client_is_read_back_as_stored(stores_impl: Stores) -> None:
    # GIVEN a client with every field
    ada = client(company="Analytical Engines Ltd", credit="12.50")
    ada.address, ada.phone = "12 St James's Square, London", "+44 20 7946 0000"
    # WHEN stored and read back
    stores_impl.clients.put_client(ada)
    # THEN it is the same client
    assert stores_impl.clients.get_client(ada.id) == ada
    assert stores_impl.clients.get_client(ada.id).credit_balance == Decimal("12.50")


def test_a_client_id_is_taken_once(stores_impl: Stores) -> None:
    # GIVEN a client stored
    ada = client()
    stores_impl.clients.put_client(ada)
    # WHEN another client comes with its id
    # THEN ConcurrentUpdate, and the first is kept
    with pytest.raises(ConcurrentUpdate):
        stores_impl.clients.put_client(client(first="Grace", last="Hopper", client_id=ada.id))
    assert stores_impl.clients.get_client(ada.id).first_name == "Ada"


def test_an_unknown_client_is_not_found(stores_impl: Stores) -> None:
    # WHEN a client nobody stored is read
    # THEN NotFound
    with pytest.raises(NotFound):
        stores_impl.clients.get_client("no-such-client")


def test_clients_are_listed_by_last_then_first_name_and_searched_in_any_case(stores_impl: Stores) -> None:
    # GIVEN four clients
    for c in (client("Grace", "Hopper", "grace@navy.example", "US Navy"), client("Ada", "Lovelace"),
              client("Alan", "Turing", "alan@example.org"), client("Charles", "Babbage", "cb@engines.example",
                                                                  "Difference Engines")):
        stores_impl.clients.put_client(c)
    # WHEN listed, searched and limited
    def names(q: str | None, limit: int = 100) -> list[str]:
        return [c.last_name for c in stores_impl.clients.list_clients(q, limit)]

    # THEN by last name; q finds a name, an email or a company, in any case; limit keeps the first ones
    assert names(None) == ["Babbage", "Hopper", "Lovelace", "Turing"]
    assert names("LOVELACE") == ["Lovelace"]
    assert names("ada lovelace") == ["Lovelace"]
    assert names("example.org") == ["Turing"]
    assert names("engines") == ["Babbage"]
    assert names("navy") == ["Hopper"]
    assert names("a", 2) == ["Babbage", "Hopper"]
    assert names("nobody") == []


def test_affiliates_are_read_back_and_listed_by_name(stores_impl: Stores) -> None:
    # GIVEN two affiliates
    zeta = Affiliate(id="af-a", name="Zeta Reviews", email="z@example.com", created_at=AT)
    alpha = Affiliate(id="af-z", name="alpha blog", email="a@example.com", created_at=AT)
    stores_impl.directory.put_affiliate(zeta)
    stores_impl.directory.put_affiliate(alpha)
    # THEN each reads back, and the list is by name whatever its case
    assert stores_impl.directory.get_affiliate("af-a") == zeta
    assert stores_impl.directory.list_affiliates() == [alpha, zeta]
    with pytest.raises(NotFound):
        stores_impl.directory.get_affiliate("no-such-affiliate")


def test_servers_keep_their_credentials_apart(stores_impl: Stores) -> None:
    # GIVEN a server stored with encrypted credentials and one without
    whm = Server(id="srv-b", name="WHM One", module="cpanel", hostname="whm.example.com", username="root",
                 created_at=AT)
    hook = Server(id="srv-a", name="hooks", module="webhook", url="https://hooks.example.com/provision",
                  has_credentials=True, created_at=AT)
    stores_impl.directory.put_server(whm, "enc-token")
    stores_impl.directory.put_server(hook, None)
    # THEN a server says whether it has credentials (as stored, not as the caller claimed) but never shows them;
    # only server_credentials gives them; the list is by name
    got = stores_impl.directory.get_server("srv-b")
    assert got.has_credentials and (got.hostname, got.username, got.module) == ("whm.example.com", "root", "cpanel")
    assert not stores_impl.directory.get_server("srv-a").has_credentials
    assert stores_impl.directory.server_credentials("srv-b") == "enc-token"
    assert stores_impl.directory.server_credentials("srv-a") is None
    assert [s.id for s in stores_impl.directory.list_servers()] == ["srv-a", "srv-b"]
    with pytest.raises(NotFound):
        stores_impl.directory.get_server("no-such-server")
    with pytest.raises(NotFound):
        stores_impl.directory.server_credentials("no-such-server")


def test_an_affiliate_or_server_id_is_taken_once(stores_impl: Stores) -> None:
    # GIVEN an affiliate and a server
    directory = stores_impl.directory
    directory.put_affiliate(Affiliate(id="a1", name="Partner", email="p@example.com", created_at=AT))
    directory.put_server(Server(id="s1", name="Box", module="none", created_at=AT), None)
    # WHEN another of each is saved under the same id THEN a lost race (ids are drawn again), the
    # first kept as it was
    with pytest.raises(ConcurrentUpdate):
        directory.put_affiliate(Affiliate(id="a1", name="Other", email="o@example.com", created_at=AT))
    with pytest.raises(ConcurrentUpdate):
        directory.put_server(Server(id="s1", name="Other", module="none", created_at=AT), "secret")
    assert directory.get_affiliate("a1").name == "Partner"
    assert (directory.get_server("s1").name, directory.server_credentials("s1")) == ("Box", None)
