"""Which cleanup rules a scheduled event asks for."""

import pytest

from orderdesk.domain.errors import ValidationFailed
from orderdesk.services.cleanup import RULES, rules_of


@pytest.mark.parametrize("event,rules", [
    ({"rule": "purge_old"}, ["purge_old"]),
    ({"rules": ["release_locks", "cancel_unpaid"]}, ["release_locks", "cancel_unpaid"]),
    ({"rules": []}, list(RULES)),
    ({"detail-type": "Scheduled Event", "source": "aws.scheduler"}, list(RULES)),
    ({}, list(RULES)),
    (None, list(RULES)),
])
def test_rules_of(event, rules):
    assert rules_of(event) == rules


def test_unknown_rule_is_refused():
    with pytest.raises(ValidationFailed):
        rules_of({"rule": "drop_table"})
