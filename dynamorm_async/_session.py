"""``Session``: the async entry point, the top of the package.

A session holds configuration only until its first request; then it opens a client for the
running event loop (see ``_transport.client``): the lean transport's or aiobotocore's. It
is ``SessionBase`` (``_ops.base``: converter, table names, the one request path, ``_send``,
which turns the transport's errors into the ``DynamORMError`` tree) plus the operation
groups of ``_ops``, and it loads the table manager (``_tables``) on first use of
``db.tables``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ._errors import ValidationError
from ._observe.events import CapacityTotals, RequestEvent
from ._observe.observers import Observers, Usage
from ._ops.batch import BatchOperations
from ._ops.batch_writer import BatchStats
from ._ops.items import ItemOperations
from ._ops.reads import ReadOperations
from ._ops.transactions import TransactionOperations
from ._throughput.budget import SESSION_OPERATIONS, Budget, check_rate
from ._transport.choose import resolve_transport
from ._transport.client import ClientOptions, Clients
from ._wire.convert import Converter, default_converter

if TYPE_CHECKING:  # the table manager and migrations load on first use of db.tables
    from ._tables.migrate import TableManager

__all__ = ["Session"]

_PREFIX = re.compile(r"[A-Za-z0-9_.-]*")


class Session(ItemOperations, ReadOperations, BatchOperations, TransactionOperations):
    """An async DynamoDB session: configuration now, a client on the first request.

    Constructing a session does no I/O and imports nothing heavy; the client is opened by
    the first request, once per event loop (a Lambda handler that calls
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

    ``transport`` picks what sends the requests. ``"lean"`` is the library's own client:
    DynamoDB's JSON protocol over pooled HTTP/1.1 (h11), SigV4 signing, the standard retry
    rules with clock-skew correction, credentials from the arguments, the environment or
    the container endpoint; it imports neither aiobotocore nor botocore, which makes the
    first request of a fresh process and every request after it cheaper. ``"aiobotocore"``
    is the full AWS client: profiles, SSO, instance metadata, assume-role chains, FIPS and
    dual-stack endpoints, proxies, any botocore ``config``. ``"auto"`` (the default, or
    the ``DYNAMORM_TRANSPORT`` environment variable) takes the lean transport wherever it
    does exactly what aiobotocore would (no profile, session or config given, region and
    credentials from the arguments or the environment, no shared AWS config file) and
    aiobotocore everywhere else; ``db.transport`` says which it took. With the lean
    transport, ``config`` may set ``connect_timeout``, ``read_timeout``, ``retries``
    (standard mode) and ``max_pool_connections``.

    ``table_prefix`` is put in front of every model's table name (``"dev_"``,
    ``"test_3f2a_"``); every operation also takes ``table_name=`` to name the physical table
    outright. ``converter`` (default: ``default_converter()``) turns models into items.
    ``cursor_key`` (16 to 64 random bytes, the same on every instance of a service) makes
    the pagination cursors of ``page()`` unforgeable; without it they still refuse edits
    and cursors of other queries.

    ``on_request`` (a callable, sync or async, or a list of them) gets a ``RequestEvent``
    after every request; ``consumed_capacity=True`` asks DynamoDB for the consumed capacity
    of every request (as a callback or a tracer does) and keeps it in ``db.capacity``.
    Without either, requests are sent exactly as they would be without them.

    ``max_read_units``/``max_write_units`` (per second, on each table) pace the session's
    scans and batch writes (``batch_write``, ``batch_writer``) so a background job leaves
    the application its share of a table's capacity: each request waits its turn in a
    token bucket fed by the capacity DynamoDB reports, and DynamoDB's throttling slows it
    further for a while. Single-item requests and queries are not paced. A copy is paced by
    its own budget when it has one (``db.tables.copy(max_write_units=...)``), else by the
    session's, all its requests included (its conditional writes too).
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
        on_request: Callable[[RequestEvent], Any]
        | Sequence[Callable[[RequestEvent], Any]]
        | None = None,
        consumed_capacity: bool = False,
        max_read_units: float | None = None,
        max_write_units: float | None = None,
        transport: Literal["auto", "lean", "aiobotocore"] | None = None,
    ) -> None:
        read_limit = check_rate("max_read_units", max_read_units)
        write_limit = check_rate("max_write_units", max_write_units)
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
        chosen = resolve_transport(
            transport,
            botocore_session=botocore_session,
            aioboto3_session=aioboto3_session,
            profile=profile,
            config=config,
        )
        if isinstance(cursor_key, str):
            cursor_key = cursor_key.encode()
        if cursor_key is not None and not 16 <= len(cursor_key) <= 64:
            raise ValidationError("cursor_key must be 16 to 64 bytes (a random secret)")
        clients = Clients(
            ClientOptions(
                region=region,
                endpoint_url=endpoint_url,
                config=config,
                credentials=credentials,
                profile=profile,
                botocore_session=botocore_session,
                aioboto3_session=aioboto3_session,
                transport=chosen,
            )
        )
        budget = None
        if read_limit is not None or write_limit is not None:
            budget = Budget(read_limit, write_limit, SESSION_OPERATIONS)
        # A budget paces by the capacity DynamoDB reports: it asks for it on every request.
        observers = Observers(consumed_capacity=bool(consumed_capacity) or budget is not None)
        callbacks = on_request if isinstance(on_request, Sequence) else [on_request]
        for callback in callbacks:
            if callback is None:
                continue
            if not callable(callback):
                raise ValidationError(
                    f"on_request takes a callable or a list of them, got {callback!r:.60}"
                )
            observers.add_callback(callback)
        super().__init__(clients, converter or default_converter(), table_prefix, observers, budget)
        self.cursor_key = cursor_key
        self._batch_stats = BatchStats()
        self._tables: TableManager | None = None

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

    @property
    def transport(self) -> Literal["lean", "aiobotocore"] | None:
        """The transport requests take: ``"lean"`` or ``"aiobotocore"``; under ``auto``,
        None until the first request chose one (``transport_reason`` says why it chose
        aiobotocore)."""
        return self._clients.transport

    @property
    def transport_reason(self) -> str | None:
        """Why ``auto`` chose aiobotocore (a profile, a config file, ...); else None."""
        return self._clients.why

    async def client(self) -> Any:
        """The aiobotocore DynamoDB client of the running event loop, opened if needed
        (also when requests take the lean transport).

        For calls the session does not wrap; the session owns it (do not close it)::

            limits = await (await db.client()).describe_limits()
        """
        return await self._clients.raw()

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

    # -- what the requests cost ----------------------------------------------------------

    @property
    def capacity(self) -> CapacityTotals:
        """Running totals of the consumed capacity, per table, of the requests made while
        someone watched (``on_request``, a tracer, ``consumed_capacity=True``, or a
        ``track_capacity()`` block)::

            db = Session(consumed_capacity=True)
            ...
            print(db.capacity.tables["orders"].write, db.capacity.read)
        """
        return self._observers.capacity

    @contextlib.contextmanager
    def track_capacity(self) -> Iterator[Usage]:
        """Add up the capacity the requests made inside the block consumed (in this task
        and the tasks started in it), asking DynamoDB for it meanwhile::

            with db.track_capacity() as usage:
                await db.put(order)
                await db.query(Order, "c1").count()
            print(usage.read_units, usage.write_units)
        """
        with self._observers.budget(), self._observers.work("track_capacity") as usage:
            yield usage

    # -- names and tables ----------------------------------------------------------------

    @property
    def tables(self) -> TableManager:
        """The table manager: ``await db.tables.ensure(Order)`` and friends."""
        if self._tables is None:
            from ._tables.migrate import TableManager

            self._tables = TableManager(self)
        return self._tables
