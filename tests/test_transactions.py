"""Transactions against a real engine: TransactWriteItems (all or nothing, version checks,
cancellation reasons, limits, idempotency tokens) and TransactGetItems."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from models import Order, Thing, create_table, item_count

from dynamorm_async import (
    CancellationReason,
    RequestFailed,
    Session,
    StateError,
    TableNotFound,
    TransactionCanceled,
    ValidationError,
    attr,
)
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy

ORDER_KEY = "{'customer_id': 'c1', 'order_id': 'o1'}"


async def stored_order(db: Session, order_id: str = "o1") -> Order | None:
    return await db.get(Order, "c1", order_id, consistent=True)


# -- committing --------------------------------------------------------------------------------


async def test_put_update_delete_and_condition_check_commit_together(db: Session) -> None:
    """One transaction across both tables: a put, an update, a delete and a condition check
    are all applied, and the put's object gets its version and timestamps."""
    first = Order("c1", "o1")
    await db.put(first)
    await db.put(Thing("keep", 1, data="ok"))
    await db.put(Thing("gone", 2))
    new = Order("c1", "o2", total=3)
    async with db.transaction() as tx:
        tx.put(new)
        tx.update(first, set={"status": "paid"}, add={"total": 5})
        tx.delete(Thing, "gone", 2)
        tx.condition_check(Thing, "keep", 1, attr("data") == "ok")
        assert len(tx) == 4 and tx.state == "open"
    assert tx.state == "committed"
    assert new.version == 1 and new.created_at is not None and new.updated_at is not None
    assert await stored_order(db, "o2") == new
    updated = await stored_order(db)
    assert updated is not None
    assert (updated.status, updated.total, updated.version) == ("paid", 5, 2)
    assert first.version == 1 and first.status == "open"  # update leaves its object alone
    assert await db.get(Thing, "gone", 2, consistent=True) is None
    assert await db.get(Thing, "keep", 1, consistent=True) == Thing("keep", 1, data="ok")


async def test_commit_without_async_with_and_only_once(db: Session) -> None:
    """``await tx.commit()`` sends the actions; a second commit, or a new action afterwards,
    is refused."""
    await db.put(Thing("t", 1))
    tx = db.transaction()
    tx.delete(Thing, "t", 1)
    tx.put(Thing("u", 2))
    await tx.commit()
    assert await db.get(Thing, "t", 1, consistent=True) is None
    assert await db.get(Thing, "u", 2, consistent=True) == Thing("u", 2)
    # Misuse of a transaction and of a batch writer raise the same class (see test_batch).
    with pytest.raises(StateError, match="committed"):
        await tx.commit()
    with pytest.raises(StateError, match="committed") as caught:
        tx.put(Thing("v", 3))
    assert caught.value.state == "committed"
    assert await item_count(db, Thing) == 1


async def test_a_new_versioned_object_gets_version_one_after_commit(db: Session) -> None:
    """put of a never-stored object (version 0) in a transaction creates the item with
    version 1; the object shows it only once the transaction committed."""
    order = Order("c1", "o1")
    async with db.transaction() as tx:
        tx.put(order)
        assert order.version == 0 and order.created_at is None
    assert order.version == 1
    assert order.created_at is not None and order.updated_at == order.created_at
    assert await stored_order(db) == order


async def test_an_empty_transaction_sends_nothing_and_succeeds(db: Session) -> None:
    """A block that recorded no actions commits trivially (DynamoDB would refuse an empty
    TransactWriteItems)."""
    async with db.transaction() as tx:
        pass
    assert tx.state == "committed"


async def test_an_exception_in_the_block_sends_nothing(db: Session) -> None:
    """Leaving the block with an exception discards the recorded actions: nothing is
    written, the objects are unchanged and the transaction cannot be committed later."""
    await db.put(Thing("t", 1))
    order = Order("c1", "o1")
    with pytest.raises(RuntimeError, match="changed my mind"):
        async with db.transaction() as tx:
            tx.put(order)
            tx.delete(Thing, "t", 1)
            raise RuntimeError("changed my mind")
    assert tx.state == "discarded"
    assert order.version == 0 and order.created_at is None
    assert await item_count(db, Order) == 0
    assert await db.get(Thing, "t", 1, consistent=True) == Thing("t", 1)
    with pytest.raises(StateError, match="discarded"):
        await tx.commit()


