"""`make cleanup`: run the scheduled cleanups once, now, on the local stack `make run` started.

The cleanup function runs inside the stack's process, where its environment (table, state
machines, endpoints) is: this asks the stack's Lambda Invoke route (moto's port, from
``.local/stack.json``) to invoke the template's CleanupFunction, as EventBridge Scheduler would,
with ``{"rules": [...]}`` (every rule when none is named).

    python -m infra.local.cleanup_once [--rule cancel_unpaid|release_locks|purge_old|finish_stale_jobs|sync_domains]... [--data-dir .local]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from infra.local.files import LocalFiles

FUNCTION = "CleanupFunction"  # its logical id in template.yaml: the local Invoke route's name for it
RULES = ("cancel_unpaid", "release_locks", "purge_old", "finish_stale_jobs", "sync_domains")  # services.cleanup.RULES


def invoke(moto_endpoint: str, rules: list[str]) -> tuple[bool, Any]:
    import boto3

    # the same way the stack reaches its own services: botocore's per-service endpoint variable
    os.environ["AWS_ENDPOINT_URL_LAMBDA"] = moto_endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    client = boto3.client("lambda", region_name=os.environ.get("AWS_REGION", "us-east-1"))
    answer = client.invoke(FunctionName=FUNCTION, Payload=json.dumps({"rules": rules}).encode())
    payload = json.loads(answer["Payload"].read() or b"null")
    return "FunctionError" not in answer, payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the scheduled cleanups once on the running local stack")
    parser.add_argument("--rule", action="append", choices=RULES, help="a rule to run (repeatable; default: all)")
    parser.add_argument("--data-dir", default=".local", help="the local stack's data directory")
    args = parser.parse_args(argv)
    state = LocalFiles(Path(args.data_dir)).running_stack()
    if state is None or not state.get("moto"):
        print(f"no local stack is running from {args.data_dir}/: start it with `make run`", file=sys.stderr)
        return 1
    ok, payload = invoke(state["moto"], args.rule or list(RULES))
    if not ok:
        print(f"cleanup failed: {payload.get('errorType')}: {payload.get('errorMessage')}", file=sys.stderr)
        return 1
    for result in payload.get("results", []):
        if not result.get("enabled", True):
            print(f"{result['rule']}: off")
            continue
        print(f"{result['rule']}: {result['examined']} examined, {len(result['changed'])} changed, "
              f"{len(result['skipped'])} skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
