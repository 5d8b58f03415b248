"""Affiliates and servers: the reference data orders point at."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.update import Action

from ...domain.errors import ConcurrentUpdate, NotFound
from ...domain.model import Affiliate, Server
from . import keys, mappers
from . import records as r
from .table import condition_failed, edit_as_read, translated


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
        if credentials_enc is not None:
            actions.append(r.ServerRecord.credentials_enc.set(credentials_enc))
        rec = r.ServerRecord(pk=keys.server_pk(before.id), sk=keys.SERVERS)
        edit_as_read(rec, ("name", "module", "hostname", "url", "username"), before, after, actions,
                     f"server {before.id}", reread=lambda: self._server(before.id))
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