# -- cancellation --------------------------------------------------------------------------------


async def test_a_failing_condition_cancels_every_action(db: Session) -> None:
    """One false condition cancels the whole transaction: nothing is written, and the
    reasons (one per action, in order) name the failing action and carry its stored item."""
    await db.put(Order("c1", "o1", status="open"))
    await db.put(Thing("t", 1, data="before"))
    new = Order("c1", "o2")
    with pytest.raises(TransactionCanceled) as caught:
        async with db.transaction() as tx:
            tx.put(new)
            tx.update(Thing, "t", 1, set={"data": "after"})
            tx.condition_check(Order, "c1", "o1", condition=attr("status") == "paid")
    err = caught.value
    assert tx.state == "canceled"
    assert [r.code for r in err.reasons] == ["None", "None", "ConditionalCheckFailed"]
    assert all(isinstance(r, CancellationReason) for r in err.reasons)
    assert [r.action for r in err.reasons] == [
        "put Order {'customer_id': 'c1', 'order_id': 'o2'}",
        "update Thing {'name': 't', 'size': 1}",
        f"condition_check Order {ORDER_KEY}",
    ]
    failed = err.reasons[2]
    assert isinstance(failed.item, Order) and failed.item.status == "open"
    assert "action 3 (condition_check Order" in str(err)
    assert err.operation == "TransactWriteItems" and err.code == "TransactionCanceledException"
    assert isinstance(err.__cause__, Exception)  # botocore's error is chained
    assert await stored_order(db, "o2") is None
    assert new.version == 0 and new.created_at is None and new.updated_at is None
    assert await db.get(Thing, "t", 1, consistent=True) == Thing("t", 1, data="before")


async def stale_copy(db: Session) -> tuple[Order, Order]:
    """(the current object, a stale copy): stored at version 2, the copy still has 1."""
    current = Order("c1", "o1")
    await db.put(current)
    stale = attrs.evolve(current)
    current.status = "newer"
    await db.put(current)
    assert (current.version, stale.version) == (2, 1)
    return current, stale


STALE_ACTIONS: dict[str, Callable[[Any, Order], None]] = {
    "put": lambda tx, o: tx.put(o),
    "update": lambda tx, o: tx.update(o, set={"status": "lost"}),
    "delete": lambda tx, o: tx.delete(o),
}


@pytest.mark.parametrize("kind", sorted(STALE_ACTIONS))
async def test_a_stale_version_cancels_the_transaction(db: Session, kind: str) -> None:
    """put, update or delete of a stale object in a transaction: TransactionCanceled whose
    reason keeps the code ConditionalCheckFailed and says "version conflict" with both
    versions; nothing is written and the objects in memory are unchanged."""
    current, stale = await stale_copy(db)
    stale.note = "edited"
    stale_before = attrs.evolve(stale)
    new = Order("c1", "o2")
    with pytest.raises(TransactionCanceled) as caught:
        async with db.transaction() as tx:
            tx.put(new)
            STALE_ACTIONS[kind](tx, stale)
    ok, conflict = caught.value.reasons
    assert ok.code == "None" and not ok.version_conflict
    assert conflict.code == "ConditionalCheckFailed" and conflict.version_conflict
    assert conflict.action == f"{kind} Order {ORDER_KEY}"
    assert conflict.message == (
        "version conflict: the object in memory has version 1, the table has version 2; "
        "reload the item and try again"
    )
    assert conflict.item == current
    assert "version conflict" in str(caught.value)
    assert stale == stale_before
    assert new.version == 0 and new.created_at is None
    assert await stored_order(db) == current
    assert await stored_order(db, "o2") is None


async def test_a_deleted_item_is_a_version_conflict_and_a_missing_one_is_named(
    db: Session,
) -> None:
    """A versioned object whose item is gone conflicts (it was deleted: no reload advice); an
    update of a missing item without upsert says that no item has the key."""
    order = Order("c1", "o1")
    await db.put(order)
    await db.delete(Order, "c1", "o1")
    with pytest.raises(TransactionCanceled) as caught:
        async with db.transaction() as tx:
            tx.update(order, set={"status": "x"})
            tx.update(Thing, "nobody", 9, set={"data": "x"})
    gone, missing = caught.value.reasons
    assert gone.code == missing.code == "ConditionalCheckFailed"
    assert gone.message is not None and "deleted since it was read" in gone.message
    assert "reload" not in gone.message
    assert gone.item is None and missing.item is None
    assert missing.message is not None and "no item with this key exists" in missing.message
    assert await item_count(db, Order) == 0
    assert await item_count(db, Thing) == 0


