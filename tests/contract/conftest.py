"""`stores_impl`: every contract test runs twice, against the DynamoDB data layer (DynamoDB Local,
a fresh table through the `table` fixture, `orderdesk.services.ports.stores()`) and against the
in-memory fake (`tests.fakes.memory_store`). What passes on both is the contract the services
rely on."""

from __future__ import annotations

import pytest

from orderdesk.services import ports
from orderdesk.services.ports import Stores
from tests.fakes.memory_store import memory_stores


@pytest.fixture(params=["dynamodb", "memory"])
def stores_impl(request: pytest.FixtureRequest) -> Stores:
    if request.param == "dynamodb":
        request.getfixturevalue("table")
        ports.use_stores(None)  # whatever a test elsewhere installed, this one is DynamoDB's
        return ports.stores()
    return memory_stores()
