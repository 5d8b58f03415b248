"""The one place that knows what a change of an order writes.

A change (`OrderChange`, decided by the services) becomes, in one transaction guarded on the
order as it was read (its status and, unless the change belongs to the action holding it, no
lock): the order record's status with its status-index key, its payment status, lock,
affiliate and review flag, the version bumped; every item moved; the invoice (under its version);
a guard per payment the invoice gains (its gateway's transaction id, once across all invoices);
each credit change as an entry of the client's ledger with its balance; the fraud check; and one
history record per entry. Item changes of the workflow steps and bulk status
changes are written here too, from the same parts:

* `status_fields` — what a status change sets on the order record, whoever makes it;
* a bulk job is a batched caller: one conditional UpdateItem per order (the common case, as cheap
  as a bare UpdateItem), its decision recorded on the order with the move so a redelivered message
  finds it, and the moves' history records written afterwards in batches, under keys taken from
  the decisions, so writing them again changes nothing.

Status counters are not written here: the table's stream keeps them (`counters`)."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path, Value
from pynamodb.transactions import TransactWrite

from ...domain.attention import attention_of
from ...domain.changes import UNCHANGED, ItemFields, OrderChange
from ...domain.errors import ActionInProgress, ConcurrentUpdate
from ...domain.model import (
    BulkDecision,
    BulkOrderState,
    DomainRegistration,
    HistoryEntry,
    Invoice,
    Order,
    PendingAction,
    utcnow,
)
from ...domain.payments import new_payments
from ...domain.statuses import ItemStatus, OrderStatus, payment_status_of
from . import keys, mappers, orders
from . import records as r
from .clients import credit_ops, credit_refusal
from .invoices import duplicate_refusal, guard_op
from .table import TxOp, client, condition_failed, conflicted, table_name, transaction, translated

BULK_ACTION = "bulk status change"


def status_fields(order_id: str, status: OrderStatus | str, shards: int) -> dict[str, str]:
    """What a status change sets on the order record (besides the version, always bumped)."""
    value = OrderStatus(status).value
    return {"status": value, "gsi1pk": keys.status_partition(value, keys.shard_of(order_id, shards))}


def lock_fields(order_id: str, lock: PendingAction | None, shards: int) -> list[Any]:
    """Set (or remove) the pending action with its sparse `by_type` entry, together."""
    if lock is None:
        return [r.OrderRecord.pending_action.remove(), r.OrderRecord.gsi4pk.remove(), r.OrderRecord.gsi4sk.remove()]
    return [r.OrderRecord.pending_action.set(mappers.pending_dict(lock)),
            r.OrderRecord.gsi4pk.set(keys.locked_partition(keys.shard_of(order_id, shards))),
            r.OrderRecord.gsi4sk.set(keys.lock_sort_key(lock.started_at, order_id))]


def attention_fields(after: Order, wait_hours: int, shards: int) -> list[Any]:
    """The attention list of the order as a change leaves it, on its record, with its sparse
    `by_attention` entry while it is not empty (so the orders needing attention are listed from an
    index, never a scan), and whether another status would change it (what a bulk status change,
    which writes only the status, must not miss)."""
    now = utcnow()
    attention = attention_of(after, now, wait_hours)
    moves = any(attention_of(replace(after, status=s), now, wait_hours) != attention for s in OrderStatus
                if s is not after.status)
    flag = r.OrderRecord.status_moves_attention.set(True) if moves else r.OrderRecord.status_moves_attention.remove()
    if not attention:
        return [r.OrderRecord.attention.remove(), r.OrderRecord.gsi5pk.remove(), r.OrderRecord.gsi5sk.remove(), flag]
    return [r.OrderRecord.attention.set(mappers.attention_dicts(attention)),
            r.OrderRecord.gsi5pk.set(keys.attention_partition(keys.shard_of(after.id, shards))),
            r.OrderRecord.gsi5sk.set(keys.sort_key(after.placed_at, after.id)), flag]


def invoice_fields(invoice: Invoice) -> list[Any]:
    """What a change of an invoice writes: its status, balance, transactions and date paid."""
    return [r.InvoiceRecord.status.set(invoice.status.value), r.InvoiceRecord.balance.set(invoice.balance),
            r.InvoiceRecord.transactions.set([mappers.txn_dict(t) for t in invoice.transactions]),
            r.InvoiceRecord.date_paid.set(invoice.date_paid) if invoice.date_paid
            else r.InvoiceRecord.date_paid.remove()]


def order_ref(order_id: str, version: int = 0) -> r.OrderRecord:
    """An order record to update. pynamodb adds `version + 1` for a record that carries a version
    (and sets it to 1 for one that does not): every write of an order bumps it, so it only grows."""
    return r.OrderRecord(pk=keys.order_pk(order_id), sk=keys.ORDER_SK, version=version)


def lock_held(action_id: str) -> Condition:
    """The order carries this action's lock. `pending_action` is stored as JSON, so the action
    id, quoted as JSON quotes it, occurs in it exactly when the lock is that action's."""
    return r.OrderRecord.pending_action.contains(action_id)


