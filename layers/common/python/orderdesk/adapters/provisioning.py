"""Provisioning modules: one interface (create, suspend, unsuspend, terminate, and `check`, a
connection test) over the systems that hold clients' accounts.

* `none`: manual provisioning; the command is only recorded.
* `webhook`: the command as signed JSON (see `remote` and `signing`) to the server's URL; a
  server without a signing secret sends nothing. Its check is a signed `{"command": "ping"}`.
* `cpanel`: WHM API 1 (`createacct`, `suspendacct`, `unsuspendacct`, `removeacct`) with an API
  token, `Authorization: whm <user>:<token>`. Its check is WHM's `version`.

A check answers whether the module reached its system with the server's credentials, and what
it said; it never raises for a failed test, and its detail never quotes a credential (the
remote layer cuts them out of what it quotes).

Every command is safe to repeat: a webhook receiver gets the same `Idempotency-Key` for every
retry of one command, and WHM's "already exists" (create) / "does not exist" (remove) answers
count as done. The server's credentials and the account password are decrypted by the caller at
the moment of use and live only in memory here."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from ..domain.errors import OrderDeskError, PermanentError
from ..domain.model import Server
from ..domain.outbound import url_for_messages
from ..domain.servers import header_safe
from .remote import RemoteRejected, post_signed, redact, request_json

# a connection test waits this long for an answer (commands wait REMOTE_TIMEOUT_SECONDS): it runs
# inside an API request, which must answer within API Gateway's 29 seconds
CHECK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Account:
    """What a module needs to act on one client account. `password` is plaintext, in memory only."""

    order_id: str
    item_id: str
    product: str
    billing_cycle: str
    username: str | None
    password: str | None
    domain: str | None
    client_id: str
    client_name: str
    client_email: str
    # the command this is part of (the action's id): its idempotency key is its own, so a create
    # after a terminate is a new command for the receiver, while retries of one command share it
    command_id: str = ""

    def __repr__(self) -> str:  # never print the password
        return f"Account(order_id={self.order_id!r}, item_id={self.item_id!r}, username={self.username!r})"


class ProvisioningModule(Protocol):
    name: str

    def create(self, account: Account) -> None: ...

    def suspend(self, account: Account, reason: str) -> None: ...

    def unsuspend(self, account: Account) -> None: ...

    def terminate(self, account: Account) -> None: ...

    def check(self) -> CheckResult: ...


class NoneModule:
    """Manual provisioning: nothing to call; the workflow records what was done."""

    name = "none"

    def create(self, account: Account) -> None:
        return None

    def suspend(self, account: Account, reason: str) -> None:
        return None

    def unsuspend(self, account: Account) -> None:
        return None

    def terminate(self, account: Account) -> None:
        return None

    def check(self) -> CheckResult:
        return CheckResult(ok=True, detail="manual provisioning: there is nothing to connect to")


class WebhookModule:
    """`{"command": "create", "account": {...}}` POSTed to the server's URL, signed with its secret."""

    name = "webhook"

    def __init__(self, server: Server, secret: str | None) -> None:
        if not server.url:
            raise PermanentError(f"server {server.name} ({server.id}) has no URL for its webhook")
        if not secret:  # saved before a signing secret was required: sent unsigned, it could be forged
            raise PermanentError(f"server {server.name} ({server.id}) has no signing secret for its webhook: "
                                 "save its credentials")
        self.server = server
        self.secret = secret

    def _send(self, command: str, account: Account, **extra: str) -> None:
        payload = {
            "command": command,
            "server_id": self.server.id,
            "account": {
                "order_id": account.order_id,
                "item_id": account.item_id,
                "product": account.product,
                "billing_cycle": account.billing_cycle,
                "username": account.username,
                "domain": account.domain,
                "client": {"id": account.client_id, "name": account.client_name, "email": account.client_email},
            },
            **extra,
        }
        if command == "create" and account.password:
            payload["account"]["password"] = account.password  # type: ignore[index]
        key = f"orderdesk:{account.order_id}:{account.item_id}:{command}"
        if account.command_id:
            key += f":{account.command_id}"
        post_signed(self.server.url or "", payload, self.secret, idempotency_key=key,
                    redact_secrets=(account.password,))

    def create(self, account: Account) -> None:
        self._send("create", account)

    def suspend(self, account: Account, reason: str) -> None:
        self._send("suspend", account, reason=reason)

    def unsuspend(self, account: Account) -> None:
        self._send("unsuspend", account)

    def terminate(self, account: Account) -> None:
        self._send("terminate", account)

    def check(self) -> CheckResult:
        """A signed `{"command": "ping"}`: a 2xx says the URL is right and the receiver took the
        signature (a receiver refuses a bad one: 401)."""
        where = url_for_messages(self.server.url or "")
        try:
            post_signed(self.server.url or "", {"command": "ping", "server_id": self.server.id}, self.secret,
                        idempotency_key=f"orderdesk:ping:{self.server.id}:{secrets.token_hex(8)}",
                        read_timeout=CHECK_TIMEOUT_SECONDS)
        except OrderDeskError as exc:
            return CheckResult(ok=False, detail=exc.message)
        return CheckResult(ok=True, detail=f"{where} answered the signed ping")