# -- refused before sending ----------------------------------------------------------------------


async def test_a_hundred_actions_commit_and_the_101st_is_refused(db: Session) -> None:
    """DynamoDB's limit is 100 actions: 100 commit, the 101st is refused at the call with a
    ValidationError naming the limit, and nothing of that transaction is sent."""
    async with db.transaction() as tx:
        for i in range(100):
            tx.put(Thing("bulk", i))
    assert await item_count(db, Thing) == 100
    tx = db.transaction()
    for i in range(100):
        tx.put(Thing("more", i))
    with pytest.raises(ValidationError, match="at most 100 actions"):
        tx.put(Thing("more", 100))
    assert len(tx) == 100 and tx.state == "open"
    assert await item_count(db, Thing) == 100


async def test_two_actions_on_one_item_are_refused(db: Session) -> None:
    """DynamoDB allows one action per item in a transaction: a second one on the same key
    (same table) is refused at the call; the same key values in another table are fine."""
    await db.put(Thing("t", 1))
    async with db.transaction() as tx:
        tx.put(Thing("t", 2))
        with pytest.raises(ValidationError, match="one action per item"):
            tx.condition_check(Thing("t", 2), attr("data") == "d")
        with pytest.raises(ValidationError, match=r"delete Thing \{'name': 't', 'size': 2\}"):
            tx.delete(Thing, "t", 2)
        tx.delete(Thing, "t", 1)
    assert len(tx) == 2
    assert await db.get(Thing, "t", 2, consistent=True) == Thing("t", 2)
    assert await db.get(Thing, "t", 1, consistent=True) is None


async def test_bad_input_is_refused_at_the_call(db: Session) -> None:
    """Each kind of bad input raises ValidationError when the action is added, leaves the
    transaction usable, and sends nothing."""
    tx = db.transaction()
    with pytest.raises(ValidationError, match="model instance"):
        tx.put(Order)
    with pytest.raises(ValidationError, match="has no field 'nope'"):
        tx.update(Order, "c1", "o1", set={"nope": 1})
    with pytest.raises(ValidationError, match=r"no argument sett=; its actions are set=, "):
        tx.update(Order, "c1", "o1", sett={"status": "x"})  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="needs at least one of set="):
        tx.update(Order, "c1", "o1")
    with pytest.raises(ValidationError, match="needs a condition"):
        tx.condition_check(Order, "c1", "o1")
    with pytest.raises(ValidationError, match="customer_id"):
        tx.delete(Order, 5, "o1")
    with pytest.raises(ValidationError, match="token"):
        db.transaction(token="x" * 37)
    assert len(tx) == 0
    tx.put(Thing("t", 1))
    await tx.commit()
    assert await item_count(db, Thing) == 1
    assert await item_count(db, Order) == 0


# -- idempotency ---------------------------------------------------------------------------------


async def test_the_same_token_applies_a_transaction_once(db: Session, dynamodb_engine: str) -> None:
    """A commit repeated with the same ClientRequestToken succeeds without applying the
    actions again (botocore's retries rely on this); another token applies them again."""
    if dynamodb_engine == "moto":
        pytest.skip("moto ignores ClientRequestToken: a repeated commit is applied again")
    await db.put(Thing("t", 1))
    token = str(uuid.uuid4())
    for _ in range(2):
        async with db.transaction(token=token) as tx:
            tx.update(Thing, "t", 1, append={"scores": [7]})
        assert tx.token == token
    stored = await db.get(Thing, "t", 1, consistent=True)
    assert stored is not None and stored.scores == [7]
    async with db.transaction() as tx:
        tx.update(Thing, "t", 1, append={"scores": [7]})
    stored = await db.get(Thing, "t", 1, consistent=True)
    assert stored is not None and stored.scores == [7, 7]


