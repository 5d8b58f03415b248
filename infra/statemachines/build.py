"""The retry contract of the workflows, written into their ASL from one source.

Step Functions retries an error only when a Retry block names it exactly: a step's error name is
the class name of what it raised, so a subclass of `TransientError` is not retried by a block
that names `TransientError` alone. Every Task's transient retrier must list every such name, and
that list is `orderdesk.domain.errors.retried_error_names()`, taken after importing every module
of the `orderdesk` package (the subclasses are defined beside the adapters that raise them).

    python -m infra.statemachines.build          rewrite the *.asl.json files here
    python -m infra.statemachines.build --check  exit 1, naming the files that differ

Only the `ErrorEquals` of a retrier that names `TransientError` is rewritten; the rest of each
file (timings, a dedicated retrier such as RefundPayment's for `StillInProgress`, the Catches)
stays as written. The files stay committed, so SAM deploys and the local stack runs exactly what a
reader sees; tests/template/test_retry_contract.py fails when they differ from what this writes."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ASL_DIR = Path(__file__).resolve().parent
MARKER = "TransientError"  # a retrier naming it is the transient retrier this module writes


def import_package(name: str = "orderdesk") -> list[str]:
    """Import every module of the package (so every exception class it defines exists); their names."""
    package = importlib.import_module(name)
    names = [name]
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
        importlib.import_module(info.name)
        names.append(info.name)
    return names


def retried_errors() -> list[str]:
    import_package()
    from orderdesk.domain.errors import retried_error_names

    return retried_error_names()


def states(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, inside Map (ItemProcessor, Iterator) and Parallel (Branches) states too."""
    for name, state in machine.get("States", {}).items():
        yield name, state
        for inner in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if inner:
                yield from states(inner)


def transient_retriers(asl: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states(asl):
        for retrier in state.get("Retry", []):
            if MARKER in retrier.get("ErrorEquals", []):
                yield name, retrier


def render(text: str, names: list[str]) -> str:
    """The ASL `text` with every transient retrier listing `names`, formatted as committed."""
    asl = json.loads(text)
    for _, retrier in transient_retriers(asl):
        retrier["ErrorEquals"] = list(names)
    return json.dumps(asl, indent=2, ensure_ascii=False) + "\n"


def asl_files() -> list[Path]:
    return sorted(ASL_DIR.glob("*.asl.json"))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    names = retried_errors()
    stale = []
    for path in asl_files():
        text = path.read_text(encoding="utf-8")
        wanted = render(text, names)
        if wanted != text:
            stale.append(path.name)
            if not check:
                path.write_text(wanted, encoding="utf-8")
    if check and stale:
        print(f"retry lists out of date in {', '.join(stale)}: run python -m infra.statemachines.build",
              file=sys.stderr)
        return 1
    print(f"{'rewrote' if stale else 'up to date:'} {', '.join(stale) or ', '.join(p.name for p in asl_files())}"
          f" ({len(names)} retried error names)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
