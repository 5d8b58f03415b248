"""The pure domain: money, transitions, payment status, import rule."""

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderdesk.domain.errors import TransitionNotAllowed
from orderdesk.domain.model import Invoice, InvoiceLine
from orderdesk.domain.money import InvalidMoney, fmt, parse_money
from orderdesk.domain.statuses import ActionType, InvoiceStatus, OrderStatus, PaymentStatus, payment_status_of
from orderdesk.domain.transitions import available_actions, check_transition

DOMAIN = Path(__file__).resolve().parents[2] / "layers/common/python/orderdesk/domain"


def test_domain_imports_no_sdk():
    # GIVEN every module of the domain package
    banned = {"boto3", "botocore", "pynamodb", "chalice", "pydantic", "aws_lambda_powertools"}
    for path in DOMAIN.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            # THEN none of them imports an SDK or framework
            assert not {n.split(".")[0] for n in names} & banned, f"{path.name} imports {names}"


@pytest.mark.parametrize("text,expected", [("12.5", "12.50"), ("0", "0.00"), ("7.05", "7.05"), ("100", "100.00")])
def test_parse_money_accepts_decimal_strings(text, expected):
    assert fmt(parse_money(text)) == expected


@pytest.mark.parametrize("bad", [12.5, 12, "1e3", "12.505", "-1.00", "abc", "", None, "NaN", "1,000.00"])
def test_parse_money_refuses_everything_else(bad):
    with pytest.raises(InvalidMoney):
        parse_money(bad)


cents = st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c) / 100)


@given(st.lists(cents, min_size=1, max_size=30), cents)
def test_invoice_total_is_lines_minus_discount_exactly(amounts, discount):
    lines = [InvoiceLine(item_id=str(i), description="x", amount=a) for i, a in enumerate(amounts)]
    subtotal, total = Invoice.totals(lines, discount)
    assert subtotal == sum(amounts, Decimal(0))
    assert total == max(subtotal - discount, Decimal(0))
    assert total.as_tuple().exponent == -2


def test_transitions_follow_the_spec():
    allowed = {
        ActionType.ACCEPT: {OrderStatus.PENDING},
        ActionType.CANCEL: {OrderStatus.PENDING, OrderStatus.ACTIVE},
        ActionType.CANCEL_REFUND: {OrderStatus.PENDING, OrderStatus.ACTIVE},
        ActionType.FRAUD: {OrderStatus.PENDING, OrderStatus.ACTIVE, OrderStatus.CANCELLED},
        ActionType.PENDING: {OrderStatus.ACTIVE, OrderStatus.CANCELLED, OrderStatus.FRAUD},
        ActionType.DELETE: {OrderStatus.CANCELLED, OrderStatus.FRAUD},
    }
    for action, froms in allowed.items():
        for status in OrderStatus:
            if status in froms:
                check_transition(action, status)
            else:
                with pytest.raises(TransitionNotAllowed):
                    check_transition(action, status)
    assert available_actions(OrderStatus.FRAUD) == ["pending", "delete"]


def test_payment_status_derives_from_invoice():
    assert payment_status_of(InvoiceStatus.PAID) is PaymentStatus.PAID
    assert payment_status_of(InvoiceStatus.REFUNDED) is PaymentStatus.REFUNDED
    assert payment_status_of(InvoiceStatus.CANCELLED) is PaymentStatus.CANCELLED
    assert payment_status_of(InvoiceStatus.PAYMENT_PENDING) is PaymentStatus.UNPAID