class CpanelModule:
    """WHM API 1 over HTTPS on port 2087 of the server's hostname (or the server's URL, if set)."""

    name = "cpanel"

    def __init__(self, server: Server, token: str | None) -> None:
        if not token:
            raise PermanentError(f"server {server.name} ({server.id}) has no WHM API token")
        if not header_safe(token) or not header_safe(server.username or "root"):
            # stored before the API refused such values: it could not go in WHM's header
            raise PermanentError(f"server {server.name} ({server.id}): its WHM API token and user name must be "
                                 "visible ASCII characters, no spaces")
        if not (server.url or server.hostname):
            raise PermanentError(f"server {server.name} ({server.id}) has no hostname")
        self.server = server
        self.token = token
        base = server.url or f"https://{server.hostname}"
        if not server.url and urlsplit(base).port is None:
            base += ":2087"
        self.base = base.rstrip("/")
        self.user = server.username or "root"

    def _call(self, function: str, params: dict[str, str], *, done_if: str | None = None) -> None:
        secrets = (self.token, params.get("password"))
        data = request_json(
            "POST",
            f"{self.base}/json-api/{function}?api.version=1",
            form=params,
            headers={"Authorization": f"whm {self.user}:{self.token}"},
            redact_secrets=secrets,
        )
        meta = data.get("metadata") or {}
        if int(meta.get("result", 0)) == 1:
            return
        reason = redact(str(meta.get("reason") or "no reason given"), secrets)
        if done_if and done_if in reason.lower():
            return  # a repeat of a command that already took effect
        raise RemoteRejected(f"WHM {function} failed: {reason[:200]}")

    def create(self, account: Account) -> None:
        if not (account.username and account.password and account.domain):
            raise PermanentError("a cPanel account needs a username, a password and a domain")
        self._call(
            "createacct",
            {"username": account.username, "domain": account.domain, "password": account.password,
             "contactemail": account.client_email},
            done_if="already exists",
        )

    def suspend(self, account: Account, reason: str) -> None:
        self._call("suspendacct", {"user": _need_user(account), "reason": reason[:200]})

    def unsuspend(self, account: Account) -> None:
        self._call("unsuspendacct", {"user": _need_user(account)})

    def terminate(self, account: Account) -> None:
        self._call("removeacct", {"user": _need_user(account)}, done_if="does not exist")

    def check(self) -> CheckResult:
        """WHM's `version` with the server's token: it answers only a token it accepts."""
        try:
            data = request_json("POST", f"{self.base}/json-api/version?api.version=1", form={},
                                headers={"Authorization": f"whm {self.user}:{self.token}"},
                                redact_secrets=(self.token,), read_timeout=CHECK_TIMEOUT_SECONDS)
        except OrderDeskError as exc:
            return CheckResult(ok=False, detail=exc.message)
        meta = data.get("metadata") or {}
        if int(meta.get("result", 0)) != 1:
            reason = redact(str(meta.get("reason") or "no reason given"), (self.token,))
            return CheckResult(ok=False, detail=f"WHM refused: {reason[:200]}")
        version = (data.get("data") or {}).get("version") or "(version not given)"
        return CheckResult(ok=True, detail=f"WHM {str(version)[:40]} at {url_for_messages(self.base)}")


def _need_user(account: Account) -> str:
    if not account.username:
        raise PermanentError("the account has no username on the server")
    return account.username


MODULES = ("none", "webhook", "cpanel")


def module_for(server: Server | None, credentials: str | None) -> ProvisioningModule:
    """The module that acts on `server` (no server: manual). `credentials` already decrypted."""
    if server is None or server.module == "none":
        return NoneModule()
    if server.module == "webhook":
        return WebhookModule(server, credentials)
    if server.module == "cpanel":
        return CpanelModule(server, credentials)
    raise PermanentError(f"unknown provisioning module {server.module!r} on server {server.id}")
