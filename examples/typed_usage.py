"""What a user's type checker sees: ``make typecheck`` runs mypy (strict) over this file.

Each ``assert_type`` pins a type mypy infers from the library's signatures, and each
``type: ignore[...]`` marks a call that must stay an error: strict mypy reports an ignore
that is not needed, so a signature that stopped catching the mistake fails the check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import attrs
from typing_extensions import assert_type

from dynamorm_async import (
    Key,
    MigrationReport,
    Page,
    Query,
    Session,
    Table,
    Transaction,
    attr,
    from_item,
    model,
)


@model(table="notes", hash_key="owner", range_key="note_id", version="version")
@attrs.define
class Note:
    owner: str
    note_id: str
    text: str = ""
    tags: set[str] = attrs.field(factory=set)
    version: int = 0


app = Table("app", hash_key="pk", range_key="sk")


@app.entity(key=Key("USER#{user_id}", "PROFILE"))
@attrs.define
class User:
    user_id: str
    name: str


@app.entity(key=Key("USER#{user_id}", "ORDER#{placed_at}#{order_id}"))
@attrs.define
class Order:
    user_id: str
    order_id: str
    placed_at: datetime


async def main(db: Session) -> None:
    note = await db.get(Note, "ada", "n1")
    assert_type(note, Note | None)
    projected = await db.get(Note, "ada", "n1", attributes=["text"])
    assert_type(projected, dict[str, Any] | None)

    notes = db.query(Note, "ada", range=attr("note_id").begins_with("n"), limit=10)
    assert_type(notes, Query[Note])
    async for one in notes:
        assert_type(one, Note)
    page = await notes.page(size=5)
    assert_type(page, Page[Note])
    assert_type(page.cursor, str | None)
    assert_type(await notes.count(), int)

    # The update actions are typed keywords, listed once (UpdateActions) for both calls.
    await db.update(Note, "ada", "n1", set={"text": "x"}, add={"tags": {"a"}}, remove=["x"])
    await db.update(Note, "ada", "n1", sett={"text": "x"})  # type: ignore[call-arg]
    await db.update(Note, "ada", "n1", set=["text"])  # type: ignore[arg-type]
    tx = db.transaction()
    assert_type(tx, Transaction)
    tx.update(Note, "ada", "n1", append={"lines": [1]}, upsert=True)
    tx.update(Note, "ada", "n1", prepend=3)  # type: ignore[arg-type]

    # A copy on a live table: the new options are typed keywords; the report's counts ints.
    report = await db.tables.copy(
        Note,
        transform=lambda n: attrs.evolve(n, text=n.text.strip()),
        mark={"schema": 2},
        max_write_units=100,
        on_checkpoint=lambda checkpoint: None,
    )
    assert_type(report, MigrationReport)
    assert_type(report.conflicts, int)
    assert_type(report.write_units, float | None)
    await db.tables.copy(Note, mark={"schema": 2.5})  # type: ignore[dict-item]
    await db.tables.copy(Note, max_write_units="100")  # type: ignore[arg-type]
    Session(max_read_units=50, max_write_units=25)
    lean = Session(region="eu-west-1", transport="lean")
    assert_type(lean.transport, Literal["lean", "aiobotocore"] | None)
    Session(transport="fast")  # type: ignore[arg-type]

    # Entities of a shared table: keys are mappings; a collection yields the union.
    user = await db.get(User, {"user_id": "u1"})
    assert_type(user, User | None)
    orders = db.query(Order, {"user_id": "u1"}, range=attr("placed_at") >= datetime(2026, 1, 1))
    assert_type(orders, Query[Order])
    everything = db.query(app.collection(User, Order), {"user_id": "u1"})
    assert_type(everything, Query[User | Order])
    async for item in everything:
        assert_type(item, User | Order)
    assert_type(from_item(User, {}), User)
    db.query(app.collection(User, Order), {"user_id": "u1"}, range=attr("x") > 1)  # type: ignore[call-overload]
