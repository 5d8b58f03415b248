"""Both implementations offer every method of every protocol of `services.ports`, with the
protocol's parameters: a method added to a protocol fails here until the DynamoDB module and the
fake both have it (and a contract test should then say what it does)."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from orderdesk.services import ports
from orderdesk.services.ports import Stores


def protocol_methods(protocol: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(protocol).items()
            if inspect.isfunction(fn) and not name.startswith("_")}


def parameters(signature: inspect.Signature) -> list[tuple[str, Any, bool]]:
    """Name, kind and whether it has a default: what a caller relies on."""
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty) for p in signature.parameters.values()]


def test_every_protocol_method_is_implemented_with_its_parameters(stores_impl: Stores) -> None:
    # GIVEN the protocols the services depend on, as the fields of Stores
    fields = {f.name: getattr(ports, str(f.type)) for f in dataclasses.fields(Stores)}
    assert len(fields) >= 10 and all(isinstance(protocol, type) for protocol in fields.values())
    # WHEN each implementation's store is compared with its protocol
    missing, different = [], []
    for field_name, protocol in fields.items():
        store = getattr(stores_impl, field_name)
        for name, wanted in protocol_methods(protocol).items():
            method = getattr(store, name, None)
            if method is None:
                missing.append(f"{field_name}.{name}")
                continue
            bound = list(parameters(wanted))[1:]  # without self
            if parameters(inspect.signature(method)) != bound:
                different.append(f"{field_name}.{name}")
    # THEN nothing is missing and every method takes the protocol's parameters
    assert missing == [] and different == []