@translated
class OrderWrites:
    def __init__(self, shards: int, wait_hours: int = 24) -> None:
        self.shards = shards
        self.wait_hours = wait_hours

    # -- single changes ------------------------------------------------------------------------

    def apply(self, order: Order, change: OrderChange, *, holder: str | None = None) -> None:
        """Apply `change` to `order` as read, in one transaction. `holder`: the change belongs to
        that running action (the order must carry its lock); otherwise the order must carry none.
        A refused guard says why: OrderNotFound, ActionInProgress or ConcurrentUpdate."""
        self.run(order.id, [self.change_op(order, change, holder=holder)], holder=holder)

    def run(self, order_id: str, ops: Iterable[TxOp], *, holder: str | None = None) -> None:
        """Run transaction parts of one order (a change and what belongs with it) at once."""
        try:
            with transaction() as tx:
                for op in ops:
                    op(tx)
        except TransactWriteError as exc:
            # a payment's transaction id taken, a client's credit short: the money says no, and why
            money = duplicate_refusal(exc) or credit_refusal(exc)
            if money is not None:
                raise money from exc
            if condition_failed(exc) or conflicted(exc):
                self.explain_refusal(order_id, exc, holder=holder)
            raise

    def change_op(self, order: Order, change: OrderChange, *, holder: str | None = None) -> TxOp:
        """The transaction parts of one change (see `apply`). A change of the status, items or
        invoice, or the end of an action, recomputes the order's attention list from the order as
        the change leaves it, so it needs the order read whole (`get_order`)."""
        actions: list[Any] = []
        if change.to_status is not None and change.to_status is not order.status:
            actions += [getattr(r.OrderRecord, name).set(value)
                        for name, value in status_fields(order.id, change.to_status, self.shards).items()]
        invoice_status = change.invoice.status if change.invoice is not None else change.invoice_status
        if invoice_status is not None:
            actions.append(r.OrderRecord.payment_status.set(payment_status_of(invoice_status).value))
        if change.set_lock is not None:
            actions += lock_fields(order.id, change.set_lock, self.shards)
        elif change.clear_lock:
            actions += lock_fields(order.id, None, self.shards)
        if change.affiliate is not UNCHANGED:
            affiliate = change.affiliate
            actions += [r.OrderRecord.affiliate_id.set(affiliate.id), r.OrderRecord.affiliate.set(
                {"id": affiliate.id, "name": affiliate.name})] if affiliate else [
                r.OrderRecord.affiliate_id.remove(), r.OrderRecord.affiliate.remove()]
        if change.flagged_for_review is not None:
            actions.append(r.OrderRecord.flagged_for_review.set(change.flagged_for_review))
        # while an action holds the order its state is in flux: the action's end recomputes it
        if change.touches_what_attention_reads and (holder is None or change.clear_lock):
            if not order.detail_loaded:
                raise ValueError(f"order {order.id}: a change of its status, items or invoice needs it read whole")
            actions += attention_fields(change.after(order), self.wait_hours, self.shards)
        condition: Condition = r.OrderRecord.status == order.status.value
        if holder is None:
            condition &= r.OrderRecord.pending_action.does_not_exist()
        if change.bulk is not None:  # a bulk job's move through this path: its decision, once
            decision = Path([decision_attr(change.bulk.job_id)])
            actions += [decision.set(Value({"M": _decision_entry(change.bulk.decision)})),
                        Path([_from_attr(change.bulk.job_id)]).set(Value(order.status.value))]
            condition &= decision.does_not_exist()

        def op(tx: TransactWrite) -> None:
            if actions:
                tx.update(order_ref(order.id, order.version), actions=actions, condition=condition)
            else:
                tx.condition_check(r.OrderRecord, keys.order_pk(order.id), keys.ORDER_SK,
                                   condition=condition & (r.OrderRecord.version == order.version))
            for item in order.items:
                target = change.item_target(item.id)
                item_actions = _item_actions(order.id, item.id, _fields_of(change.item_fields.get(item.id)))
                if target is not None and target is not item.status:
                    item_actions.append(r.ItemRecord.status.set(target.value))
                if item_actions:
                    tx.update(r.ItemRecord(pk=keys.order_pk(order.id), sk=keys.item_sk(item.id)),
                              actions=item_actions, condition=r.ItemRecord.status == item.status.value)
            if change.invoice is not None:
                invoice = change.invoice
                tx.update(r.InvoiceRecord(pk=keys.order_pk(order.id), sk=keys.INVOICE_SK, version=invoice.version),
                          actions=invoice_fields(invoice), condition=r.InvoiceRecord.pk.exists())
                # every payment the change adds takes its gateway's transaction id, once for all invoices
                for payment in new_payments(invoice):
                    guard_op(invoice, payment)(tx)
            elif change.invoice_status is not None and order.invoice is not None:
                tx.update(r.InvoiceRecord(pk=keys.order_pk(order.id), sk=keys.INVOICE_SK, version=0),
                          actions=[r.InvoiceRecord.status.set(change.invoice_status.value)],
                          condition=r.InvoiceRecord.status == order.invoice.status.value, add_version_condition=False)
            for credit in credit_ops(change.credit):
                credit(tx)
            if change.fraud_check is not None:
                tx.save(r.FraudCheckRecord(pk=keys.order_pk(order.id), sk=keys.FRAUD_SK,
                                           check=mappers.fraud_dict(change.fraud_check)))
            for seq, entry in enumerate(change.history):
                tx.save(mappers.history_record(order.id, entry, seq))

        return op

    def explain_refusal(self, order_id: str, exc: Exception, *, holder: str | None = None) -> None:
        """A guarded write of an order was refused: say why, from its current state (the lock of
        the action making the change is no reason: another write of it won the race)."""
        current = orders.Orders(self.shards).get_order_header(order_id)  # OrderNotFound when gone
        if current.pending_action is not None and current.pending_action.action_id != holder:
            raise ActionInProgress.held_by(order_id, current.pending_action) from exc
        raise ConcurrentUpdate(f"order {order_id} changed meanwhile; try again") from exc

    # -- items and history ----------------------------------------------------------------------

    def change_item(self, order_id: str, item_id: str, *, expect_status: ItemStatus, fields: dict[str, Any],
                    history: HistoryEntry | None = None, action_id: str | None = None) -> None:
        """Change one item and record why, at once: only from `expect_status` and, for a workflow
        step (`action_id`), only while the order holds that action's lock. `fields` are item
        fields (None removes one)."""
        actions = _item_actions(order_id, item_id, fields)
        try:
            with transaction() as tx:
                tx.update(r.ItemRecord(pk=keys.order_pk(order_id), sk=keys.item_sk(item_id)), actions=actions,
                          condition=r.ItemRecord.status == expect_status.value)
                if action_id is not None:
                    tx.condition_check(r.OrderRecord, keys.order_pk(order_id), keys.ORDER_SK,
                                       condition=lock_held(action_id))
                if history is not None:
                    tx.save(mappers.history_record(order_id, history))
        except TransactWriteError as exc:
            if condition_failed(exc) or conflicted(exc):
                raise ConcurrentUpdate(f"item {item_id} or its order changed meanwhile") from exc
            raise

    def update_item(self, order_id: str, item_id: str, *, expect_status: ItemStatus | None = None,
                    **fields: Any) -> None:
        """Set fields of one item that say nothing new about the order (server, username, an
        encrypted password, last_error), from `expect_status` when given."""
        condition = r.ItemRecord.pk.exists()
        if expect_status is not None:
            condition &= r.ItemRecord.status == expect_status.value
        try:
            r.ItemRecord(pk=keys.order_pk(order_id), sk=keys.item_sk(item_id)).update(
                actions=_item_actions(order_id, item_id, fields), condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                raise ConcurrentUpdate(f"item {item_id} changed meanwhile") from exc
            raise

    def add_history(self, order_id: str, entry: HistoryEntry) -> None:
        mappers.history_record(order_id, entry).save()

    # -- bulk status changes: one conditional UpdateItem per order ------------------------------

    def bulk_move(self, job_id: str, order_id: str, decision: BulkDecision,
                  allowed: frozenset[OrderStatus]) -> BulkDecision | BulkOrderState | None:
        """Move one order for a bulk job in one conditional UpdateItem, recording the decision on
        the order with the move: when the order is in an `allowed` status, carries no lock and no
        decision of this job yet. Returns the decision as recorded (with the status it left); or,
        when the order could not move, the order as it was (the failed write returns it: no second
        read); None for an unknown order."""
        assert decision.to is not None
        written = time.time_ns()
        fields = status_fields(order_id, decision.to, self.shards)
        request = _bulk_move_request(table_name(), job_id, decision.to, tuple(sorted(s.value for s in allowed)))
        entry = _decision_entry(replace(decision, written_ns=written))
        request = {**request, "Key": _order_key(order_id),
                   "ExpressionAttributeValues": {**request["ExpressionAttributeValues"], ":entry": {"M": entry},
                                                 ":key": {"S": fields["gsi1pk"]}}}
        applied, item = _update(request)
        if applied:
            return replace(decision, from_=item["status"]["S"], written_ns=written)
        return _bulk_found(job_id, item)

    def bulk_refuse(self, job_id: str, order_id: str, decision: BulkDecision) -> BulkDecision | None:
        """Record a refusal of the job on the order, unless the job decided on it already; the
        decision on record (this one, or the one found), None when the order is gone."""
        entry = _decision_entry(replace(decision, written_ns=time.time_ns()))
        request = {"TableName": table_name(), "Key": _order_key(order_id),
                   "UpdateExpression": "SET #dec = :entry",
                   "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#dec)",
                   "ExpressionAttributeNames": {"#dec": decision_attr(job_id)},
                   "ExpressionAttributeValues": {":entry": {"M": entry}},
                   "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        applied, item = _update(request)
        if applied:
            return decision
        found = _bulk_found(job_id, item)
        return found.decision if found is not None else None

    def bulk_history(self, moves: Iterable[tuple[str, str, BulkDecision]]) -> None:
        """The history records of bulk moves `(job id, order id, decision)`, in batches, each under
        the key its decision recorded: written again by a redelivery, they change nothing."""
        with r.HistoryRecord.batch_write() as batch:
            for job_id, order_id, d in moves:
                entry = HistoryEntry(at=d.at, actor=d.actor, action=BULK_ACTION, from_=d.from_, to=d.to,
                                     detail=f"bulk job {job_id}")
                batch.save(mappers.history_record(order_id, entry, written_ns=d.written_ns))


def _item_actions(order_id: str, item_id: str, fields: dict[str, Any]) -> list[Any]:
    """Item fields (None removes one); a domain's registration given as the domain object, written
    with its entry in the list of domains waiting at their registrar."""
    expanded: dict[str, Any] = {}
    for k, v in fields.items():
        if isinstance(v, DomainRegistration):
            expanded.update(mappers.registration_fields(order_id, item_id, v))
        else:
            expanded[k] = v
    return [getattr(r.ItemRecord, k).remove() if v is None else getattr(r.ItemRecord, k).set(v)
            for k, v in expanded.items()]


def _fields_of(fields: ItemFields | None) -> dict[str, Any]:
    """An OrderChange's other fields of one item, as `_item_actions` takes them."""
    if fields is None:
        return {}
    out: dict[str, Any] = {}
    if fields.registration is not None:
        out["registration"] = fields.registration
    if fields.last_error is not UNCHANGED:
        out["last_error"] = fields.last_error
    return out


def _order_key(order_id: str) -> dict[str, Any]:
    return {"pk": {"S": keys.order_pk(order_id)}, "sk": {"S": keys.ORDER_SK}}


def _update(request: dict[str, Any]) -> tuple[bool, Any]:
    """One UpdateItem of an order record: (True, the updated attributes as they were) when it
    applied; (False, the item as it is, or None when there is none) when its condition failed."""
    sdk = client()
    try:
        return True, sdk.update_item(**request).get("Attributes", {})
    except sdk.exceptions.ConditionalCheckFailedException as exc:
        return False, exc.response.get("Item")


def decision_attr(job_id: str) -> str:
    """The order record's attribute holding one bulk job's decision on it (a top-level attribute
    per job: it needs nothing on the order beforehand)."""
    return f"bulk#{job_id}"


def _from_attr(job_id: str) -> str:
    """Beside a job's decision, the status its move left (copied in the same write: no read)."""
    return f"bulk#{job_id}#from"


def decisions_in(image: dict[str, Any]) -> dict[str, BulkDecision]:
    """Each bulk job's decision on an order, by job id, from a stream image of its record (plain
    Python values, as the stream's readers see it)."""
    prefix, out = decision_attr(""), {}
    for name, value in image.items():
        if not name.startswith(prefix) or not isinstance(value, dict) or "a" not in value:
            continue
        job_id = name[len(prefix):]
        left = image.get(_from_attr(job_id))
        out[job_id] = BulkDecision(at=str(value["a"]), actor=str(value.get("u", "bulk")),
                                   from_=str(left) if left is not None else None,
                                   to=str(value["t"]) if "t" in value else None,
                                   error=str(value["e"]) if "e" in value else None,
                                   written_ns=int(value.get("n", 0)))
    return out


def _bulk_found(job_id: str, item: dict[str, Any] | None) -> BulkOrderState | None:
    """The order as a refused bulk write found it (DynamoDB JSON): why it could not move."""
    if item is None:
        return None
    stored = (item.get(decision_attr(job_id)) or {}).get("M")
    decision = None
    if stored:
        left = item.get(_from_attr(job_id), {}).get("S")
        decision = BulkDecision(at=stored["a"]["S"], actor=stored.get("u", {}).get("S", "bulk"), from_=left,
                                to=stored.get("t", {}).get("S"), error=stored.get("e", {}).get("S"),
                                written_ns=int(stored.get("n", {}).get("N", "0")))
    return BulkOrderState(status=OrderStatus(item["status"]["S"]), locked="pending_action" in item,
                          decision=decision,
                          moves_attention=bool(item.get("status_moves_attention", {}).get("BOOL")))


def _decision_entry(d: BulkDecision) -> dict[str, Any]:
    """A bulk job's decision on an order, as stored (DynamoDB JSON): at, actor, write time, and the
    status it moved to or why it refused."""
    entry: dict[str, Any] = {"a": {"S": d.at}, "u": {"S": d.actor}, "n": {"N": str(d.written_ns)}}
    if d.to is not None and d.error is None:
        entry["t"] = {"S": d.to}
    else:
        entry["e"] = {"S": d.error or "refused"}
    return entry


@functools.lru_cache(maxsize=64)
def _bulk_move_request(table: str, job_id: str, to: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The UpdateItem of `bulk_move` but for the order's key, its status index key and the
    decision (":entry"): written out once per job and target, not built per order from pynamodb
    expressions (a bulk consumer's time goes to these writes; profiled). The attributes it sets
    are `status_fields`'s."""
    names = {"#dec": decision_attr(job_id), "#from": _from_attr(job_id),
             "#sma": r.OrderRecord.status_moves_attention.attr_name,
             "#status": r.OrderRecord.status.attr_name, "#gsi1pk": r.OrderRecord.gsi1pk.attr_name,
             "#version": r.OrderRecord.version.attr_name, "#lock": r.OrderRecord.pending_action.attr_name}
    values: dict[str, Any] = {":to": {"S": to}, ":one": {"N": "1"}, ":false": {"BOOL": False}}
    values.update({f":s{i}": {"S": status} for i, status in enumerate(allowed)})
    return {
        "TableName": table,
        "UpdateExpression": "SET #dec = :entry, #from = #status, #status = :to, #gsi1pk = :key "
                            "ADD #version :one",
        "ConditionExpression": f"#status IN ({', '.join(f':s{i}' for i in range(len(allowed)))}) "
                               "AND attribute_not_exists(#lock) AND attribute_not_exists(#dec) "
                               # an order whose attention list would change with its status: the
                               # one write path instead (`bulk_move` returns it as found)
                               "AND (attribute_not_exists(#sma) OR #sma = :false)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "UPDATED_OLD",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


__all__ = ["OrderWrites", "decision_attr", "lock_fields", "lock_held", "order_ref", "status_fields"]
