"""What a server needs for its provisioning module, whether it is being added or edited."""

from __future__ import annotations

import re

# a webhook's signing secret keys an HMAC: short ones can be guessed offline from one request
MIN_SIGNING_SECRET = 16
# what goes in WHM's `Authorization: whm <user>:<token>` header: visible ASCII, no spaces
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def header_safe(value: str) -> bool:
    return bool(_HEADER_SAFE.fullmatch(value))


def server_problems(module: str, *, url: str | None, hostname: str | None, credentials: str | None,
                    has_stored_credentials: bool = False, username: str | None = None) -> dict[str, str]:
    """The fields a server of `module` lacks, each with why. `credentials`: given now (checked);
    `has_stored_credentials`: it keeps credentials stored earlier (an edit that leaves them)."""
    problems: dict[str, str] = {}
    if module == "webhook":
        if not url:
            problems["url"] = "a webhook server needs a url"
        if credentials is not None:
            if len(credentials) < MIN_SIGNING_SECRET:
                problems["credentials"] = (f"a webhook server needs its signing secret, {MIN_SIGNING_SECRET} "
                                           "characters or more")
        elif not has_stored_credentials:
            problems["credentials"] = (f"a webhook server needs its signing secret, {MIN_SIGNING_SECRET} "
                                       "characters or more")
    if module == "cpanel" and not hostname:
        problems["hostname"] = "a cpanel server needs a hostname"
    if module == "cpanel" and credentials is not None and not header_safe(credentials):
        problems["credentials"] = "a WHM API token is visible ASCII characters, no spaces"
    if module == "cpanel" and username and not header_safe(username):
        problems["username"] = "a WHM user name is visible ASCII characters, no spaces"
    return problems
