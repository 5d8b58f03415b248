"""Clients, affiliates and servers: the reference data orders point at."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..adapters import crypto
from ..domain.model import Affiliate, Client, Server, iso, new_id, utcnow
from ..domain.money import ZERO
from .ports import stores

if TYPE_CHECKING:  # annotations only: the models (and pydantic) load with the request that carries one
    from ..schemas import AffiliateIn, ClientIn, ServerIn


def create_client(cmd: ClientIn) -> Client:
    client = Client(id=new_id(), first_name=cmd.first_name, last_name=cmd.last_name, email=str(cmd.email).lower(),
                    country=cmd.country, company=cmd.company, address=cmd.address, phone=cmd.phone,
                    credit_balance=ZERO, created_at=iso(utcnow()))
    stores().clients.put_client(client)
    return client


def get_client(client_id: str) -> Client:
    return stores().clients.get_client(client_id)


def list_clients(q: str | None) -> list[Client]:
    return stores().clients.list_clients(q)


def create_affiliate(cmd: AffiliateIn) -> Affiliate:
    affiliate = Affiliate(id=new_id(), name=cmd.name, email=str(cmd.email).lower(), created_at=iso(utcnow()))
    stores().directory.put_affiliate(affiliate)
    return affiliate


def list_affiliates() -> list[Affiliate]:
    return stores().directory.list_affiliates()


def create_server(cmd: ServerIn) -> Server:
    server = Server(id=new_id(), name=cmd.name, module=cmd.module, hostname=cmd.hostname, url=cmd.url,
                    username=cmd.username, has_credentials=cmd.credentials is not None, created_at=iso(utcnow()))
    stores().directory.put_server(server, crypto.encrypt(cmd.credentials) if cmd.credentials else None)
    return server


def list_servers() -> list[Server]:
    return stores().directory.list_servers()
