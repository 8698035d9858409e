"""``Table``: one physical table shared by several entity types, ``Table.entity`` to declare
them, and ``Table.collection`` to read several of them with one query.

An entity is an attrs class whose ``ModelInfo`` names the shared table, its generic key
attributes (``pk``, ``sk``, ``gsi1pk``...) and an ``EntityInfo`` that makes those keys from
templates over the entity's fields and stores the entity's type in every item. The whole
session API works on entities as on ``@model`` classes: the converter adds the keys and
the type when it dumps an instance and refuses an item of another type when it loads one;
key lookups take a mapping of the templates' fields.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, overload

import attrs

from .._errors import ModelError, ValidationError
from .._model.models import (
    GlobalIndex,
    IndexInfo,
    LocalIndex,
    ModelInfo,
    fields_of,
    is_table_name,
    model,
    special_field,
)
from .templates import Key, Template

__all__ = ["Collection", "EntityInfo", "Table"]

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
E = TypeVar("E")


class Table:
    """A physical table shared by several entity types (single-table design)::

        app = Table("app", hash_key="pk", range_key="sk",
                    indexes=[GlobalIndex("gsi1", hash_key="gsi1pk", range_key="gsi1sk")])

        @app.entity(key=Key("USER#{user_id}", "PROFILE"),
                    indexes={"gsi1": Key("EMAIL#{email}", "USER")})
        @attrs.define
        class User:
            user_id: str
            email: str

    The key attributes are strings made from each entity's templates; ``type_attribute``
    holds each item's entity type. ``db.tables.ensure(app)`` creates the table.
    """

    def __init__(
        self,
        name: str,
        *,
        hash_key: str,
        range_key: str | None = None,
        indexes: Sequence[GlobalIndex | LocalIndex] = (),
        type_attribute: str = "_type",
    ) -> None:
        if not is_table_name(name):
            raise ModelError(
                f"Table: {name!r} is not a valid table name (3 to 255 letters, digits, '_', "
                "'-' or '.')"
            )
        for role, value in (("hash_key", hash_key), ("type_attribute", type_attribute)):
            if not isinstance(value, str) or not value:
                raise ModelError(f"Table {name!r}: {role} takes an attribute name, got {value!r}")
        if range_key is not None and (not isinstance(range_key, str) or not range_key):
            raise ModelError(
                f"Table {name!r}: range_key takes an attribute name, got {range_key!r}"
            )
        self.name = name
        self.hash_key = hash_key
        self.range_key = range_key
        self.type_attribute = type_attribute
        self.entities: dict[str, type] = {}  # type name -> entity class
        key_names = [hash_key, range_key] + [
            n for i in indexes for n in _index_keys(i) if n is not None
        ]
        if type_attribute in key_names:
            raise ModelError(f"Table {name!r}: the type attribute {type_attribute!r} is a key")
        # The table's own model: its key attributes as str fields, for the table manager.
        fields = {n: str for n in dict.fromkeys(n for n in key_names if n is not None)}
        shell = attrs.make_class(
            f"{name}_table".replace("-", "_").replace(".", "_"),
            {n: attrs.field(type=tp) for n, tp in fields.items()},
        )
        try:
            self.model: type = model(
                table=name, hash_key=hash_key, range_key=range_key, indexes=indexes
            )(shell)
        except ModelError as exc:  # named after the table, not its internal class
            raise ModelError(f"Table {name!r}: {str(exc).partition(': ')[2]}") from None
        self.info: ModelInfo = self.model.__dict__["__dynamorm__"]

    def __repr__(self) -> str:
        return f"Table({self.name!r}, entities={list(self.entities)})"

    def entity(
        self,
        *,
        key: Key,
        indexes: Mapping[str, Key] | None = None,
        type: str | None = None,
        version: str | None = None,
        ttl: str | None = None,
        created_at: str | None = None,
        updated_at: str | None = None,
    ) -> Callable[[builtins.type[T]], builtins.type[T]]:
        """Declare an attrs class as an entity of this table. ``key`` gives the table's key
        templates, ``indexes`` the templates of the indexes the entity is in (an item whose
        index template has a None field stays out of that index); ``type`` (default: the
        class name) is stored in every item. ``version``, ``ttl``, ``created_at`` and
        ``updated_at`` work as for ``@model``. Every mistake is a ``ModelError`` when the
        class is defined."""

        type_name = type

        def decorate(cls: builtins.type[T]) -> builtins.type[T]:
            if not isinstance(cls, builtins.type):
                raise ModelError(f"@entity decorates a class, got {cls!r}")
            if "__attrs_attrs__" not in cls.__dict__:
                cls = attrs.define(cls)
            info = EntityInfo.build(
                self, cls, key, indexes or {}, type_name or cls.__name__,
                version=version, ttl=ttl, created_at=created_at, updated_at=updated_at,
            )  # fmt: skip
            builtins.type.__setattr__(cls, "__dynamorm__", info)
            return cls

        return decorate

    @overload
    def collection(self, a: type[A], /) -> Collection[A]: ...
    @overload
    def collection(self, a: type[A], b: type[B], /) -> Collection[A | B]: ...
    @overload
    def collection(self, a: type[A], b: type[B], c: type[C], /) -> Collection[A | B | C]: ...
    @overload
    def collection(
        self, a: type[A], b: type[B], c: type[C], d: type[D], /
    ) -> Collection[A | B | C | D]: ...
    @overload
    def collection(
        self, a: type[A], b: type[B], c: type[C], d: type[D], e: type[E], /
    ) -> Collection[A | B | C | D | E]: ...
    @overload
    def collection(self, *entities: type[Any]) -> Collection[Any]: ...

    def collection(self, *entities: type[Any]) -> Collection[Any]:
        """Several entities of this table read with one query, each item as its own class::

            async for item in db.query(app.collection(User, Order), {"user_id": "u1"}):
                ...                                 # User | Order, by the type attribute

        The entities must share the hash key template (of the table, or of the index
        queried)."""
        return Collection(self, entities)

    def entity_of(self, item: Mapping[str, Any]) -> type | None:
        """The entity class of a stored item, by its type attribute (None if no entity of
        this table claims it)."""
        av = item.get(self.type_attribute)
        if not isinstance(av, Mapping):
            return None
        return self.entities.get(av.get("S"))  # type: ignore[arg-type]


class Collection(Generic[T]):
    """Entities of one table queried together (``Table.collection``)."""

    def __init__(self, table: Table, entities: Sequence[type[Any]]) -> None:
        if not entities:
            raise ValidationError("a collection takes one entity or more")
        infos: list[EntityInfo] = []
        for cls in entities:
            info = cls.__dict__.get("__dynamorm__") if isinstance(cls, type) else None
            entity = info.entity if isinstance(info, ModelInfo) else None
            if not isinstance(entity, EntityInfo) or entity.table is not table:
                raise ValidationError(f"{cls!r} is not an entity of {table!r}")
            infos.append(entity)
        self.table = table
        self.entities = tuple(entities)
        self.infos = tuple(infos)
        self.by_type = {i.type_name: i.cls for i in infos}

    def __repr__(self) -> str:
        return f"Collection({', '.join(c.__qualname__ for c in self.entities)})"

    def hash_template(self, index: str | None) -> Template:
        """The hash key template the entities share (of the table, or ``index``)."""
        templates = [e.templates(index)[0] for e in self.infos]
        first = templates[0]
        for entity, template in zip(self.infos, templates, strict=True):
            if template.text != first.text:
                raise ValidationError(
                    f"{self!r} cannot be queried together: {entity.cls.__qualname__}'s hash "
                    f"key is {template.text!r}, {self.infos[0].cls.__qualname__}'s "
                    f"{first.text!r}"
                )
        return first


class EntityInfo:
    """The keys and type of an entity class (the ``EntityKeys`` of its ``ModelInfo``)."""

    def __init__(
        self,
        table: Table,
        cls: type,
        type_name: str,
        hash_template: Template,
        range_template: Template | None,
        index_templates: dict[str, tuple[IndexInfo, Template, Template | None]],
    ) -> None:
        self.table = table
        self.cls = cls
        self.type_name = type_name
        self.type_attribute = table.type_attribute
        self.type_value = {"S": type_name}
        self.hash = hash_template
        self.range = range_template
        self.indexes = index_templates
        self.key_fields = hash_template.fields + (range_template.fields if range_template else ())
        self._template_fields = tuple(
            dict.fromkeys(
                self.key_fields
                + tuple(f for _, h, r in index_templates.values() for f in _fields_of(h, r))
            )
        )

    @classmethod
    def build(
        cls_,
        table: Table,
        cls: type,
        key: Key,
        indexes: Mapping[str, Key],
        type_name: str,
        **special: str | None,
    ) -> ModelInfo:
        name = cls.__qualname__

        def fail(message: str, field: str | None = None) -> ModelError:
            return ModelError(f"{name}: {message}", model=cls, field=field)

        if not isinstance(key, Key):
            raise fail(f"key takes Key(hash_template, range_template), got {key!r}")
        if not isinstance(type_name, str) or not type_name:
            raise fail(f"type takes a non-empty str, got {type_name!r}")
        taken = table.entities.get(type_name)
        # The same class defined again (a module reloaded, a notebook cell run twice) takes
        # its type back; another class cannot.
        if taken is not None and (taken.__module__, taken.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise fail(
                f"the type {type_name!r} is taken by {table.entities[type_name].__qualname__} "
                f"in {table.name!r}; give one of them another type="
            )
        fields = fields_of(cls)
        by_name = {f.name: f for f in fields}
        reserved = {n for n in table.info.key_names()} | {table.type_attribute}
        for index in table.info.indexes:
            reserved |= {k.stored_name for k in (index.hash_key, index.range_key) if k}
        for f in fields:
            if f.stored_name in reserved:
                raise fail(
                    f"field {f.name!r} is stored as {f.stored_name!r}, an attribute the table "
                    "keeps for its keys or the entity type; rename it (field(stored_as=...))"
                )
        hash_template = Template(key.hash, cls, by_name, "key hash")
        if (key.range is None) != (table.range_key is None):
            raise fail(
                f"{table.name!r} has {'a' if table.range_key else 'no'} range key: "
                f"Key({'hash, range' if table.range_key else 'hash'}) fits it"
            )
        range_template = (
            Template(key.range, cls, by_name, "key range") if key.range is not None else None
        )
        index_templates: dict[str, tuple[IndexInfo, Template, Template | None]] = {}
        for index_name, index_key in indexes.items():
            found = [i for i in table.info.indexes if i.name == index_name]
            if not found:
                known = ", ".join(i.name for i in table.info.indexes) or "none"
                raise fail(f"{table.name!r} has no index {index_name!r} (indexes: {known})")
            index = found[0]
            if not isinstance(index_key, Key):
                raise fail(f"index {index_name!r} takes a Key(...), got {index_key!r}")
            if (index_key.range is None) != (index.range_key is None):
                has = "a" if index.range_key else "no"
                raise fail(f"index {index_name!r} has {has} range key: fit its Key(...) to it")
            if index.kind == "local" and index_key.hash != key.hash:
                raise fail(
                    f"local index {index_name!r} shares the table's hash key: give it "
                    f"Key({key.hash!r}, ...)"
                )
            h = Template(index_key.hash, cls, by_name, f"index {index_name!r} hash")
            r = (
                Template(index_key.range, cls, by_name, f"index {index_name!r} range")
                if index_key.range is not None
                else None
            )
            index_templates[index_name] = (index, h, r)
        entity = cls_(table, cls, type_name, hash_template, range_template, index_templates)

        def checked(role: str, allowed: tuple[type, ...]) -> str | None:
            return special_field(fail, by_name, role, special[role], allowed)

        info = ModelInfo(
            cls=cls,
            table=table.name,
            hash_key=table.info.hash_key,
            range_key=table.info.range_key,
            indexes=table.info.indexes,
            fields=fields,
            ttl=checked("ttl", (datetime, int)),
            version=checked("version", (int,)),
            created_at=checked("created_at", (datetime,)),
            updated_at=checked("updated_at", (datetime,)),
            entity=entity,
        )
        table.entities[type_name] = cls
        return info

    def __repr__(self) -> str:
        return f"<entity {self.type_name} of {self.table.name!r}>"

    def templates(self, index: str | None) -> tuple[Template, Template | None]:
        """The hash and range templates of the table (``index`` None) or of an index."""
        if index is None:
            return self.hash, self.range
        found = self.indexes.get(index)
        if found is None:
            known = ", ".join(self.indexes) or "none"
            raise ValidationError(
                f"{self.cls.__qualname__} is not in index {index!r} (its indexes: {known})",
                model=self.cls,
            )
        return found[1], found[2]

    # -- EntityKeys ----------------------------------------------------------------------

    def complete(self, obj: Any, item: dict[str, Any]) -> None:
        values = {f: getattr(obj, f) for f in self._template_fields}
        item.update(self._table_key(values))
        for index, h, r in self.indexes.values():
            names, texts = _index_key(index, h, r, values)
            if texts is not None:  # else a None field: the item stays out of this index
                item.update((n, {"S": t}) for n, t in zip(names, texts, strict=True))
        item[self.type_attribute] = self.type_value

    def key(self, values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(values, Mapping):
            raise ValidationError(
                f"{self.cls.__qualname__} is an entity: its key is a mapping of the fields of "
                f"its key templates ({', '.join(self.key_fields) or 'none'}), got "
                f"{values!r:.60}",
                model=self.cls,
            )
        missing = [f for f in self.key_fields if f not in values]
        extra = [f for f in values if f not in self.key_fields]
        if missing or extra:
            raise ValidationError(
                f"{self.cls.__qualname__}'s key takes {', '.join(self.key_fields) or 'no fields'}"
                + (f"; missing {', '.join(map(repr, missing))}" if missing else "")
                + (f"; not key fields: {', '.join(map(repr, extra))}" if extra else ""),
                model=self.cls,
            )
        return self._table_key(values), dict(values)

    def _table_key(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The table's key attributes made of ``values``."""
        table = self.table
        item = {table.hash_key: {"S": self.hash.render(values)}}
        if self.range is not None and table.range_key is not None:
            item[table.range_key] = {"S": self.range.render(values)}
        return item

    def key_of(self, obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.key({f: getattr(obj, f) for f in self.key_fields})

    def update_keys(
        self,
        key_values: Mapping[str, Any],
        actions: Mapping[str, Any],
        upsert: bool,
        dump: Callable[[str, Any], Any],
    ) -> tuple[dict[str, Any], list[str]]:
        cls = self.cls.__qualname__
        given = dict(actions.get("set") or {})
        removed = {str(p) for p in actions.get("remove") or ()}
        changed = set(given) | removed
        for argument in ("set_if_not_exists", "add", "delete", "append", "prepend"):
            for name in actions.get(argument) or {}:
                if name in self._template_fields:
                    raise ValidationError(
                        f"{cls}: {name!r} is part of a key template, so it changes with set= "
                        f"(or remove=) only, which updates the keys made of it; not {argument}=",
                        model=self.cls,
                        field=str(name),
                    )
        moved = changed & set(self.key_fields)
        if moved:
            raise ValidationError(
                f"{cls}: {sorted(moved)[0]!r} is part of the item's key; an item with another "
                "key is another item: put the new one and delete the old",
                model=self.cls,
                field=sorted(moved)[0],
            )
        known = {**key_values, **{n: None for n in removed}, **given}
        sets: dict[str, Any] = {}
        removes: list[str] = []
        for index_name, (index, h, r) in self.indexes.items():
            fields = _fields_of(h, r)
            if not changed & set(fields):
                continue
            unknown = [f for f in fields if f not in known]
            if unknown:
                raise ValidationError(
                    f"{cls}: the update changes {sorted(changed & set(fields))[0]!r}, part of "
                    f"index {index_name!r}'s key; give {', '.join(map(repr, unknown))} in set= "
                    "too, so the index key can be made",
                    model=self.cls,
                    field=unknown[0],
                )
            names, texts = _index_key(index, h, r, known)
            if texts is None:
                removes += names  # a field set to None: out of the index
                continue
            sets.update((n, {"S": t}) for n, t in zip(names, texts, strict=True))
        if upsert:  # the update may create the item: everything put() would store
            sets[self.type_attribute] = self.type_value
            for name in self.key_fields:
                sets.update(dump(name, key_values[name]))
        return sets, removes

    def is_type(self, item: Mapping[str, Any]) -> bool:
        return item.get(self.type_attribute) == self.type_value


def _index_key(
    index: IndexInfo, h: Template, r: Template | None, values: Mapping[str, Any]
) -> tuple[list[str], list[str] | None]:
    """The stored names of the index key attributes an entity writes (of a local index, its
    range key only) and their texts made of ``values``; None when a field of the index's
    templates is None, so the item stays out of the (sparse) index."""
    hash_text = h.render(values)
    range_text = r.render(values) if r is not None else ""
    names: list[str] = []
    texts: list[str] = []
    if index.kind == "global":
        names.append(index.hash_key.stored_name)
        texts.append(hash_text or "")
    if r is not None and index.range_key is not None:
        names.append(index.range_key.stored_name)
        texts.append(range_text or "")
    return names, None if hash_text is None or range_text is None else texts


def _fields_of(*templates: Template | None) -> tuple[str, ...]:
    return tuple(f for t in templates if t is not None for f in t.fields)


def _index_keys(index: GlobalIndex | LocalIndex) -> tuple[str | None, ...]:
    if isinstance(index, GlobalIndex):
        return (index.hash_key, index.range_key)
    if isinstance(index, LocalIndex):
        return (index.range_key,)
    raise ModelError(f"indexes take GlobalIndex or LocalIndex, got {index!r}")