async def test_each_transaction_gets_its_own_token(db: Session) -> None:
    """Without token=, every transaction has a fresh uuid4 token."""
    a, b = db.transaction(), db.transaction()
    assert a.token != b.token
    assert uuid.UUID(a.token).version == 4


# -- transact_get --------------------------------------------------------------------------------


async def test_transact_get_returns_items_in_order_with_none_for_missing(db: Session) -> None:
    """Results follow the keys' order across models; a missing item is None; a key given
    twice is read once and returned at both places."""
    order = Order("c1", "o1", total=4)
    thing = Thing("t", 1, data="x")
    await db.put(order)
    await db.put(thing)
    got = await db.transact_get(
        [(Thing, "t", 1), (Order, "c1", "missing"), (Order, "c1", "o1"), (Thing, "t", 1)]
    )
    assert got == [thing, None, order, thing]
    assert got[0] is not got[3]
    assert await db.transact_get([]) == []


@pytest.mark.server_validation("moto ignores ProjectionExpression in TransactGetItems")
async def test_transact_get_with_attributes_gives_dicts(db: Session) -> None:
    """attributes= reads only those attributes (plus the key) as dicts, as get does."""
    await db.put(Order("c1", "o1", status="paid", total=9))
    got = await db.transact_get([(Order, "c1", "o1"), (Order, "c1", "o2")], attributes=["total"])
    assert got == [{"customer_id": "c1", "order_id": "o1", "total": 9}, None]


async def test_transact_get_refuses_more_than_100_keys_before_sending(
    dynamodb_session: Session,
) -> None:
    """101 keys raise ValidationError naming the limit; the tables do not even exist here,
    so a request would have failed with TableNotFound instead. Malformed keys are refused
    the same way."""
    keys: list[tuple[type, Any, Any]] = [(Order, "c1", f"o{i}") for i in range(101)]
    with pytest.raises(ValidationError, match="at most 100"):
        await dynamodb_session.transact_get(keys)
    with pytest.raises(ValidationError, match="tuples"):
        await dynamodb_session.transact_get([("c1", "o1")])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="order_id"):
        await dynamodb_session.transact_get([(Order, "c1")])


async def test_a_commit_that_failed_otherwise_can_be_retried(dynamodb_session: Session) -> None:
    """An error other than a cancellation (here: the table is missing) leaves the
    transaction open, so commit() can be called again with the same token."""
    thing = Thing("t", 1)
    tx = dynamodb_session.transaction()
    tx.put(thing)
    with pytest.raises(TableNotFound):
        await tx.commit()
    assert tx.state == "unconfirmed"
    await create_table(dynamodb_session, Thing)
    await tx.commit()
    assert tx.state == "committed"
    assert await dynamodb_session.get(Thing, "t", 1, consistent=True) == thing


async def test_a_commit_without_an_answer_is_retried_as_the_very_same_request(
    db: Session, dynamodb_endpoint: str
) -> None:
    """The connection drops on commit: whether it was applied is unknown. The transaction
    then takes no new action (which would change the payload under the same token), and a
    retry sends exactly the same request, applied once."""
    from botocore.config import Config

    async with FaultProxy(dynamodb_endpoint) as proxy:
        session = Session(
            region=REGION,
            endpoint_url=proxy.endpoint,
            table_prefix=db.table_prefix,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
            **DUMMY_CREDENTIALS,
        )
        try:
            await session.put(Thing("t", 1, scores=[1]))
            tx = session.transaction()
            tx.update(Thing, "t", 1, append={"scores": [2]})
            proxy.drop("TransactWriteItems")
            with pytest.raises(RequestFailed):
                await tx.commit()
            assert tx.state == "unconfirmed"
            with pytest.raises(StateError, match="call commit\\(\\) again") as caught:
                tx.put(Thing("u", 2))
            assert caught.value.state == "unconfirmed" and len(tx) == 1
            await tx.commit()
            assert tx.state == "committed"
            sent = [body for op, body in proxy.requests if op == "TransactWriteItems"]
            assert len(sent) == 2 and sent[0] == sent[1]
            stored = await session.get(Thing, "t", 1, consistent=True)
            assert stored is not None and stored.scores == [1, 2]
            assert await session.get(Thing, "u", 2, consistent=True) is None
        finally:
            await session.close()
