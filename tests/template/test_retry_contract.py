"""The workflows' retry contract: every Task of every state machine retries every transient error
OrderDesk raises, by its exact name (Step Functions matches a name, not a class and its bases).

The transient errors are found here by importing every module of the `orderdesk` package, read
from its files (not from a list, and not through the build module's own walk): every subclass of
`TransientError` and of `ConcurrentUpdate` defined there. The Retry lists themselves are written
by `python -m infra.statemachines.build`; the committed files must be what it writes."""

from __future__ import annotations

import gc
import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.statemachines import build
from orderdesk.domain.errors import LAMBDA_SERVICE_ERRORS, ConcurrentUpdate, TransientError
from tests.template.support import REPO_ROOT

PACKAGE = REPO_ROOT / "layers" / "common" / "python" / "orderdesk"
ASL_FILES = sorted((REPO_ROOT / "infra" / "statemachines").glob("*.asl.json"))


def package_modules() -> list[str]:
    """Every module of the package, from its files."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def defined_in_package(root: type[Exception]) -> set[str]:
    """Names of `root`'s subclasses (at any depth) defined in a module of the package."""
    modules = set(package_modules())
    for name in modules:
        importlib.import_module(name)
    found: set[str] = set()
    todo = [root]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__ in modules:
            found.add(cls.__name__)
    return found


def tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for inner in [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]:
            if inner:
                yield from tasks(inner["States"])


def every_task() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path.name, name, state) for path in ASL_FILES
            for name, state in tasks(json.loads(path.read_text())["States"])]


TRANSIENT = defined_in_package(TransientError)
RACES = defined_in_package(ConcurrentUpdate)


def test_the_walk_finds_the_transient_errors_of_every_adapter() -> None:
    # GIVEN the package walked from its files
    # THEN the walk reaches the adapters (a broken walk would make the contract test vacuous):
    # errors defined in five different modules are among what it found
    assert {"RemoteUnavailable", "GatewayUnavailable", "EmailUnavailable", "StorageUnavailable",
            "WorkflowUnavailable"} <= TRANSIENT
    assert "ConcurrentUpdate" in RACES


@pytest.mark.parametrize(("asl", "task", "state"), every_task(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_task_retries_every_transient_error_by_name(asl: str, task: str, state: dict[str, Any]) -> None:
    # GIVEN a Task of a state machine and the names its retriers match
    retried = {name for retrier in state.get("Retry", []) for name in retrier["ErrorEquals"]}

    # THEN it retries everything (the failure recorder), or exactly OrderDesk's transient errors,
    # the lost races and Lambda's own service errors: nothing missing and no stale name
    if retried == {"States.ALL"}:
        return
    transient = [r for r in state.get("Retry", []) if build.MARKER in r["ErrorEquals"]]
    assert len(transient) == 1, f"{asl} {task}: no single retrier naming {build.MARKER}"
    assert set(transient[0]["ErrorEquals"]) == TRANSIENT | RACES | set(LAMBDA_SERVICE_ERRORS)


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_committed_asl_is_what_the_build_writes(path: Path) -> None:
    # GIVEN the committed ASL WHEN the build renders it from the package's errors
    text = path.read_text(encoding="utf-8")

    # THEN nothing changes (else: python -m infra.statemachines.build)
    assert build.render(text, build.retried_errors()) == text


def test_a_new_transient_error_makes_the_committed_asl_stale_until_rebuilt() -> None:
    # GIVEN a new TransientError subclass in an adapter of the package (made here, for the test)
    added = type("PrinterJammed", (TransientError,), {"__module__": "orderdesk.adapters.printer"})
    try:
        # WHEN the build checks the committed files, and renders one
        stale = build.main(["--check"])
        rendered = json.loads(build.render(ASL_FILES[0].read_text(encoding="utf-8"), build.retried_errors()))
    finally:
        del added
        gc.collect()

    # THEN the check fails, and the rendered file retries the new error in every transient retrier
    assert stale == 1
    retriers = [r for _, r in build.transient_retriers(rendered)]
    assert retriers and all("PrinterJammed" in r["ErrorEquals"] for r in retriers)
    assert "PrinterJammed" not in build.retried_errors()  # gone again: no other test sees it


def test_a_test_stand_in_is_not_part_of_the_contract() -> None:
    # GIVEN a TransientError subclass defined outside the package (a test's stand-in)
    class FlakyForTest(TransientError):
        pass

    # THEN the retried names leave it out, so a test module cannot make the committed ASL stale
    assert "FlakyForTest" not in build.retried_errors()
    assert FlakyForTest.__name__ not in TRANSIENT
