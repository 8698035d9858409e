"""The session's table manager: create, describe, wait, ensure, delete, driven by the model.

Thin, stateless wrappers over DynamoDB's table APIs for development, tests, deployment
scripts and one-time setup functions. The manager keeps no record of what it did and sends
nothing until asked; production infrastructure belongs to CDK, CloudFormation or Terraform.

The waiter is our own: botocore's ``table_exists`` waiter sleeps a fixed 20 s between polls
and ignores global indexes. Ours polls DescribeTable with exponential backoff and jitter from
50 ms (a local engine answers at once) up to 3 s, until the table *and* every global index
are ACTIVE, with an overall timeout and cancellable at any moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping
from typing import Any

from .._errors import (
    RequestFailed,
    SchemaMismatch,
    TableAlreadyExists,
    TableNotFound,
    TableProtected,
    TableWaitTimeout,
    ValidationError,
)
from .._model.models import IndexInfo, KeyAttribute, ModelInfo, model_info
from .._observe.observers import work
from .._ops.base import SessionBase
from .._single_table.table import Table
from .._transport.translate import Context
from .description import Provisioned, TableDescription, parse_description

__all__ = ["TableLifecycle"]

_log = logging.getLogger("dynamorm_async")

_FIRST_DELAY = 0.05
_MAX_DELAY = 3.0
_DEFAULT_TIMEOUT = 300.0
_STREAM_VIEWS = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")
_ENCRYPTIONS = ("AWS_OWNED", "AWS_MANAGED", "CUSTOMER_MANAGED")
# Engines that lack DescribeTimeToLive answer with one of these; TTL status is then unknown.
_NO_TTL_API = ("UnknownOperationException", "UnrecognizedClientException")


class TableLifecycle:
    """Create, describe, wait for, ensure and delete the tables of a session's models; the
    data migrations build on it (``TableManager``)."""

    def __init__(self, session: SessionBase) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._session!r}>"

    async def _call(self, operation: str, name: str, **params: Any) -> Any:
        return await self._session._send(operation, params, Context(operation, name, None))

    def _resolve(self, model: type | Table, table_name: str | None) -> tuple[ModelInfo, str]:
        if isinstance(model, Table):  # a shared table: its keys and indexes
            model = model.model
        return model_info(model), self._session.table_name(model, table_name)

    # -- reading -------------------------------------------------------------------------

    async def _describe_table(self, name: str) -> TableDescription | None:
        """DescribeTable only (what the waiter polls); None when the table does not exist."""
        try:
            response = await self._call("DescribeTable", name, TableName=name)
        except TableNotFound:
            return None
        return parse_description(response["Table"], None)

    async def describe(
        self, model: type | Table, *, table_name: str | None = None
    ) -> TableDescription:
        """The table of ``model`` as a ``TableDescription`` (with its TTL status);
        ``TableNotFound`` when it does not exist."""
        _, name = self._resolve(model, table_name)
        table, ttl = await asyncio.gather(
            self._call("DescribeTable", name, TableName=name),
            self._describe_ttl(name),
            return_exceptions=True,
        )
        # DescribeTable's own error (a missing table) is the one to tell, whichever came first.
        for outcome in (table, ttl):
            if isinstance(outcome, BaseException):
                raise outcome
        assert isinstance(table, dict)
        return parse_description(table["Table"], ttl if isinstance(ttl, dict) else None)

    async def _describe_ttl(self, name: str) -> dict[str, Any] | None:
        try:
            response = await self._call("DescribeTimeToLive", name, TableName=name)
        except RequestFailed as exc:
            if exc.code in _NO_TTL_API:
                return None
            raise
        ttl: dict[str, Any] | None = response.get("TimeToLiveDescription")
        return ttl

    async def _with_ttl(self, desc: TableDescription) -> TableDescription:
        """``desc`` with its TTL status (DescribeTimeToLive), without describing the table
        again."""
        return parse_description(desc.raw, await self._describe_ttl(desc.name))

    async def exists(self, model: type | Table, *, table_name: str | None = None) -> bool:
        """True when the table of ``model`` exists (in any status)."""
        _, name = self._resolve(model, table_name)
        return await self._describe_table(name) is not None

    # -- waiting -------------------------------------------------------------------------

    async def wait_active(
        self,
        model: type | Table,
        *,
        table_name: str | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> TableDescription:
        """Wait until the table and every global index are ACTIVE; returns the description.

        Raises ``TableWaitTimeout`` (a ``TimeoutError``) naming the last status seen after
        ``timeout`` seconds, and ``TableNotFound`` when the table does not exist.
        """
        _, name = self._resolve(model, table_name)
        desc = await self._wait(name, deleted=False, timeout=timeout)
        assert desc is not None
        return await self._with_ttl(desc)

    async def wait_deleted(
        self,
        model: type | Table,
        *,
        table_name: str | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        """Wait until the table is gone; ``TableWaitTimeout`` after ``timeout`` seconds."""
        _, name = self._resolve(model, table_name)
        await self._wait(name, deleted=True, timeout=timeout)

    async def _wait(self, name: str, *, deleted: bool, timeout: float) -> TableDescription | None:
        _check_timeout(timeout)
        state = "gone" if deleted else "ACTIVE"
        with work(self._session._observers, "table.wait", table=name, until=state):
            started = time.monotonic()
            desc = await self._poll(name, deleted=deleted, timeout=timeout)
        _log.info("table %r is %s (waited %.2f s)", name, state, time.monotonic() - started)
        return desc

    async def _poll(self, name: str, *, deleted: bool, timeout: float) -> TableDescription | None:
        seen = ["not described yet"]
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def poll() -> TableDescription | None:
            delay = _FIRST_DELAY
            while True:
                desc = await self._describe_table(name)
                if deleted and desc is None:
                    return None
                if not deleted:
                    if desc is None:
                        raise TableNotFound(
                            f"table {name!r} does not exist", operation="DescribeTable", table=name
                        )
                    if desc.usable:
                        return desc
                seen[0] = "missing" if desc is None else desc.status_summary()
                # Equal jitter: spreads many waiters (ensure_all, several processes) apart.
                await asyncio.sleep(delay / 2 + random.uniform(0, delay / 2))
                delay = min(delay * 2, _MAX_DELAY)

        try:
            return await asyncio.wait_for(poll(), timeout)
        except asyncio.TimeoutError:
            state = "gone" if deleted else "ACTIVE"
            raise TableWaitTimeout(
                f"table {name!r} was not {state} after {timeout:g} s; last status: {seen[0]}",
                table=name,
                last_status=seen[0],
                waited=loop.time() - started,
            ) from None

    # -- creating ------------------------------------------------------------------------

    async def create(
        self,
        model: type | Table,
        *,
        table_name: str | None = None,
        wait: bool = True,
        timeout: float = _DEFAULT_TIMEOUT,
        billing: Provisioned | None = None,
        index_billing: Mapping[str, Provisioned] | None = None,
        tags: Mapping[str, str] | None = None,
        stream: str | None = None,
        encryption: str = "AWS_OWNED",
        kms_key: str | None = None,
        deletion_protection: bool = False,
    ) -> TableDescription:
        """CreateTable from the model, then (``wait=True``) wait until usable and enable TTL
        when the model declares a TTL attribute. Returns the table's description.

        - Key schema, attribute definitions (key and index-key attributes only), global and
          local indexes with their projections come from the model.
        - ``billing``: on demand (None, the default) or ``Provisioned(read=, write=)``;
          ``index_billing={"by_status": Provisioned(...)}`` sets a global index's own
          throughput (default: the table's).
        - ``tags``, ``stream`` (``"NEW_IMAGE"``, ``"OLD_IMAGE"``, ``"NEW_AND_OLD_IMAGES"``,
          ``"KEYS_ONLY"``), ``encryption`` (``"AWS_OWNED"``, ``"AWS_MANAGED"``,
          ``"CUSTOMER_MANAGED"`` with ``kms_key``), ``deletion_protection``.

        ``TableAlreadyExists`` when the name is taken::

            await db.tables.create(Order, billing=Provisioned(read=5, write=5),
                                   stream="NEW_AND_OLD_IMAGES")
        """
        info, name = self._resolve(model, table_name)
        _check_timeout(timeout)
        if info.ttl is not None and not wait:
            raise ValidationError(
                f"{info.cls.__qualname__} has a TTL attribute, which can only be enabled once "
                "the table is ACTIVE: pass wait=True, or call enable_ttl() after wait_active()",
                model=info.cls,
            )
        params = _create_params(
            info,
            name,
            billing=billing,
            index_billing=index_billing,
            tags=tags,
            stream=stream,
            encryption=encryption,
            kms_key=kms_key,
            deletion_protection=deletion_protection,
        )
        response = await self._call("CreateTable", name, **params)
        _log.info("created table %r for %s", name, info.cls.__qualname__)
        if not wait:
            return parse_description(response["TableDescription"], None)
        desc = await self._wait(name, deleted=False, timeout=timeout)
        assert desc is not None
        if info.ttl is not None:
            await self._enable_ttl(info, name)
        return await self._with_ttl(desc)

    async def enable_ttl(self, model: type | Table, *, table_name: str | None = None) -> None:
        """Enable time to live on the model's TTL attribute (UpdateTimeToLive)."""
        info, name = self._resolve(model, table_name)
        if info.ttl is None:
            raise ValidationError(
                f"{info.cls.__qualname__} declares no TTL attribute (@model(ttl=...))",
                model=info.cls,
            )
        await self._enable_ttl(info, name)

    async def _enable_ttl(self, info: ModelInfo, name: str) -> None:
        assert info.ttl is not None
        spec = {"Enabled": True, "AttributeName": info.field(info.ttl).stored_name}
        await self._call("UpdateTimeToLive", name, TableName=name, TimeToLiveSpecification=spec)
        _log.info("enabled time to live on table %r, attribute %r", name, spec["AttributeName"])

    async def ensure(
        self,
        model: type | Table,
        *,
        table_name: str | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
        **options: Any,
    ) -> TableDescription:
        """Make sure the model's table exists and is usable; idempotent.

        A missing table is created with ``options`` (those of ``create``: ``billing``,
        ``index_billing``, ``tags``, ``stream``, ``encryption``, ``kms_key``,
        ``deletion_protection``) and waited for. When several callers (coroutines or
        processes) ensure the same table at once, exactly one CreateTable wins; the others
        take DynamoDB's ``ResourceInUseException`` as "someone else is creating it" and wait.
        An existing table is waited for and checked: when its key schema, indexes or time to
        live differ from the model (a model with ``ttl=`` on a table without TTL on that
        attribute, whose items would never expire), ``SchemaMismatch`` lists the differences.
        ``ensure`` never alters, drops or recreates an existing table: it does not enable TTL
        either (``enable_ttl()`` does, on purpose).
        """
        info, name = self._resolve(model, table_name)
        _check_timeout(timeout)
        _create_params(info, name, **options)  # bad options fail even when the table exists
        desc = await self._describe_table(name)
        if desc is None:
            # Losing the race to another caller is fine: wait for its table like any other.
            with contextlib.suppress(TableAlreadyExists):
                desc = await self.create(model, table_name=name, timeout=timeout, **options)
        if desc is None or not desc.usable:
            desc = await self._wait(name, deleted=False, timeout=timeout)
            assert desc is not None
        return await self._checked(info, desc)

    async def _check_existing(self, model: type | Table) -> TableDescription | None:
        """The model's table checked as ``ensure`` checks it, or None when it does not exist;
        creates nothing (for dry runs)."""
        info, name = self._resolve(model, None)
        desc = await self._describe_table(name)
        return None if desc is None else await self._checked(info, desc)

    async def _checked(self, info: ModelInfo, desc: TableDescription) -> TableDescription:
        """``desc`` with its TTL status, when the table matches the model; else
        ``SchemaMismatch`` listing every difference."""
        if desc.ttl_status is None:
            desc = await self._with_ttl(desc)
        differences = schema_differences(info, desc)
        if differences:
            raise SchemaMismatch(
                f"table {desc.name!r} does not match {info.cls.__qualname__}: "
                + "; ".join(differences),
                table=desc.name,
                model=info.cls,
                differences=differences,
            )
        return desc

    async def ensure_all(
        self, *models: type | Table, timeout: float = _DEFAULT_TIMEOUT, **options: Any
    ) -> list[TableDescription]:
        """``ensure`` every model's table concurrently, in one pass; descriptions in the
        order given. Every ensure runs to its end; the first error is raised afterwards::

            await db.tables.ensure_all(User, Post, Comment)
        """
        results = await asyncio.gather(
            *(self.ensure(m, timeout=timeout, **options) for m in models),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, TableDescription)]

    # -- deleting ------------------------------------------------------------------------

    async def delete(
        self,
        model: type | Table,
        *,
        table_name: str | None = None,
        missing_ok: bool = False,
        wait: bool = True,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        """DeleteTable, then (``wait=True``) wait until the table is gone.

        A missing table raises ``TableNotFound`` unless ``missing_ok``. A table with
        deletion protection raises ``TableProtected`` and is left alone. A table still being
        created or updated is waited for first (DynamoDB refuses to delete it meanwhile).
        """
        _, name = self._resolve(model, table_name)
        _check_timeout(timeout)
        await self._delete_named(name, missing_ok=missing_ok, wait=wait, timeout=timeout)

    async def _delete_named(
        self, name: str, *, missing_ok: bool, wait: bool, timeout: float, force: bool = False
    ) -> None:
        desc = await self._describe_table(name)
        if desc is None:
            if missing_ok:
                return
            raise TableNotFound(
                f"table {name!r} does not exist", operation="DeleteTable", table=name
            )
        if desc.deletion_protection and force:
            await self._call("UpdateTable", name, TableName=name, DeletionProtectionEnabled=False)
        elif desc.deletion_protection:
            raise TableProtected(
                f"table {name!r} has deletion protection on; turn it off first if you really "
                "mean to delete it",
                table=name,
            )
        if desc.status != "DELETING":
            if not desc.usable:
                await self._wait(name, deleted=False, timeout=timeout)
            try:
                await self._call("DeleteTable", name, TableName=name)
                _log.info("deleting table %r", name)
            except TableNotFound:
                if not missing_ok:
                    raise
                return
        if wait:
            await self._wait(name, deleted=True, timeout=timeout)

    async def _delete_prefixed(self, prefix: str, *, timeout: float = _DEFAULT_TIMEOUT) -> None:
        """Delete every table whose name starts with ``prefix``, concurrently, deletion
        protection or not, and wait until they are gone: the test fixtures' clean-up of the
        tables a test made. Tables still being created are waited for first."""
        names: list[str] = []
        kwargs: dict[str, Any] = {}
        while True:  # ListTables pages hold at most 100 names
            page = await self._call("ListTables", prefix, **kwargs)
            names += [n for n in page.get("TableNames", []) if n.startswith(prefix)]
            if "LastEvaluatedTableName" not in page:
                break
            kwargs["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]
        results = await asyncio.gather(
            *(
                self._delete_named(n, missing_ok=True, wait=True, timeout=timeout, force=True)
                for n in names
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result


def _check_timeout(timeout: Any) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValidationError(f"timeout must be a number of seconds > 0, got {timeout!r}")


def _create_params(
    info: ModelInfo,
    name: str,
    *,
    billing: Provisioned | None = None,
    index_billing: Mapping[str, Provisioned] | None = None,
    tags: Mapping[str, str] | None = None,
    stream: str | None = None,
    encryption: str = "AWS_OWNED",
    kms_key: str | None = None,
    deletion_protection: bool = False,
) -> dict[str, Any]:
    """CreateTable's parameters, every option checked first (``ValidationError``)."""
    cls = info.cls

    def bad(message: str) -> ValidationError:
        return ValidationError(f"create {cls.__qualname__}: {message}", model=cls)

    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": info.key_schema(),
        "AttributeDefinitions": info.attribute_definitions(),
    }
    if billing is None:
        params["BillingMode"] = "PAY_PER_REQUEST"
    elif isinstance(billing, Provisioned):
        params["BillingMode"] = "PROVISIONED"
        params["ProvisionedThroughput"] = billing.to_wire()
    else:
        raise bad(f"billing takes Provisioned(read=, write=) or None, got {billing!r}")
    gsi_names = {i.name for i in info.indexes if i.kind == "global"}
    for index_name, throughput in (index_billing or {}).items():
        if index_name not in gsi_names:
            raise bad(f"index_billing names {index_name!r}, which is not a global index")
        if billing is None:
            raise bad("index_billing needs provisioned billing for the table as well")
        if not isinstance(throughput, Provisioned):
            raise bad(f"index_billing[{index_name!r}] must be Provisioned, got {throughput!r}")
    gsis, lsis = [], []
    for index in info.indexes:
        spec: dict[str, Any] = {
            "IndexName": index.name,
            "KeySchema": index.key_schema(),
            "Projection": index.projection(),
        }
        if index.kind == "global":
            if billing is not None:
                spec["ProvisionedThroughput"] = (
                    (index_billing or {}).get(index.name, billing).to_wire()
                )
            gsis.append(spec)
        else:
            lsis.append(spec)
    if gsis:
        params["GlobalSecondaryIndexes"] = gsis
    if lsis:
        params["LocalSecondaryIndexes"] = lsis
    if tags:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
            raise bad(f"tags map str keys to str values, got {dict(tags)!r}")
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    if stream is not None:
        if stream not in _STREAM_VIEWS:
            raise bad(f"stream takes one of {', '.join(_STREAM_VIEWS)}, got {stream!r}")
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    if encryption not in _ENCRYPTIONS:
        raise bad(f"encryption takes one of {', '.join(_ENCRYPTIONS)}, got {encryption!r}")
    if (encryption == "CUSTOMER_MANAGED") != (kms_key is not None):
        raise bad('kms_key goes with encryption="CUSTOMER_MANAGED", and only with it')
    if encryption != "AWS_OWNED":
        sse: dict[str, Any] = {"Enabled": True, "SSEType": "KMS"}
        if kms_key is not None:
            sse["KMSMasterKeyId"] = kms_key
        params["SSESpecification"] = sse
    if deletion_protection:
        params["DeletionProtectionEnabled"] = True
    return params


def _describe_keys(keys: list[tuple[str, str, str | None]]) -> str:
    return ", ".join(f"{n} ({t or '?'}) {kind}" for n, kind, t in keys) or "no keys"


def _model_keys(hash_key: KeyAttribute, range_key: KeyAttribute | None) -> list[Any]:
    keys = [(hash_key.stored_name, "HASH", hash_key.attribute_type)]
    if range_key is not None:
        keys.append((range_key.stored_name, "RANGE", range_key.attribute_type))
    return keys


def schema_differences(info: ModelInfo, desc: TableDescription) -> list[str]:
    """How a live table differs from the model: keys, index keys, index projections, and
    time to live. Indexes the table has and the model does not declare are no difference,
    nor is TTL on a table whose model declares none, nor TTL an engine cannot report."""
    out: list[str] = []
    wanted = _model_keys(info.hash_key, info.range_key)
    actual = [(k.name, k.key_type, k.attribute_type) for k in desc.key_schema]
    if wanted != actual:
        out.append(f"key: model has {_describe_keys(wanted)}, table has {_describe_keys(actual)}")
    live = {i.name: i for i in (*desc.global_indexes, *desc.local_indexes)}
    for index in info.indexes:
        out += _index_differences(index, live.get(index.name))
    if info.ttl is not None and desc.ttl_status is not None:
        stored = info.field(info.ttl).stored_name
        on = desc.ttl_status in ("ENABLED", "ENABLING")
        if not on or desc.ttl_attribute != stored:
            table_has = f"TTL on {desc.ttl_attribute!r}" if on else f"TTL {desc.ttl_status.lower()}"
            # Items would silently never expire. Enabling TTL alters the table, which ensure
            # never does: it is for the infrastructure code, or an explicit enable_ttl().
            out.append(
                f"time to live: model expires items by {stored!r}, table has {table_has} "
                f"(enable it in your infrastructure code, or with db.tables.enable_ttl("
                f"{info.cls.__qualname__}))"
            )
    return out


def _index_differences(index: IndexInfo, live: Any) -> list[str]:
    label = f"{index.kind} index {index.name!r}"
    if live is None:
        return [f"{label} is missing from the table"]
    if live.kind != index.kind:
        return [f"{label} is a {live.kind} index in the table"]
    out = []
    wanted = _model_keys(index.hash_key, index.range_key)
    actual = [(k.name, k.key_type, k.attribute_type) for k in live.key_schema]
    if wanted != actual:
        out.append(
            f"{label} keys: model has {_describe_keys(wanted)}, table has {_describe_keys(actual)}"
        )
    if live.projection_type != index.projection_type or (
        index.projection_type == "INCLUDE"
        and set(live.non_key_attributes) != set(index.non_key_attributes)
    ):
        out.append(
            f"{label} projection: model has {index.projection_type}"
            f"{list(index.non_key_attributes) or ''}, table has {live.projection_type}"
            f"{list(live.non_key_attributes) or ''}"
        )
    return out
