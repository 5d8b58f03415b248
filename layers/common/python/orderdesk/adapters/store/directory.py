"""Affiliates and servers: the reference data orders point at."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from ...domain.errors import ConcurrentUpdate, NotFound
from ...domain.model import Affiliate, Server
from . import keys, mappers
from . import records as r
from .table import condition_failed, translated


@translated
class Directory:
    def put_affiliate(self, affiliate: Affiliate) -> None:
        _new(r.AffiliateRecord(
            pk=keys.affiliate_pk(affiliate.id), sk=keys.AFFILIATES, gsi4pk=keys.AFFILIATES,
            gsi4sk=keys.name_sort_key(affiliate.name, affiliate.id), id=affiliate.id, name=affiliate.name,
            email=affiliate.email, created_at=affiliate.created_at,
        ), f"affiliate {affiliate.id}")

    def get_affiliate(self, affiliate_id: str) -> Affiliate:
        try:
            return mappers.affiliate_from(r.AffiliateRecord.get(keys.affiliate_pk(affiliate_id), keys.AFFILIATES))
        except DoesNotExist as exc:
            raise NotFound(f"affiliate {affiliate_id} not found") from exc

    def list_affiliates(self) -> list[Affiliate]:
        return [mappers.affiliate_from(rec) for rec in r.AffiliateRecord.query(keys.AFFILIATES,
                                                                              index_name=keys.BY_TYPE)]

    def put_server(self, server: Server, credentials_enc: str | None) -> None:
        _new(r.ServerRecord(
            pk=keys.server_pk(server.id), sk=keys.SERVERS, gsi4pk=keys.SERVERS,
            gsi4sk=keys.name_sort_key(server.name, server.id), id=server.id, name=server.name, module=server.module,
            hostname=server.hostname, url=server.url, username=server.username, credentials_enc=credentials_enc,
            created_at=server.created_at,
        ), f"server {server.id}")

    def update_server(self, before: Server, after: Server, credentials_enc: str | None) -> Server:
        """Write `after`'s fields (and its name's sort key) if the server still has `before`'s;
        `credentials_enc` replaces its credentials when given, else they stay as they are.
        ConcurrentUpdate when it changed meanwhile, NotFound when it is gone."""
        actions: list[Action] = [r.ServerRecord.gsi4sk.set(keys.name_sort_key(after.name, after.id))]
        condition = r.ServerRecord.pk.exists()
        for name in ("name", "module", "hostname", "url", "username"):
            attr, old, value = getattr(r.ServerRecord, name), getattr(before, name), getattr(after, name)
            condition &= attr == old if old is not None else attr.does_not_exist()
            actions.append(attr.set(value) if value is not None else attr.remove())
        if credentials_enc is not None:
            actions.append(r.ServerRecord.credentials_enc.set(credentials_enc))
        rec = r.ServerRecord(pk=keys.server_pk(before.id), sk=keys.SERVERS)
        try:
            rec.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                self._server(before.id)  # NotFound when it is gone
                raise ConcurrentUpdate(f"server {before.id} changed meanwhile") from exc
            raise
        return mappers.server_from(rec)

    def get_server(self, server_id: str) -> Server:
        return mappers.server_from(self._server(server_id))

    def server_credentials(self, server_id: str) -> str | None:
        """Encrypted credentials of a server, for provisioning modules only."""
        return self._server(server_id).credentials_enc

    def list_servers(self) -> list[Server]:
        return [mappers.server_from(rec) for rec in r.ServerRecord.query(keys.SERVERS, index_name=keys.BY_TYPE)]

    @staticmethod
    def _server(server_id: str) -> r.ServerRecord:
        try:
            return r.ServerRecord.get(keys.server_pk(server_id), keys.SERVERS)
        except DoesNotExist as exc:
            raise NotFound(f"server {server_id} not found") from exc


def _new(rec: r.AffiliateRecord | r.ServerRecord, what: str) -> None:
    """Save a new record; its id taken already is a lost race (ids are random: draw again)."""
    try:
        rec.save(condition=type(rec).pk.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise ConcurrentUpdate(f"{what} already exists") from exc
        raise
