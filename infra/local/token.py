"""Print a bearer token for the local stack: ``make token ROLE=viewer`` (a person's ID token), or
``make token CLIENT=storefront SCOPE=orderdesk/support`` (a machine client's access token, as the
client-credentials grant gives it; several scopes: ``SCOPE="orderdesk/viewer orderdesk/billing"``).

The token is signed with ``.local/jwt-private.pem``, the key the stack made on its first start
and keeps across restarts, so it is valid for the running stack and for later ones until
``make clean-local``. Only the token goes to stdout (``TOKEN=$(make -s token ROLE=viewer)``);
notes go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.local import machine_clients
from infra.local.stack import AUTH_AUDIENCE, AUTH_ISSUER, DEFAULT_DATA_DIR, ROLES, LocalFiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.token", description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", default=None, help=f"one of {', '.join(ROLES)} (default admin)")
    parser.add_argument("--client", default=None,
                        help=f"a machine client instead of a person: one of {', '.join(machine_clients.NAMES)}")
    parser.add_argument("--scope", action="append", default=[],
                        help="with --client: its scopes, space-separated or repeated "
                             f"({', '.join(machine_clients.SCOPES)})")
    parser.add_argument("--hours", type=float, default=None,
                        help="validity in hours (default 12 for a person, 1 for a client, as Cognito's default)")
    parser.add_argument("--subject", default=None, help="the token's sub (default local-<role>)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    scopes = [s for value in args.scope for s in value.replace(",", " ").split()]
    problem = _problem(args, scopes)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    files = LocalFiles(args.data_dir.resolve())
    if not files.private_key.is_file():
        print(f"error: no signing key in {files.root}: the local stack has never run here. "
              "Start it with `make run`, then ask again.", file=sys.stderr)
        return 1

    from orderdesk.api.auth import issue_access_token, issue_token

    if args.client:
        token = issue_access_token(files.private_key.read_text(), machine_clients.client_id(args.client), scopes,
                                   ttl_seconds=int((args.hours or 1.0) * 3600), issuer=AUTH_ISSUER)
    else:
        role = args.role or "admin"
        token = issue_token(files.private_key.read_text(), role, subject=args.subject or f"local-{role}",
                            ttl_seconds=int((args.hours or 12.0) * 3600), issuer=AUTH_ISSUER, audience=AUTH_AUDIENCE)
    print(token)
    if files.running_stack() is None:
        print("note: no local stack is running now; the token is valid once `make run` starts it.",
              file=sys.stderr)
    return 0


def _problem(args: argparse.Namespace, scopes: list[str]) -> str | None:
    """What is wrong with the arguments, said so that the fix is plain; None when nothing is."""
    if args.hours is not None and args.hours <= 0:
        return "--hours must be positive"
    if args.client is None:
        if scopes:
            return "--scope goes with --client (a person's role comes from --role)"
        if args.role is not None and args.role not in ROLES:
            return f"unknown role {args.role!r}; use one of {', '.join(ROLES)}"
        return None
    if args.role is not None or args.subject is not None:
        return "--client makes a machine client's token: its role comes from --scope, not --role or --subject"
    if args.client not in machine_clients.NAMES:
        return (f"unknown client {args.client!r}; the local stack allows {', '.join(machine_clients.NAMES)} "
                "(infra/local/machine_clients.py)")
    if not scopes:
        return f"--client needs at least one --scope: {', '.join(machine_clients.SCOPES)}"
    unknown = [s for s in scopes if s not in machine_clients.SCOPES]
    if unknown:
        return f"unknown scope {unknown[0]!r}; use {', '.join(machine_clients.SCOPES)}"
    return None


if __name__ == "__main__":
    sys.exit(main())
