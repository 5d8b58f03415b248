"""The command line of the local stack: ``python -m infra.local.stack --port 8000`` (``make run``)
starts it in the foreground, prints where it is, and stops it on Ctrl-C (SIGINT, SIGTERM, SIGHUP).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from infra.local import stack as stack_module
from infra.local.event_bus import EVENTS_FILE
from infra.local.files import DEFAULT_DATA_DIR
from infra.local.stack import LocalStack, StackError
from orderdesk.config import get_settings

LOG = logging.getLogger("infra.local.stack")


def banner(stack: LocalStack, data_dir_shown: str) -> str:
    t = stack.timings
    seed = f"; demo data added in {t['seed']:.1f} s" if "seed" in t and stack.seeded_now else ""
    lines = [
        "",
        f"OrderDesk local stack is up (started in {t.get('total', 0):.1f} s{seed})",
        f"  API and admin portal  {stack.url}/",
        f"  admin token           {data_dir_shown}/admin.token (fresh at every start)",
        f"  try                   curl -H \"Authorization: Bearer $(cat {data_dir_shown}/admin.token)\" "
        f"{stack.url}/orders?limit=5",
        "  a token for a role    make token ROLE=viewer   (viewer, support, billing, admin)",
        f"  order events          tail -f {data_dir_shown}/{EVENTS_FILE}",
        "  a Stripe payment      make stripe-event TYPE=payment_intent.succeeded INVOICE=<invoice id>",
        f"  auto-accept           {get_settings().auto_accept}   (AUTO_ACCEPT=paid make run: paid orders accepted)",
        f"  data                  {data_dir_shown}/ is kept across restarts; make clean-local forgets it",
    ]
    lines += [f"  warning               {p}" for p in stack.problems]
    lines += ["Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def _exit_with_parent(parent: int) -> None:
    """Ctrl-C this process once it is orphaned (its parent gone, it is re-parented)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        LOG.warning("the process that started the stack (pid %d) is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.stack", description=stack_module.__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="port of the API and portal (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where local data is kept")
    parser.add_argument("--no-seed", action="store_true", help="no demo data on the first start")
    parser.add_argument("--seed-orders", type=int, default=300, help=argparse.SUPPRESS)
    parser.add_argument("--seed-clients", type=int, default=60, help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="do not log each HTTP request")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the process that started this one dies (test fixtures: no orphans)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "moto", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stack = LocalStack(port=args.port, data_dir=args.data_dir, seed=not args.no_seed, host=args.host,
                       seed_orders=args.seed_orders, seed_clients=args.seed_clients, log_requests=not args.quiet)
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if stopping.is_set():
            print("still stopping...", file=sys.stderr, flush=True)
            return
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if args.exit_with_parent:
        _exit_with_parent(os.getppid())
    code = 0
    try:
        stack.start()
        print(banner(stack, _shown(stack.files.root)), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        print(f"\nerror: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        stopping.set()
        was_up = stack.url is not None
        if was_up:
            print("\nStopping the local stack...", flush=True)
        stack.stop()
        if was_up:
            print(f"Stopped. Data kept in {_shown(stack.files.root)}/ (make clean-local forgets it).", flush=True)
    return code


def run() -> None:
    """``main()``, then exit at once."""
    exit_code = main()
    # Everything is stopped by now: skip the interpreter's teardown of moto's and botocore's
    # modules, which takes seconds, so Ctrl-C gives the prompt back at once.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
