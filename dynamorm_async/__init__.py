"""dynamorm_async: an asyncio-native ORM for Amazon DynamoDB.

attrs classes describe items; a cattrs converter turns them straight into DynamoDB's wire
format and back; an async ``Session`` reads and writes them::

    import attrs
    from dynamorm_async import model, to_item, from_item

    @model(table="users", hash_key="user_id")
    @attrs.define
    class User:
        user_id: str
        name: str

    item = to_item(User("u1", "Ada"))      # {'user_id': {'S': 'u1'}, 'name': {'S': 'Ada'}}
    assert from_item(User, item) == User("u1", "Ada")

    db = Session(region="eu-west-1")       # no I/O until the first request

    async def rename(user_id: str, name: str) -> User:
        return await db.update(User, user_id, set={"name": name},
                               condition=attr("name") != name)

Importing this package is cheap: aiobotocore, botocore and aiohttp are imported only when a
client is first needed.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    BatchIncomplete,
    CancellationReason,
    ConditionFailed,
    DeserializationError,
    DynamORMError,
    EngineError,
    MigrationError,
    ModelError,
    RequestFailed,
    SchemaMismatch,
    SessionClosed,
    SessionError,
    StateError,
    TableAlreadyExists,
    TableNotFound,
    TableProtected,
    TableWaitTimeout,
    Throttled,
    TransactionCanceled,
    ValidationError,
    VersionConflict,
)
from ._expr.conditions import Condition, Path, attr, size
from ._model.models import (
    FieldInfo,
    GlobalIndex,
    IndexInfo,
    KeyAttribute,
    LocalIndex,
    ModelInfo,
    field,
    model,
    model_info,
)
from ._observe.events import Capacity, CapacityTotals, RequestEvent, Units
from ._observe.observers import Usage
from ._ops.batch_writer import BatchStats, BatchWriter
from ._ops.queries import Page, Query, Scan
from ._ops.transactions import Transaction
from ._session import Session
from ._wire.convert import (
    Converter,
    configure_converter,
    default_converter,
    make_converter,
    to_item,
)

# The table manager, its descriptions, the migration reports and single-table design are
# loaded on first use: a Lambda that only reads and writes items never pays for them.
_LAZY = {
    "Collection": "._single_table.table",
    "Key": "._single_table.templates",
    "Table": "._single_table.table",
    "from_item": "._single_table.dispatch",
    "IndexDescription": "._tables.description",
    "KeyElement": "._tables.description",
    "MigrationReport": "._tables.migration_report",
    "Progress": "._tables.migration_report",
    "Provisioned": "._tables.description",
    "TableDescription": "._tables.description",
    "TableManager": "._tables.migrate",
    "TaskReport": "._tables.migration_report",
    "Verification": "._tables.migration_report",
}

if TYPE_CHECKING:
    from ._single_table.dispatch import from_item
    from ._single_table.table import Collection, Table
    from ._single_table.templates import Key
    from ._tables.description import IndexDescription, KeyElement, Provisioned, TableDescription
    from ._tables.migrate import TableManager
    from ._tables.migration_report import MigrationReport, Progress, TaskReport, Verification


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BatchIncomplete",
    "BatchStats",
    "BatchWriter",
    "CancellationReason",
    "Capacity",
    "CapacityTotals",
    "Collection",
    "Condition",
    "ConditionFailed",
    "Converter",
    "DeserializationError",
    "DynamORMError",
    "EngineError",
    "FieldInfo",
    "GlobalIndex",
    "IndexDescription",
    "IndexInfo",
    "Key",
    "KeyAttribute",
    "KeyElement",
    "LocalIndex",
    "MigrationError",
    "MigrationReport",
    "ModelError",
    "ModelInfo",
    "Page",
    "Path",
    "Progress",
    "Provisioned",
    "Query",
    "RequestEvent",
    "RequestFailed",
    "Scan",
    "SchemaMismatch",
    "Session",
    "SessionClosed",
    "SessionError",
    "StateError",
    "Table",
    "TableAlreadyExists",
    "TableDescription",
    "TableManager",
    "TableNotFound",
    "TableProtected",
    "TableWaitTimeout",
    "TaskReport",
    "Throttled",
    "Transaction",
    "TransactionCanceled",
    "Units",
    "Usage",
    "ValidationError",
    "Verification",
    "VersionConflict",
    "attr",
    "configure_converter",
    "default_converter",
    "field",
    "from_item",
    "make_converter",
    "model",
    "model_info",
    "size",
    "to_item",
]
