"""Print a bearer token for the local stack: ``make token ROLE=viewer``.

The token is signed with ``.local/jwt-private.pem``, the key the stack made on its first start
and keeps across restarts, so it is valid for the running stack and for later ones until
``make clean-local``. Only the token goes to stdout (``TOKEN=$(make -s token ROLE=viewer)``);
notes go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.local.stack import AUTH_AUDIENCE, AUTH_ISSUER, DEFAULT_DATA_DIR, ROLES, LocalFiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.token", description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", default="admin", help=f"one of {', '.join(ROLES)} (default admin)")
    parser.add_argument("--hours", type=float, default=12.0, help="validity in hours (default 12)")
    parser.add_argument("--subject", default=None, help="the token's sub (default local-<role>)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.role not in ROLES:
        print(f"error: unknown role {args.role!r}; use one of {', '.join(ROLES)}", file=sys.stderr)
        return 2
    if args.hours <= 0:
        print("error: --hours must be positive", file=sys.stderr)
        return 2
    files = LocalFiles(args.data_dir.resolve())
    if not files.private_key.is_file():
        print(f"error: no signing key in {files.root}: the local stack has never run here. "
              "Start it with `make run`, then ask again.", file=sys.stderr)
        return 1

    from orderdesk.api.auth import issue_token

    token = issue_token(files.private_key.read_text(), args.role, subject=args.subject or f"local-{args.role}",
                        ttl_seconds=int(args.hours * 3600), issuer=AUTH_ISSUER, audience=AUTH_AUDIENCE)
    print(token)
    if files.running_stack() is None:
        print("note: no local stack is running now; the token is valid once `make run` starts it.",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
