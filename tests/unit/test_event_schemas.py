"""The published contract of the order events: one JSON Schema in docs/events/ per detail-type
the code sends, each a valid schema whose examples it accepts, and the README's catalogue showing
exactly those examples. (That what is really sent satisfies them: tests/integration/test_order_events.py
and tests/e2e/test_order_events.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from orderdesk.services.projections.events import DETAIL_TYPES, schema_name

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "events"
COMMON = {"version", "event_id", "order_id", "sequence"}


def schema(detail_type: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{schema_name(detail_type)}.json").read_text())  # type: ignore[no-any-return]


def readme_examples() -> list[dict[str, Any]]:
    """Every JSON block of the README's integrators section that is an event or its detail."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## For integrators", 1)[1].split("\n## ", 1)[0]
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", section, flags=re.S)]
    return [b for b in blocks if "detail-type" in b and "detail" in b]


def test_there_is_one_schema_per_detail_type_and_no_other() -> None:
    assert sorted(p.stem for p in SCHEMAS.glob("*.json")) == sorted(schema_name(t) for t in DETAIL_TYPES)


@pytest.mark.parametrize("detail_type", DETAIL_TYPES)
def test_each_schema_is_valid_versioned_and_accepts_its_example(detail_type: str) -> None:
    # GIVEN the published schema of one detail-type
    found = schema(detail_type)
    validator = jsonschema.Draft202012Validator

    # THEN it is a valid schema, for this detail-type, of version 1, requiring the common fields
    validator.check_schema(found)
    assert found["title"] == detail_type
    assert found["properties"]["version"]["const"] == 1
    assert set(found["required"]) >= COMMON and found["additionalProperties"] is False
    # and its example satisfies it
    assert found["examples"]
    for example in found["examples"]:
        validator(found).validate(example)


def test_the_schemas_refuse_what_breaks_the_contract() -> None:
    # GIVEN a valid detail of Order Payment Refunded
    found = schema("Order Payment Refunded")
    good = found["examples"][0]
    validator = jsonschema.Draft202012Validator(found)
    assert validator.is_valid(good)

    # THEN money as a number, another version, a missing refund_of or an unknown field are refused
    assert not validator.is_valid({**good, "refund": {**good["refund"], "amount": 27.0}})
    assert not validator.is_valid({**good, "version": 2})
    assert not validator.is_valid({**good, "refund": {k: v for k, v in good["refund"].items() if k != "refund_of"}})
    assert not validator.is_valid({**good, "surprise": True})


def test_the_readme_catalogue_shows_each_event_with_its_schemas_example() -> None:
    # GIVEN the README's examples
    shown = readme_examples()

    # THEN every detail-type is shown, each detail being its schema's example (or valid against it)
    assert {e["detail-type"] for e in shown} == set(DETAIL_TYPES)
    for event in shown:
        found = schema(event["detail-type"])
        jsonschema.Draft202012Validator(found).validate(event["detail"])
        if "source" not in event:  # the catalogue's entries, not the full event shown before them
            assert event["detail"] == found["examples"][0], event["detail-type"]
        else:
            assert event["source"] == "orderdesk"
