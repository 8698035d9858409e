"""Transactions of a session: ``transaction()`` (TransactWriteItems, all or nothing) and
``transact_get`` (TransactGetItems).

A transaction records writes built exactly as the single-item calls build them (``_ops.items``:
the same validation, version conditions and managed timestamps) and sends them as one
TransactWriteItems when it is committed::

    async with db.transaction() as tx:
        tx.update(account, add={"balance": -10}, condition=attr("balance") >= 10)
        tx.put(Transfer("t-1", amount=10), if_not_exists=True)

DynamoDB applies every action or none. A cancelled transaction raises ``TransactionCanceled``
with one ``CancellationReason`` per action, in order; a version conflict keeps DynamoDB's code
``"ConditionalCheckFailed"`` and says ``"version conflict: ..."`` in the reason's message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from .._errors import CancellationReason, StateError, TransactionCanceled, ValidationError
from .._expr.compile import ExpressionContext
from .._expr.conditions import Condition
from .._model.models import ModelInfo, model_info
from .._transport.translate import Context
from .base import SessionBase
from .batch_writer import key_id
from .items import (
    WriteRequest,
    build_condition_check,
    build_delete,
    build_put,
    build_update,
)
from .keys import MISSING, Key, key_from_values
from .locking import MISSING_NOTE, conflict_note

if TYPE_CHECKING:
    from typing_extensions import Unpack  # in typing from Python 3.11

    from .._expr.update import UpdateActions

__all__ = ["MAX_TRANSACTION_ACTIONS", "Transaction", "TransactionOperations"]

# DynamoDB's limit on the actions of one TransactWriteItems or TransactGetItems.
MAX_TRANSACTION_ACTIONS = 100
# The TransactItems member that wraps each kind of write.
_WIRE = {"put": "Put", "update": "Update", "delete": "Delete", "condition_check": "ConditionCheck"}


def _identity(table: str, key: Key) -> tuple[str, tuple[Any, ...]]:
    """What makes two actions act on the same item: the table and the key, with numbers
    compared as values (DynamoDB takes ``1`` and ``1.0`` for the same key)."""
    return table, key_id(key.item, sorted(key.item))


class _Action:
    """What explaining a cancellation needs to know about one action."""

    __slots__ = ("description", "expected", "info", "must_exist")

    def __init__(
        self, description: str, info: ModelInfo, expected: int | None, must_exist: bool
    ) -> None:
        self.description = description
        self.info = info
        self.expected = expected
        self.must_exist = must_exist


def _explain(
    session: SessionBase, err: TransactionCanceled, actions: list[_Action]
) -> TransactionCanceled:
    """``err`` again, with each reason naming its action, carrying the stored item as the
    model (raw when it does not load) and saying when a version check was what failed."""
    reasons: list[CancellationReason] = []
    for i, reason in enumerate(err.reasons):
        if i >= len(actions):  # more reasons than actions: keep them as DynamoDB sent them
            reasons.append(reason)
            continue
        action = actions[i]
        raw, message, conflict = reason.item, reason.message, False
        if reason.code == "ConditionalCheckFailed":
            # The same rules as a single write's VersionConflict, so that the two agree.
            note = conflict_note(action.info, raw, action.expected)
            conflict = note is not None
            if note is None and raw is None and action.must_exist:
                note = MISSING_NOTE
            message = note or message
        item = session._load_or_raw(action.info, raw)
        reasons.append(CancellationReason(reason.code, message, item, action.description, conflict))
    failed = [
        f"action {i + 1} ({r.action or '?'}): {r.code}" + (f": {r.message}" if r.message else "")
        for i, r in enumerate(reasons)
        if r.code != "None"
    ]
    where = Context(err.operation or "", err.table, None).describe()
    text = f"{where} of {len(actions)} actions was cancelled, nothing was applied"
    text += (": " + "; ".join(failed)) if failed else f" ({err})"
    return TransactionCanceled(
        text, reasons=reasons, code=err.code, operation=err.operation, table=err.table
    )


def _context(operation: str, tables: Iterable[str]) -> Context:
    names = set(tables)
    return Context(operation, next(iter(names)) if len(names) == 1 else None, None)


class Transaction:
    """Writes recorded now and sent as one TransactWriteItems: all of them or none.

    Made by ``Session.transaction()``. ``put``, ``update``, ``delete`` and
    ``condition_check`` take the same arguments as the session's methods and check them at
    once (bad input raises ``ValidationError`` at the call, before anything is sent). Leaving
    the ``async with`` block normally commits; an exception in the block sends nothing::

        async with db.transaction() as tx:
            tx.put(order, if_not_exists=True)
            tx.update(Customer, "c1", add={"orders": 1})
            tx.condition_check(Stock, "sku-1", condition=attr("count") > 0)

    or, without ``async with``::

        tx = db.transaction()
        tx.delete(order)
        await tx.commit()

    Rules (DynamoDB's): at most 100 actions, and at most one action per item. Versions are
    checked and bumped as by the single-item calls; ``put`` writes the new version and
    timestamps into its object only after the commit succeeded, and ``update`` and
    ``delete`` leave their objects alone (read the items again to see the new state). A
    failed commit raises ``TransactionCanceled`` (see ``commit``).

    ``token`` is the ClientRequestToken sent with the commit: botocore's retries (and a
    ``commit()`` repeated after a network error) cannot apply the transaction twice.
    """

    def __init__(self, session: SessionBase, token: str | None = None) -> None:
        if token is None:
            token = str(uuid4())
        elif not isinstance(token, str) or not 1 <= len(token) <= 36:
            raise ValidationError(
                f"token must be a string of 1 to 36 characters (DynamoDB's "
                f"ClientRequestToken), got {token!r:.60}",
                value_type=type(token),
            )
        self.token = token
        self._session = session
        self._requests: list[WriteRequest] = []
        self._items: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self._state = "open"
        self._sent: dict[str, Any] | None = None  # the request, fixed by the first commit

    def __repr__(self) -> str:
        return f"<Transaction {self._state}, {len(self._requests)} actions, token={self.token!r}>"

    def __len__(self) -> int:
        return len(self._requests)

    @property
    def state(self) -> str:
        """``"open"`` (taking actions), ``"committing"``, ``"committed"``, ``"canceled"``
        (DynamoDB cancelled it), ``"unconfirmed"`` (a commit failed otherwise: it may or may
        not have been applied, and ``commit()`` sends the same request again) or
        ``"discarded"`` (the ``async with`` block raised)."""
        return self._state

    # -- recording actions -----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state != "open":
            retry = " (call commit() again to retry it)" if self._state == "unconfirmed" else ""
            raise StateError(
                f"this transaction is {self._state}{retry}; start a new one with "
                "db.transaction() for new actions",
                state=self._state,
            )

    def _add(self, build: Callable[..., WriteRequest], *args: Any, **kwargs: Any) -> None:
        self._check_open()
        if len(self._requests) >= MAX_TRANSACTION_ACTIONS:
            raise ValidationError(
                f"a transaction holds at most {MAX_TRANSACTION_ACTIONS} actions (DynamoDB's "
                "limit); split the work into several transactions",
                operation="TransactWriteItems",
            )
        request = build(self._session, *args, **kwargs)
        identity = _identity(request.table, request.key)
        if identity in self._items:
            # DynamoDB refuses the whole request, so say which item it was before sending.
            raise ValidationError(
                f"{request.describe()}: this transaction has an action on that item already, "
                "and DynamoDB allows one action per item in a transaction",
                model=request.info.cls,
                operation="TransactWriteItems",
                table=request.table,
            )
        self._items.add(identity)
        self._requests.append(request)

    def put(
        self,
        obj: Any,
        *,
        condition: Condition | None = None,
        if_not_exists: bool = False,
        table_name: str | None = None,
    ) -> None:
        """Put ``obj`` (replacing any item with its key), as ``Session.put`` does::

            tx.put(Order("c1", "o2"), if_not_exists=True)

        The item is dumped now: later changes to ``obj`` are not sent. Its new version and
        timestamps are set on ``obj`` when the transaction has committed."""
        self._add(
            build_put, obj, condition=condition, if_not_exists=if_not_exists, table_name=table_name
        )

    def update(
        self,
        target: Any,
        hash_key: Any = MISSING,
        range_key: Any = MISSING,
        *,
        condition: Condition | None = None,
        upsert: bool = False,
        table_name: str | None = None,
        **actions: Unpack[UpdateActions],
    ) -> None:
        """Update an item, as ``Session.update`` does (the item must exist unless
        ``upsert=True``; an instance's version is checked and bumped)::

            tx.update(order, set={"status": "paid"}, add={"total": 5})
            tx.update(Order, "c1", "o1", remove=["note"])

        Nothing is returned and ``target`` is not changed."""
        self._add(
            build_update,
            target,
            hash_key,
            range_key,
            condition=condition,
            upsert=upsert,
            table_name=table_name,
            **actions,
        )

    def delete(
        self,
        target: Any,
        hash_key: Any = MISSING,
        range_key: Any = MISSING,
        *,
        condition: Condition | None = None,
        table_name: str | None = None,
    ) -> None:
        """Delete an item, as ``Session.delete`` does (an instance's version is checked)::

        tx.delete(order)
        tx.delete(Order, "c1", "o1", condition=attr("status") == "cancelled")
        """
        self._add(
            build_delete, target, hash_key, range_key, condition=condition, table_name=table_name
        )

    def condition_check(
        self,
        target: Any,
        *key_and_condition: Any,
        condition: Condition | None = None,
        table_name: str | None = None,
    ) -> None:
        """Require ``condition`` of an item without writing it (ConditionCheck): the
        transaction is cancelled when it does not hold. The condition comes last, or as
        ``condition=``::

            tx.condition_check(Customer, "c1", attr("status") == "active")
            tx.condition_check(customer, condition=attr("credit") >= 10)

        Only the key is taken from an instance; its version is not checked."""
        rest = list(key_and_condition)
        if condition is None and rest and isinstance(rest[-1], Condition):
            condition = rest.pop()
        if len(rest) > 2:
            raise ValidationError(
                "condition_check takes an instance or a model class with its key values, "
                f"then the condition; got {len(rest)} values besides the condition"
            )
        hash_key = rest[0] if rest else MISSING
        range_key = rest[1] if len(rest) > 1 else MISSING
        self._add(
            build_condition_check,
            target,
            hash_key,
            range_key,
            condition=condition,
            table_name=table_name,
        )

    # -- committing ------------------------------------------------------------------------

    async def commit(self) -> None:
        """Send the actions as one TransactWriteItems (nothing is sent when there are none).

        On success, ``put`` objects get their new version and timestamps. When DynamoDB
        cancels the transaction, nothing was applied and ``TransactionCanceled`` is raised:
        its ``reasons`` hold one ``CancellationReason`` per action, in order, with ``action``
        naming it (``"update Order {'customer_id': 'c1', 'order_id': 'o1'}"``), ``code``
        (``"None"`` for the actions that were fine), ``item`` the stored item (as the model
        when it loads). A stale version keeps the code ``"ConditionalCheckFailed"`` and has a
        message starting ``"version conflict:"``::

            try:
                await tx.commit()
            except TransactionCanceled as exc:
                for reason in exc.reasons:
                    print(reason.action, reason.code, reason.message)

        After any other error (no answer, throttling, a missing table) the transaction is
        ``"unconfirmed"``: it takes no new actions (``StateError``), and ``commit()`` may be
        called again to send exactly the same request with the same ``token``, which keeps
        DynamoDB from applying it twice.
        """
        if self._state != "unconfirmed":
            self._check_open()
        if not self._requests:
            self._state = "committed"
            return
        self._state = "committing"
        if self._sent is None:
            self._sent = {
                "TransactItems": [{_WIRE[r.action]: r.params} for r in self._requests],
                "ClientRequestToken": self.token,
            }
        params = self._sent
        ctx = _context("TransactWriteItems", (r.table for r in self._requests))
        try:
            await self._session._send("TransactWriteItems", params, ctx)
        except TransactionCanceled as err:
            self._state = "canceled"
            actions = [
                _Action(r.describe(), r.info, r.expected, r.must_exist) for r in self._requests
            ]
            raise _explain(self._session, err, actions) from err.__cause__
        except BaseException:
            # Whether it was applied is unknown (or it was refused as a whole): only the very
            # same request may follow, which the token makes safe to repeat.
            self._state = "unconfirmed"
            raise
        self._state = "committed"
        for request in self._requests:
            request.apply()

    async def __aenter__(self) -> Transaction:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            if self._state == "open":
                self._state = "discarded"
            return
        if self._state == "open":  # not committed inside the block already
            await self.commit()


class TransactionOperations(SessionBase):
    """transaction / transact_get (TransactWriteItems, TransactGetItems)."""

    def transaction(self, *, token: str | None = None) -> Transaction:
        """A new ``Transaction``: record writes, then commit them as one TransactWriteItems::

            async with db.transaction() as tx:
                tx.put(Order("c1", "o2"))
                tx.delete(Order, "c1", "o1")

        ``token`` (1 to 36 characters) is the ClientRequestToken; a random uuid4 by default.
        Passing the same token again within 10 minutes makes DynamoDB treat the commit as a
        repeat of the first one (it succeeds without applying anything again)."""
        return Transaction(self, token)

    async def transact_get(
        self,
        keys: Sequence[tuple[type, Any] | tuple[type, Any, Any]],
        *,
        attributes: Sequence[str] | None = None,
    ) -> list[Any]:
        """Read up to 100 items, of any models, as one consistent snapshot
        (TransactGetItems). ``keys`` holds ``(Model, hash_key)`` or
        ``(Model, hash_key, range_key)`` tuples; the result has one entry per key, in order,
        the model instance or None when no item has that key::

            order, thing = await db.transact_get([(Order, "c1", "o1"), (Thing, "t", 3)])

        ``attributes=[...]`` reads only those attributes of every item (plus its key) and
        gives dicts, as ``get`` does. A key given twice is read once."""
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
            raise ValidationError(
                f"transact_get takes a list of (Model, hash_key[, range_key]) tuples, "
                f"got {type(keys).__qualname__}",
                value_type=type(keys),
            )
        entries = list(keys)
        if len(entries) > MAX_TRANSACTION_ACTIONS:
            raise ValidationError(
                f"transact_get reads at most {MAX_TRANSACTION_ACTIONS} items (DynamoDB's "
                f"limit), got {len(entries)} keys; split them",
                operation="TransactGetItems",
            )
        slots: list[tuple[ModelInfo, int]] = []  # per key: its model and its Get
        gets: list[dict[str, Any]] = []
        actions: list[_Action] = []
        tables: list[str] = []
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        for entry in entries:
            info, key = self._get_key(entry)
            table = self.table_name(info.cls)
            identity = _identity(table, key)
            if identity not in seen:
                # DynamoDB refuses two Gets of one item; one read serves both keys.
                seen[identity] = len(gets)
                params: dict[str, Any] = {"TableName": table, "Key": key.item}
                if attributes is not None:
                    ctx = ExpressionContext(info, self.converter)
                    params["ProjectionExpression"] = ctx.projection(attributes, info.key_names())
                    params["ExpressionAttributeNames"] = ctx.names
                gets.append({"Get": params})
                actions.append(_Action(f"get {info.cls.__qualname__} {key!r}", info, None, False))
                tables.append(table)
            slots.append((info, seen[identity]))
        if not gets:
            return []
        ctx_ = _context("TransactGetItems", tables)
        try:
            response = await self._send("TransactGetItems", {"TransactItems": gets}, ctx_)
        except TransactionCanceled as err:
            raise _explain(self, err, actions) from err.__cause__
        responses = response.get("Responses") or []
        out: list[Any] = []
        for info, slot in slots:
            item = responses[slot].get("Item") if slot < len(responses) else None
            if item is None:
                out.append(None)
            elif attributes is not None:
                out.append(self._partial(info, item))
            else:
                out.append(self._load(info, item))
        return out

    def _get_key(self, entry: Any) -> tuple[ModelInfo, Key]:
        if (
            not isinstance(entry, tuple)
            or len(entry) not in (2, 3)
            or not isinstance(entry[0], type)
        ):
            raise ValidationError(
                "transact_get takes (Model, hash_key) or (Model, hash_key, range_key) tuples, "
                f"got {entry!r:.60}",
                value_type=type(entry),
            )
        info = model_info(entry[0])
        range_key = entry[2] if len(entry) == 3 else MISSING
        return info, key_from_values(info, self.converter, entry[1], range_key)
