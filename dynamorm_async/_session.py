"""``Session``: the async entry point. Configuration, a lazily opened client, table names.

A session holds configuration only until its first request; then it opens an aiobotocore
client for the running event loop (see ``_client``). The operations live in mixins
(``_items``); every request goes through ``Session._send``, which turns botocore's errors into
the ``DynamORMError`` tree.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._batch import BatchOperations
from ._batch_writer import BatchStats
from ._client import ClientOptions, Clients
from ._convert import Converter, default_converter
from ._errors import ValidationError
from ._items import ItemOperations
from ._model import is_table_name, model_info
from ._reads import ReadOperations
from ._transactions import TransactionOperations
from ._translate import CHECKSUM_MISMATCH, Context, damaged_answer, translate

if TYPE_CHECKING:  # the table manager and migrations load on first use of db.tables
    from ._tables import TableManager

__all__ = ["Session"]

_PREFIX = re.compile(r"[A-Za-z0-9_.-]*")
_METHODS = {
    "PutItem": "put_item",
    "GetItem": "get_item",
    "DeleteItem": "delete_item",
    "UpdateItem": "update_item",
    "Query": "query",
    "Scan": "scan",
    "BatchGetItem": "batch_get_item",
    "BatchWriteItem": "batch_write_item",
    "TransactGetItems": "transact_get_items",
    "TransactWriteItems": "transact_write_items",
    "CreateTable": "create_table",
    "DescribeTable": "describe_table",
    "DeleteTable": "delete_table",
    "UpdateTable": "update_table",
    "UpdateTimeToLive": "update_time_to_live",
    "DescribeTimeToLive": "describe_time_to_live",
    "ListTables": "list_tables",
}


class Session(ItemOperations, ReadOperations, BatchOperations, TransactionOperations):
    """An async DynamoDB session: configuration now, a client on the first request.

    Constructing a session does no I/O and imports nothing heavy; the aiobotocore client is
    opened by the first request, once per event loop (a Lambda handler that calls
    ``asyncio.run`` per invocation gets a fresh client on each new loop, and the old one is
    closed with its loop). Use one session for the whole application::

        db = Session(region="eu-west-1")
        async with db:                      # optional; or ``await db.close()`` at shutdown
            await db.put(Order("c1", "o1", status="open"))
            order = await db.get(Order, "c1", "o1")

    Region, credentials and endpoint come from the arguments, else from the standard AWS
    chain (environment, config files, container and instance roles) as aiobotocore resolves
    them. ``botocore_session`` (an aiobotocore ``AioSession``) or ``aioboto3_session`` reuses
    a session you already have. ``config`` (a ``botocore.config.Config`` or aiobotocore
    ``AioConfig``) is merged over the defaults: 2 s connect and 10 s read timeouts, standard
    retries with 5 attempts, 64 pooled connections, and no parameter validation (the
    session's requests are valid by construction; ``Config(parameter_validation=True)``
    turns it back on). A botocore session the Session creates itself parses items with a
    faster parser that returns what botocore's would; one passed in is left as it is.

    ``table_prefix`` is put in front of every model's table name (``"dev_"``,
    ``"test_3f2a_"``); every operation also takes ``table_name=`` to name the physical table
    outright. ``converter`` (default: ``default_converter()``) turns models into items.
    ``cursor_key`` (16 to 64 random bytes, the same on every instance of a service) makes
    the pagination cursors of ``page()`` unforgeable; without it they still refuse edits
    and cursors of other queries.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        table_prefix: str = "",
        config: Any = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        profile: str | None = None,
        botocore_session: Any = None,
        aioboto3_session: Any = None,
        converter: Converter | None = None,
        cursor_key: bytes | str | None = None,
    ) -> None:
        if not isinstance(table_prefix, str) or not _PREFIX.fullmatch(table_prefix):
            raise ValidationError(
                f"table_prefix may hold only letters, digits, '_', '-' and '.', "
                f"got {table_prefix!r}"
            )
        if botocore_session is not None and aioboto3_session is not None:
            raise ValidationError("pass botocore_session or aioboto3_session, not both")
        if botocore_session is not None and not type(botocore_session).__module__.startswith(
            "aiobotocore"
        ):
            raise ValidationError(
                "botocore_session must be an aiobotocore AioSession "
                f"(aiobotocore.session.get_session()), got {type(botocore_session).__qualname__}"
            )
        if (aws_access_key_id is None) != (aws_secret_access_key is None):
            raise ValidationError(
                "pass aws_access_key_id and aws_secret_access_key together, or neither"
            )
        credentials = {
            k: v
            for k, v in (
                ("aws_access_key_id", aws_access_key_id),
                ("aws_secret_access_key", aws_secret_access_key),
                ("aws_session_token", aws_session_token),
            )
            if v is not None
        }
        if credentials and aioboto3_session is not None:
            raise ValidationError("credentials go to the aioboto3 session, not to Session()")
        self.table_prefix = table_prefix
        self.converter = converter or default_converter()
        self._tables: TableManager | None = None
        self._names: dict[type, tuple[str, str]] = {}  # model -> (prefix, its table name)
        self._batch_stats = BatchStats()
        if isinstance(cursor_key, str):
            cursor_key = cursor_key.encode()
        if cursor_key is not None and not 16 <= len(cursor_key) <= 64:
            raise ValidationError("cursor_key must be 16 to 64 bytes (a random secret)")
        self.cursor_key = cursor_key
        self._clients = Clients(
            ClientOptions(
                region=region,
                endpoint_url=endpoint_url,
                config=config,
                credentials=credentials,
                profile=profile,
                botocore_session=botocore_session,
                aioboto3_session=aioboto3_session,
            )
        )

    def __repr__(self) -> str:
        o = self._clients.options
        return (
            f"Session(region={o.region!r}, endpoint_url={o.endpoint_url!r}, "
            f"table_prefix={self.table_prefix!r}, state={self.state!r})"
        )

    # -- life cycle ----------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``"unopened"`` (no request yet), ``"open"`` or ``"closed"``."""
        return self._clients.state

    async def client(self) -> Any:
        """The aiobotocore DynamoDB client of the running event loop, opened if needed.

        For calls the session does not wrap; the session owns it (do not close it)::

            limits = await (await db.client()).describe_limits()
        """
        return await self._clients.get()

    async def close(self) -> None:
        """Close the session's clients. Idempotent; completes even if the caller is
        cancelled. Requests after ``close()`` raise ``SessionClosed``."""
        await self._clients.close()

    aclose = close

    async def __aenter__(self) -> Session:
        self._clients.check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- names and tables ----------------------------------------------------------------

    @property
    def tables(self) -> TableManager:
        """The table manager: ``await db.tables.ensure(Order)`` and friends."""
        if self._tables is None:
            from ._tables import TableManager

            self._tables = TableManager(self)
        return self._tables

    def table_name(self, model: type, table_name: str | None = None) -> str:
        """The physical table name of ``model``: ``table_prefix`` + the model's table, or
        ``table_name`` when given (taken as is)::

            Session(table_prefix="dev_").table_name(Order)   # 'dev_orders'
        """
        if table_name is None and isinstance(model, type):
            cached = self._names.get(model)
            if cached is not None and cached[0] == self.table_prefix:
                return cached[1]  # checked once per model and prefix, not per item
        info = model_info(model)
        name = self.table_prefix + info.table if table_name is None else table_name
        if not is_table_name(name):
            raise ValidationError(
                f"{info.cls.__qualname__}: {name!r} is not a valid table name (3 to 255 "
                "letters, digits, '_', '-' or '.')",
                model=info.cls,
            )
        if table_name is None and isinstance(model, type):
            self._names[model] = (self.table_prefix, name)
        return name

    # -- requests ------------------------------------------------------------------------

    async def _send(self, operation: str, params: dict[str, Any], ctx: Context) -> Any:
        client = await self._clients.get()
        try:
            response = await getattr(client, _METHODS[operation])(**params)
        except Exception as exc:
            error = translate(exc, ctx)
            if error is None:
                raise
            raise error from exc
        if CHECKSUM_MISMATCH in response.get("ResponseMetadata", ()):
            raise damaged_answer(response, ctx)
        return response
