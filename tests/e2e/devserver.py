"""Serve the Chalice app (API and portal) with Chalice's local dev server, for the browser tests
until the full local stack (infra/local/stack.py) takes over. Run as its own process so its
environment (table, keys) is fixed and no other test can change it under it:

    python -m tests.e2e.devserver --port 8123
"""

from __future__ import annotations

import argparse
import logging


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    from chalice.config import Config
    from chalice.local import LocalDevServer

    from infra.local import gateway

    gateway.install()  # auth failures are 401 with OrderDesk's body, as API Gateway answers in AWS
    import app as app_module

    logging.getLogger("chalice").setLevel(logging.WARNING)
    server = LocalDevServer(app_module.app, Config(), args.host, args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
