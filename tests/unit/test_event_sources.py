"""Lambda's event filtering as the local pollers apply it, on the template's own patterns."""

from __future__ import annotations

import pytest

from infra.local.event_sources import matches, template_filter_patterns


def _record(name: str = "INSERT", kind: str = "order", skip: bool = False) -> dict:
    return {"eventName": name, "dynamodb": {"NewImage": {"pk": {"S": "ORDER#o1"}, "sk": {"S": "ORDER"}, "kind": {"S": kind},
                                                         "skip_fraud_check": {"BOOL": skip}}}}


@pytest.mark.parametrize("record,wanted", [
    (_record(), True),
    (_record(name="MODIFY"), False),
    (_record(name="REMOVE"), False),
    (_record(kind="item"), False),
    (_record(skip=True), False),
    ({"eventName": "INSERT", "dynamodb": {"Keys": {}}}, False),  # no NewImage
])
def test_fraud_screening_gets_new_orders_only(record, wanted):
    patterns = template_filter_patterns("FraudScreeningFunction")
    assert patterns, "template.yaml declares the stream filter"
    assert any(matches(p, record) for p in patterns) is wanted


def test_operators():
    assert matches({"a": [{"exists": False}]}, {}) and not matches({"a": [{"exists": False}]}, {"a": 1})
    assert matches({"a": [{"prefix": "ord"}]}, {"a": "order"}) and not matches({"a": [{"prefix": "x"}]}, {"a": "o"})
    assert matches({"a": [{"anything-but": ["x"]}]}, {"a": "y"}) and not matches({"a": [{"anything-but": "x"}]},
                                                                                 {"a": "x"})
    assert matches({"a": [1, 2]}, {"a": 2}) and not matches({"a": [1, 2]}, {"a": 3})
    with pytest.raises(ValueError):
        matches({"a": [{"numeric": [">", 1]}]}, {"a": 2})
